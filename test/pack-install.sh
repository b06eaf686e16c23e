#!/bin/sh
# The package as a user installs it (not part of `npm test`: it fetches the dependencies, about ten seconds):
# `npm pack`, then `npm install -g` of the tarball into a temp prefix, without dev dependencies, and the installed
# `irbot --version` and `irbot sandbox` run from an empty folder. Run: npm run test:package
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$root"
npm pack --silent --pack-destination "$work" >/dev/null # runs prepare, the build
npm install -g --silent --no-audit --no-fund --prefix "$work/prefix" "$work"/irbot-*.tgz
mkdir "$work/empty" && cd "$work/empty"
irbot="$work/prefix/bin/irbot"
version=$("$irbot" --version)
expected=$(node -p "require('$root/package.json').version")
[ "$version" = "$expected" ] || { echo "irbot --version printed '$version', package.json says $expected" >&2; exit 1; }
"$irbot" sandbox pivot </dev/null >"$work/sandbox.out" || { cat "$work/sandbox.out" >&2; exit 1; }
grep -q 'Chat ended: answered' "$work/sandbox.out" || { cat "$work/sandbox.out" >&2; exit 1; }
echo "ok: irbot $version packs, installs with npm install -g and runs its sandbox"
