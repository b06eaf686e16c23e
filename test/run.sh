#!/bin/sh
# `npm test`: the type check of sources and tests runs beside vitest (which builds dist/, then runs every test), so
# that the two share the machine's cores; both must pass. Arguments go to vitest.
# The tests' workspaces (temporary folders: stores, journals, locks) go in memory where the machine has it, unless
# TMPDIR says otherwise: every commit of a store is fsynced, and on a virtual disk that cost the suite a tenth of its
# time. The code under test is the same; the folder is removed when the run ends.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
  TMPDIR=$(mktemp -d /dev/shm/irbot-test-XXXXXX) && export TMPDIR && trap 'rm -rf "$TMPDIR"' EXIT
fi
# On one thread: it runs beside vitest, which keeps both cores busy, and its own threads only added CPU (3.7 s of
# CPU against 4.8 s, measured).
node_modules/.bin/tsc --noEmit --singleThreaded &
typecheck=$!
node_modules/.bin/vitest run "$@"
tests=$?
wait "$typecheck"
types=$?
[ "$types" -eq 0 ] || echo "npm test: the type check failed (tsc --noEmit, above)" >&2
[ "$tests" -eq 0 ] && [ "$types" -eq 0 ]
