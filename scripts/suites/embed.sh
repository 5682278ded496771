#!/bin/sh
# lua-cfs embedded in a C host (examples/embed): builds the host and its
# ThreadSanitizer twin, starts an emulator, and prints one TAP line per
# check: a data flow made from C, 8 threads with a lua_State each, the
# same under TSan, no signal handlers and no output from the library
# (with SIGPIPE deadly), no leak over 100 states under valgrind.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 2
EMBED=examples/embed
HOST=build/embed/host
THREADS=8
CALLS=200
STATES=100

WORK=$(mktemp -d -t cfs-embed.XXXXXX)
cleanup() {
  bin/cfs-emulator stop --dir "$WORK/emulator" >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

n=0
tap() { # STATUS NAME: STATUS is 0 for ok
  n=$((n + 1))
  if [ "$1" -eq 0 ]; then echo "ok $n - embed: $2"
  else echo "not ok $n - embed: $2"; fi
}

# Shows a failed check's output on stderr, as TAP diagnostics.
show() {
  for f in "$@"; do sed 's/^/# /' "$f" | tail -n 40 >&2; done
}

# admin METHOD PATH [JSON]: the emulator's admin endpoint (luasocket).
admin() {
  lua5.4 - "$admin_endpoint" "$@" <<'LUA'
local http, ltn12 = require "socket.http", require "ltn12"
local base, method, path, body = arg[1], arg[2], arg[3], arg[4]
local out = {}
local ok, code = http.request {
  url = base .. path, method = method, sink = ltn12.sink.table(out),
  source = body and ltn12.source.string(body),
  headers = body and { ["content-type"] = "application/json",
                       ["content-length"] = #body } or nil,
}
io.write(table.concat(out), "\n")
os.exit(ok ~= nil and code == 200)
LUA
}

fail_all() {
  for name in create threads tsan quiet valgrind; do
    tap 1 "$name ($1)"
  done
  exit 1
}

make -s -C "$EMBED" >&2 || fail_all "build failed"
mkdir -p "$WORK/emulator"
bin/cfs-emulator start --dir "$WORK/emulator" > "$WORK/emulator.out" ||
  { show "$WORK/emulator.out"; fail_all "emulator did not start"; }

# Only the names the worker scripts read, not the file's dir= or pid=.
value() { sed -n "s/^$1=//p" "$WORK/emulator.out"; }
endpoint=$(value endpoint) ca_file=$(value ca_file)
secret_id=$(value secret_id) secret_key=$(value secret_key)
admin_endpoint=$(value admin_endpoint)
export endpoint ca_file secret_id secret_key


# 1. A data flow made from the C host; the emulator must hold it.
"$HOST" run "$EMBED/create.lua" > "$WORK/create.out" 2>&1
id=$(sed -n 's/^DataFlowId=//p' "$WORK/create.out")
status=1
if [ -n "$id" ] && admin GET /flows | grep -q "\"DataFlowId\":\"$id\""; then
  status=0
else
  show "$WORK/create.out"
fi
tap $status "create prints the DataFlowId the emulator holds"

# 2. Threads, a lua_State and a client each; no pacing, no retries.
admin PUT /settings '{"rate_limit":0}' >/dev/null
want="threads=$THREADS calls=$((THREADS * CALLS)) ok=$((THREADS * CALLS))"
"$HOST" threads $THREADS $CALLS "$EMBED/work.lua" > "$WORK/threads.out" \
  2> "$WORK/threads.err"
status=$?
[ $status -eq 0 ] && grep -qx "$want" "$WORK/threads.out" || {
  status=1; show "$WORK/threads.out" "$WORK/threads.err"; }
tap $status "$THREADS threads x $CALLS DescribeDataFlow, each one succeeds"

# 3. The same under ThreadSanitizer: any report at all fails.
TSAN_OPTIONS="suppressions=$ROOT/$EMBED/tsan.supp halt_on_error=0 \
exitcode=66" build/embed/host-tsan threads $THREADS $CALLS \
  "$EMBED/work.lua" > "$WORK/tsan.out" 2> "$WORK/tsan.err"
status=$?
if [ $status -ne 0 ] || ! grep -qx "$want" "$WORK/tsan.out" ||
    grep -q ThreadSanitizer "$WORK/tsan.err"; then
  status=1; show "$WORK/tsan.out" "$WORK/tsan.err"
fi
tap $status "ThreadSanitizer reports nothing over $THREADS threads"

# 4. Connections the emulator closes, SIGPIPE left deadly: the host must
# live, find its signal dispositions unchanged, and capture no output.
# The faults quiet.lua expects, in its order.
admin DELETE /faults >/dev/null
for fault in '"close_before","count":1,"action":"DescribeDataFlow"' \
    '"close_after","count":1,"action":"DescribeDataFlow"' \
    '"close_before","count":8,"action":"CreateDataFlow"'; do
  admin POST /faults "{\"kind\":$fault}" >/dev/null
done
"$HOST" quiet "$EMBED/quiet.lua" > "$WORK/quiet.out" 2> "$WORK/quiet.err"
status=$?
if [ $status -ne 0 ] || [ -s "$WORK/quiet.err" ] ||
    grep -qv '^host: ' "$WORK/quiet.out" ||
    ! grep -qx 'host: library output bytes=0' "$WORK/quiet.out" ||
    ! grep -qx 'host: signals changed=0' "$WORK/quiet.out"; then
  [ $status -gt 128 ] && echo "# killed by signal $((status - 128))" >&2
  status=1; show "$WORK/quiet.out" "$WORK/quiet.err"
fi
tap $status "closed connections: no SIGPIPE death, no handler, no output"
sed 's/^/# /' "$WORK/quiet.out" >&2
admin DELETE /faults >/dev/null

# 5. States opened and closed in a loop under valgrind: nothing lost.
if command -v valgrind >/dev/null 2>&1; then
  valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
    --error-exitcode=99 --suppressions="$EMBED/valgrind.supp" \
    "$HOST" states $STATES "$EMBED/work.lua" > "$WORK/valgrind.out" \
    2> "$WORK/valgrind.err"
  status=$?
  if [ $status -ne 0 ] ||
      ! grep -qx "states=$STATES ok=$STATES" "$WORK/valgrind.out"; then
    status=1; show "$WORK/valgrind.out" "$WORK/valgrind.err"
  fi
  tap $status "valgrind: $STATES states, no definite or indirect loss"
else
  n=$((n + 1)); echo "ok $n - embed: valgrind # SKIP valgrind not installed"
fi
