#!/bin/sh
# Runs one example against an emulator of its own: builds cfs.core,
# starts the emulator in a temporary directory, runs examples/NAME.lua
# with the emulator's endpoint and keys in the environment, stops it.
#   sh examples/run.sh lifecycle [lua5.4|luajit]
# Extra arguments after the interpreter go to the example. Needs what
# `sh scripts/setup.sh --demo` installs.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

NAME=${1:?usage: sh examples/run.sh NAME [lua5.4|luajit] [args...]}
LUA=${2:-lua5.4}
shift
[ $# -gt 0 ] && shift
EXAMPLE="examples/${NAME%.lua}.lua"
[ -f "$EXAMPLE" ] || { echo "run.sh: no $EXAMPLE" >&2; exit 2; }

case "$LUA" in
  luajit) BUILD=jit ;;
  *) BUILD=5.4 ;;
esac
make -s "build/$BUILD/cfs/core.so" >&2

WORK=$(mktemp -d -t cfs-example.XXXXXX)
trap 'bin/cfs-emulator stop --dir "$WORK" >/dev/null 2>&1; rm -rf "$WORK"' \
  EXIT INT TERM
bin/cfs-emulator start --dir "$WORK" > "$WORK/emulator.env"

value() { sed -n "s/^$1=//p" "$WORK/emulator.env"; }
echo "emulator: $(value endpoint)" >&2

export LUA_PATH="$ROOT/lua/?.lua;$ROOT/lua/?/init.lua;;"
export LUA_CPATH="$ROOT/build/$BUILD/?.so;;"
# Both conventions: the names the emulator prints and the library's own.
endpoint=$(value endpoint) ca_file=$(value ca_file) \
secret_id=$(value secret_id) secret_key=$(value secret_key) \
CFS_ENDPOINT=$(value endpoint) CFS_CA_FILE=$(value ca_file) \
TENCENTCLOUD_SECRET_ID=$(value secret_id) \
TENCENTCLOUD_SECRET_KEY=$(value secret_key) \
TENCENTCLOUD_REGION=ap-guangzhou \
  "$LUA" "$EXAMPLE" "$@"
