#!/bin/sh
# Lint: luacheck over the Lua (.luacheckrc) and clang-format over src/
# (.clang-format). Prints one TAP line per check; the tools' complaints
# go to stderr.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 2

n=0
tap() { # STATUS NAME: STATUS is 0 for ok
  n=$((n + 1))
  if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi
}

luacheck --no-color -q lua bin spec bench examples >&2
tap $? luacheck

clang-format --dry-run --Werror src/*.c src/*.h >&2
tap $? clang-format
