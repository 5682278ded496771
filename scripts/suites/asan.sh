#!/bin/sh
# The whole Lua 5.4 suite on a cfs.core built with ASan and UBSan
# (`make asan`), as TAP lines. A sanitizer report fails it whatever the
# specs said; a spec that fails only under the sanitizers fails it too.
set -u
cd "$(dirname "$0")/../.." || exit 2
LOG=${TMPDIR:-/tmp}/cfs-asan.$$.log
trap 'rm -f "$LOG"' EXIT

if ! make -s build/asan/cfs/core.so build/asan/unpreload.so >"$LOG" 2>&1
then
  echo "not ok 1 - asan: build cfs.core with -fsanitize=address,undefined"
  sed 's/^/# /' "$LOG" | tail -n 20
  exit 0
fi
echo "ok 1 - asan: build cfs.core with -fsanitize=address,undefined"

make -s asan BUSTED_OUTPUT=TAP >"$LOG" 2>&1
passed=$(grep -c '^ok ' "$LOG")
failed=$(grep -c '^not ok ' "$LOG")

# ASan, LeakSanitizer and UBSan all print one of these first.
reports=$(grep -E 'ERROR: (Address|Leak)Sanitizer|runtime error:|^SUMMARY: ' \
  "$LOG")
if [ -n "$reports" ]; then
  echo "not ok 2 - asan: no sanitizer report in the whole suite"
  echo "$reports" | head -n 20 | sed 's/^/# /'
  grep -E '^    #[0-9]+ ' "$LOG" | head -n 40 | sed 's/^/# /'
else
  echo "ok 2 - asan: no sanitizer report in the whole suite"
fi

if [ "$failed" -gt 0 ] || [ "$passed" -eq 0 ]; then
  echo "not ok 3 - asan: whole suite ($passed passed, $failed failed)"
  grep -E '^not ok ' "$LOG" | head -n 20 | sed 's/^/# /'
  tail -n 5 "$LOG" | sed 's/^/# /'
else
  echo "ok 3 - asan: whole suite ($passed specs passed)"
fi
