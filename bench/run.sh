#!/bin/sh
# Runs every bench from the tree and prints their figures (no bench
# asserts anything). Builds cfs.core first.
#   sh bench/run.sh [lua5.4|luajit]
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
LUA=${1:-lua5.4}
make -s all >&2 || exit 1

case "$LUA" in
  luajit) CPATH="$ROOT/build/jit/?.so;;" ;;
  *) CPATH="$ROOT/build/5.4/?.so;;" ;;
esac
export LUA_PATH="$ROOT/lua/?.lua;$ROOT/lua/?/init.lua;;"
export LUA_CPATH="$CPATH"

status=0
for bench in bench/*.lua; do
  case "$bench" in
    bench/common.lua) continue ;;
  esac
  echo "== $bench" >&2
  "$LUA" "$bench" || status=1
done
if command -v wrk >/dev/null 2>&1; then
  echo "== bench/emulator.sh" >&2
  sh bench/emulator.sh || status=1
fi
exit $status
