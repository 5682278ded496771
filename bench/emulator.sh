#!/bin/sh
# Signed CreateDataFlow requests per second that ONE emulator worker
# verifies and answers (plain HTTP, keep-alive, rate limit off).
# nginx is pinned to CPU 0 and wrk to CPU 1. Also prints the worker's CPU
# time per request, a figure that shared machines disturb less.
#   bench/emulator.sh [seconds] [connections]
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECONDS_=${1:-5}
CONNECTIONS=${2:-16}
WORK=$(mktemp -d -t cfs-emulator-bench.XXXXXX)
export LUA_PATH="$ROOT/lua/?.lua;$ROOT/lua/?/init.lua;$ROOT/?.lua;;"
export LUA_CPATH="$ROOT/build/5.4/?.so;;"

cleanup() {
  "$ROOT/bin/cfs-emulator" stop --dir "$WORK/em" >&2 || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# Room for every flow the bench makes: a big dict, no per-fs limit.
lua5.4 - "$ROOT" "$WORK/config.json" <<'LUA'
local cjson = require("cjson")
local f = io.open(arg[1] .. "/lua/cfs/emulator/default.json")
local config = cjson.decode(f:read("a"))
f:close()
config.state_size = "1024m"
config.data_flow_limit = 1000000000
config.rate_limit = 0
f = io.open(arg[2], "w")
f:write(cjson.encode(config))
f:close()
LUA

"$ROOT/bin/cfs-emulator" start --dir "$WORK/em" --workers 1 \
  --config "$WORK/config.json" > "$WORK/em.env"
HTTP=$(sed -n 's/^http_endpoint=//p' "$WORK/em.env")
ADMIN=$(sed -n 's/^admin_endpoint=//p' "$WORK/em.env")
MASTER=$(cat "$WORK/em/nginx.pid")
for pid in $MASTER $(pgrep -P "$MASTER"); do
  taskset -a -p -c 0 "$pid" >/dev/null
done

# One request, signed now: the emulator accepts it for 300 s.
lua5.4 - "$WORK/em.env" "$WORK/request.lua" <<'LUA'
local emulator = require("spec.helpers.emulator")
local env = {}
for name, value in io.open(arg[1]):read("a"):gmatch("([%w_]+)=([^\n]*)") do
  env[name] = value
end
local body = '{"FileSystemId":"cfs-44d53b63e","SourceStorageType":"S3_COS",'
  .. '"SourceStorageAddress":"https://aileen-data-flow-1251000004.cos.'
  .. 'ap-guangzhou.myqcloud.com","SourcePath":"test3","TargetPath":'
  .. '"/cfs/test11","SecretId":"AKIDEXAMPLEEXAMPLE","SecretKey":'
  .. '"exampleSecretKeyValue","DataFlowName":"abctest"}'
local list = {
  { "Host", "cfs.tencentcloudapi.com" }, { "Content-Type", "application/json" },
  { "X-TC-Action", "CreateDataFlow" }, { "X-TC-Version", "2019-07-19" },
  { "X-TC-Region", "ap-guangzhou" } }
local ts = os.time()
list[#list + 1] = { "X-TC-Timestamp", tostring(ts) }
list[#list + 1] = { "Authorization", emulator.sign({
  secret_id = env.secret_id, secret_key = env.secret_key, timestamp = ts,
  service = "cfs", host = "cfs.tencentcloudapi.com",
  content_type = "application/json", body = body }) }
local out = { "wrk.method = 'POST'", string.format("wrk.body = %q", body),
              "wrk.headers = {}" }
for _, pair in ipairs(list) do
  out[#out + 1] = string.format("wrk.headers[%q] = %q", pair[1], pair[2])
end
io.open(arg[2], "w"):write(table.concat(out, "\n"), "\n")
LUA

# The worker's CPU time (user + system, in clock ticks) per request: on a
# busy machine this moves less than the rate does.
WORKER=$(pgrep -P "$MASTER")
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$WORKER/stat"; }
TICKS_BEFORE=$(cpu_ticks)
taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_}s" -s "$WORK/request.lua" \
  "$HTTP/" > "$WORK/wrk.out"
TICKS=$(( $(cpu_ticks) - TICKS_BEFORE ))
cat "$WORK/wrk.out" >&2

# Every answer must have been a created flow, not an error.
curl -s "$ADMIN/requests" > "$WORK/requests.json"
CODES=$(grep -o '"code":"[^"]*"' "$WORK/requests.json")
BAD=$(echo "$CODES" | grep -vc '"code":"Success"' || true)
if [ "$BAD" != "0" ]; then
  echo "emulator answered errors during the bench:" >&2
  echo "$CODES" | sort | uniq -c >&2
  exit 1
fi
RATE=$(sed -n 's/^Requests\/sec: *//p' "$WORK/wrk.out")
COUNT=$(sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' "$WORK/wrk.out")
echo "emulator_signed_create_data_flow_per_second=$RATE"
awk -v ticks="$TICKS" -v hz="$(getconf CLK_TCK)" -v n="$COUNT" 'BEGIN {
  printf "emulator_worker_cpu_microseconds_per_request=%.1f\n",
         ticks * 1000000 / hz / n }'
