package = "cfs"
version = "0.1.0-1"
source = {
  url = "git+file:///dev/null",
}
description = {
  summary = "Tencent Cloud CFS API client: C core, Lua policy, and an emulator",
  detailed = [[
    A client for the Tencent Cloud CFS (Cloud File Storage) API 2019-07-19,
    starting with data flows: TC3-HMAC-SHA256 signing with OpenSSL, HTTP
    with libcurl, answers decoded with lua-cjson, retries, pacing and
    batches in Lua, and an nginx-based emulator of the API for tests.
  ]],
  license = "MIT",
}
dependencies = {
  "lua >= 5.1",
  "lua-cjson",
}
-- The Makefile builds cfs.core with pkg-config's flags for libcurl (whose
-- header Debian keeps in a multiarch directory) and installs every Lua
-- file of lua/cfs, the emulator's templates and data included.
build = {
  type = "make",
  build_target = "rock",
  build_variables = {
    CFLAGS = "$(CFLAGS)",
    LIBFLAG = "$(LIBFLAG)",
    LUA_INCDIR = "$(LUA_INCDIR)",
  },
  install_target = "install",
  install_variables = {
    LUADIR = "$(LUADIR)",
    LIBDIR = "$(LIBDIR)",
    BINDIR = "$(BINDIR)",
  },
}
