#!/bin/sh
# `npm test`: the type check of sources and tests runs beside vitest (which builds dist/, then runs every test), so
# that the two share the machine's cores; both must pass. Arguments go to vitest.
node_modules/.bin/tsc --noEmit &
typecheck=$!
node_modules/.bin/vitest run "$@"
tests=$?
wait "$typecheck"
types=$?
[ "$types" -eq 0 ] || echo "npm test: the type check failed (tsc --noEmit, above)" >&2
[ "$tests" -eq 0 ] && [ "$types" -eq 0 ]
