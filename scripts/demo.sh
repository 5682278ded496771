#!/bin/sh
# The demo: installs what it needs, builds cfs.core, starts the emulator,
# runs examples/create_data_flow.lua against it, and stops the emulator.
#   sh scripts/demo.sh
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

sh scripts/setup.sh --demo
make -s build/5.4/cfs/core.so >&2

WORK=$(mktemp -d -t cfs-demo.XXXXXX)
trap 'bin/cfs-emulator stop --dir "$WORK" >/dev/null 2>&1; rm -rf "$WORK"' \
  EXIT INT TERM
bin/cfs-emulator start --dir "$WORK" > "$WORK/emulator.env"

value() { sed -n "s/^$1=//p" "$WORK/emulator.env"; }
echo "emulator: $(value endpoint)"

export LUA_PATH="$ROOT/lua/?.lua;$ROOT/lua/?/init.lua;;"
export LUA_CPATH="$ROOT/build/5.4/?.so;;"
TENCENTCLOUD_SECRET_ID=$(value secret_id) \
TENCENTCLOUD_SECRET_KEY=$(value secret_key) \
TENCENTCLOUD_REGION=ap-guangzhou \
CFS_ENDPOINT=$(value endpoint) \
CFS_CA_FILE=$(value ca_file) \
  lua5.4 examples/create_data_flow.lua
