/*
 * What the Lua-facing fuzz targets share: one lua_State per process with
 * the standard libraries, lua-cjson (linked in, offered to `require`
 * through package.preload) and cfs.core opened as `require` would.
 */
#ifndef CFS_FUZZ_LUA_H
#define CFS_FUZZ_LUA_H

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>

int luaopen_cjson(lua_State *L);
int luaopen_cfs_core(lua_State *L);

/* A broken harness or a broken invariant: either way, a finding. */
static void fuzz_die(lua_State *L, const char *what)
{
	fprintf(stderr, "fuzz: %s: %s\n", what,
		L != NULL && lua_isstring(L, -1) ? lua_tostring(L, -1) : "");
	abort();
}

/* A new state with cfs.core's table left in the global `core`. */
static lua_State *fuzz_lua_state(void)
{
	lua_State *L = luaL_newstate();

	if (L == NULL)
		fuzz_die(NULL, "luaL_newstate");
	luaL_openlibs(L);
	lua_getglobal(L, "package");
	lua_getfield(L, -1, "preload");
	lua_pushcfunction(L, luaopen_cjson);
	lua_setfield(L, -2, "cjson");
	lua_pop(L, 2);
	luaL_requiref(L, "cfs.core", luaopen_cfs_core, 0);
	lua_setglobal(L, "core");
	return L;
}

#endif
