#!/bin/sh
# Runs every test suite of lua-cfs and ends with one line:
#   N passed, N failed[, N skipped]
# Installs what it needs first (Debian packages, the npm packages of the
# conformance spec). Run from anywhere; as root on a fresh machine.
#   sh scripts/test.sh [--quick]   (--quick: Lua 5.4 suite only)
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
QUICK=${1:-}

sh scripts/setup.sh || { echo "0 passed, 1 failed"; exit 1; }
make -s all >&2 || { echo "0 passed, 1 failed"; exit 1; }

RESULTS=$(mktemp -d -t cfs-test.XXXXXX)
trap 'rm -rf "$RESULTS"' EXIT
export CFS_TEST_RESULTS="$RESULTS"
# A client without keys must never ask the real metadata host from a test.
export CFS_METADATA_URL=off

TREE_PATH="$ROOT/lua/?.lua;$ROOT/lua/?/init.lua;$ROOT/?.lua;;"

# A suite writes TAP into $RESULTS/<name>.tap; its output is shown as is.
busted_suite() {
  name=$1 interpreter=$2 cpath=$3
  shift 3
  echo "== $name" >&2
  LUA_PATH="$TREE_PATH" LUA_CPATH="$cpath" \
    "$interpreter" /usr/bin/busted -o TAP "${@:-spec/}" \
    > "$RESULTS/$name.tap" 2>&1
  grep -E '^(not ok|# )' "$RESULTS/$name.tap" >&2 || true
  tail -n 1 "$RESULTS/$name.tap" >&2
}

if [ -f spec/conformance/package.json ]; then
  (cd spec/conformance && npm install --no-audit --no-fund \
    --no-package-lock --loglevel=error >&2) ||
    echo "not ok 1 - npm install of the conformance spec" \
      > "$RESULTS/npm.tap"
fi

busted_suite lua5.4 lua5.4 "$ROOT/build/5.4/?.so;;"
if [ "$QUICK" != "--quick" ]; then
  busted_suite luajit luajit "$ROOT/build/jit/?.so;;"
  # Lua 5.3 and 5.1: the specs that exercise cfs.core's compatibility layer.
  make -s compat >&2
  for v in 5.3 5.1; do
    busted_suite "lua$v" "lua$v" "$ROOT/build/$v/?.so;;" \
      spec/core_sign_spec.lua spec/core_encode_spec.lua \
      spec/core_decode_spec.lua spec/client_spec.lua spec/validate_spec.lua
  done
  for extra in scripts/suites/*.sh; do
    [ -f "$extra" ] || continue
    name=$(basename "$extra" .sh)
    echo "== $name" >&2
    sh "$extra" > "$RESULTS/$name.tap" 2>&2
    grep -E '^not ok' "$RESULTS/$name.tap" >&2 || true
  done
fi

# Busted marks pending specs "# SKIP"; a file that failed to load is a
# "not ok" too, so nothing slips past the count.
cat "$RESULTS"/*.tap | awk '
  /^ok / { if ($0 ~ /# [Ss][Kk][Ii][Pp]/) skipped++; else passed++ }
  /^not ok / { failed++ }
  END {
    line = sprintf("%d passed, %d failed", passed, failed)
    if (skipped) line = line sprintf(", %d skipped", skipped)
    print line
    exit failed > 0 || passed == 0
  }'
