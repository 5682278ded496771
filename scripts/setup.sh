#!/bin/sh
# Installs what lua-cfs needs on Debian (run as root); does nothing when
# everything is already there. Used by scripts/demo.sh and scripts/test.sh.
set -eu

PACKAGES="gcc make pkg-config openssl ca-certificates curl
  lua5.4 liblua5.4-dev luajit2 libluajit2-5.1-dev
  lua-cjson lua-cjson-dev lua-busted lua-socket lua-sec luarocks lua-check
  libcurl4-openssl-dev libssl-dev
  nginx-light libnginx-mod-http-lua
  nodejs valgrind clang libclang-rt-14-dev clang-format wrk
  tmux lua-ldoc"

# test.sh needs everything; demo.sh only what runs the example.
if [ "${1:-}" = "--demo" ]; then
  PACKAGES="gcc make pkg-config openssl ca-certificates
    lua5.4 liblua5.4-dev lua-cjson lua-socket
    libcurl4-openssl-dev libssl-dev nginx-light libnginx-mod-http-lua"
fi

missing=""
for p in $PACKAGES; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case "$status" in
    *"install ok installed"*) ;;
    *) missing="$missing $p" ;;
  esac
done

# Some machines carry a Node.js that bundles npm; Debian's needs the package.
if [ "${1:-}" != "--demo" ] && ! command -v npm >/dev/null 2>&1; then
  missing="$missing npm"
fi

if [ -n "$missing" ]; then
  echo "setup: installing$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  # shellcheck disable=SC2086
  apt-get install -y -q --no-install-recommends $missing >&2
fi

# Debian starts a system nginx on install; the project never uses it.
if [ -n "$missing" ] && [ -x /usr/sbin/nginx ]; then
  /usr/sbin/nginx -s quit >/dev/null 2>&1 || true
fi
