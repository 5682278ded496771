#!/bin/sh
# The specs that drive cfs.core under valgrind's memcheck (`make
# valgrind`), as TAP lines: no memory error and no definite or indirect
# leak. Valgrind exits 99 when it saw one.
set -u
cd "$(dirname "$0")/../.." || exit 2
LOG=${TMPDIR:-/tmp}/cfs-valgrind.$$.log
trap 'rm -f "$LOG"' EXIT

make -s valgrind BUSTED_OUTPUT=TAP >"$LOG" 2>&1
rc=$?
passed=$(grep -c '^ok ' "$LOG")
failed=$(grep -c '^not ok ' "$LOG")

if [ "$rc" -eq 99 ] || grep -q '^==[0-9]*== ' "$LOG"; then
  echo "not ok 1 - valgrind: no memory error or leak in cfs.core's specs"
  grep '^==[0-9]*== ' "$LOG" | head -n 60 | sed 's/^/# /'
else
  echo "ok 1 - valgrind: no memory error or leak in cfs.core's specs"
fi

if [ "$failed" -gt 0 ] || [ "$passed" -eq 0 ]; then
  echo "not ok 2 - valgrind: specs pass under memcheck" \
    "($passed passed, $failed failed)"
  grep -E '^not ok ' "$LOG" | head -n 20 | sed 's/^/# /'
  tail -n 5 "$LOG" | sed 's/^/# /'
else
  echo "ok 2 - valgrind: specs pass under memcheck ($passed specs)"
fi
