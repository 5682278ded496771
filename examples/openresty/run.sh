#!/bin/sh
# Runs the OpenResty example against a private emulator, on loopback:
# starts both, creates a data flow through nginx, lists the flows, stops.
#   sh examples/openresty/run.sh      (after `make`)
set -eu
TREE=$(cd "$(dirname "$0")/../.." && pwd)
PREFIX=$(mktemp -d -t cfs-openresty-example.XXXXXX)
mkdir -p "$PREFIX/tmp" "$PREFIX/emulator"

"$TREE/bin/cfs-emulator" start --dir "$PREFIX/emulator" --workers 1 \
  > "$PREFIX/emulator.env"
cleanup() {
  [ -f "$PREFIX/nginx.pid" ] && kill -QUIT "$(cat "$PREFIX/nginx.pid")" || true
  "$TREE/bin/cfs-emulator" stop --dir "$PREFIX/emulator" >/dev/null || true
  rm -rf "$PREFIX"
}
trap cleanup EXIT
value() { sed -n "s/^$1=//p" "$PREFIX/emulator.env"; }

PORT=$(lua5.4 -e 'local s = require("socket").bind("127.0.0.1", 0)
  local _, port = s:getsockname() print(port)')
USER_LINE=""
[ "$(id -u)" = 0 ] && USER_LINE="user $(id -un) $(id -gn);"
{ echo "$USER_LINE"; sed -e "s|@TREE@|$TREE|g" -e "s|@PREFIX@|$PREFIX|g" \
    -e "s|@PORT@|$PORT|g" -e "s|@CA_FILE@|$(value ca_file)|g" \
    "$TREE/examples/openresty/nginx.conf"; } > "$PREFIX/nginx.conf"

# nginx verifies names, not IP addresses: reach the emulator as localhost.
TENCENTCLOUD_SECRET_ID=$(value secret_id) \
TENCENTCLOUD_SECRET_KEY=$(value secret_key) \
TENCENTCLOUD_REGION=ap-guangzhou \
CFS_ENDPOINT="https://localhost:$(value endpoint | sed 's/.*://')" \
  nginx -p "$PREFIX" -c "$PREFIX/nginx.conf" -e "$PREFIX/error.log"
sleep 0.3

BUCKET=https://aileen-data-flow-1251000004.cos.ap-guangzhou.myqcloud.com
curl -sS -X POST "http://127.0.0.1:$PORT/flows" --data "{
  \"FileSystemId\": \"cfs-44d53b63e\", \"SourceStorageType\": \"S3_COS\",
  \"SourceStorageAddress\": \"$BUCKET\", \"SourcePath\": \"data\",
  \"TargetPath\": \"/cfs/data\", \"SecretId\": \"AKIDcosExample\",
  \"SecretKey\": \"cosExampleKey\", \"DataFlowName\": \"example\" }"
curl -sS "http://127.0.0.1:$PORT/flows?fs=cfs-44d53b63e"
