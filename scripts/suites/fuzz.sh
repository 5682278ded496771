#!/bin/sh
# Each libFuzzer target for FUZZ_SECONDS (default 60) from its seed
# corpus in fuzz/corpus/, as TAP lines; a crash or a broken invariant is
# "not ok" with the report's first lines. Found inputs stay in
# build/fuzz/ (crash-*, and the grown corpus).
set -u
cd "$(dirname "$0")/../.." || exit 2
SECONDS_EACH=${FUZZ_SECONDS:-60}
LOG=${TMPDIR:-/tmp}/cfs-fuzz.$$.log
trap 'rm -f "$LOG"' EXIT

if ! make -s fuzz >"$LOG" 2>&1; then
  echo "not ok 1 - fuzz: build the libFuzzer targets with clang"
  tail -n 20 "$LOG" | sed 's/^/# /'
  exit 0
fi
echo "ok 1 - fuzz: build the libFuzzer targets with clang"

n=1
for t in decode encode sign; do
  n=$((n + 1))
  mkdir -p "build/fuzz/corpus/$t"
  # As in the Makefile: Lua's collector would fool the per-input leak
  # check; those targets are checked for leaks at exit only.
  case $t in
    decode|encode) leaks=-detect_leaks=0 ;;
    *) leaks=-detect_leaks=1 ;;
  esac
  "build/fuzz/fuzz_$t" "$leaks" -max_total_time="$SECONDS_EACH" \
    -print_final_stats=1 \
    -artifact_prefix=build/fuzz/ "build/fuzz/corpus/$t" "fuzz/corpus/$t" \
    >"$LOG" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$LOG")
  if [ "$rc" -eq 0 ]; then
    echo "ok $n - fuzz: fuzz_$t for ${SECONDS_EACH} s (${runs:-?} executions)"
  else
    echo "not ok $n - fuzz: fuzz_$t found a failure (exit $rc)"
    grep -E 'fuzz(_sign)?: |ERROR|runtime error|SUMMARY|Test unit' "$LOG" |
      head -n 10 | sed 's/^/# /'
    grep -E '^    #[0-9]+ ' "$LOG" | head -n 15 | sed 's/^/# /'
  fi
done
