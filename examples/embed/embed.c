/*
 * Making a lua_State that has lua-cfs with no shared object looked up at
 * run time: cfs.core (the C of src/) and lua-cjson are linked into the
 * program and registered in package.preload; only Lua files come from
 * disk.
 */
#include "embed.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <string.h>

/* Neither library ships a header for its opener that every build can
 * count on (lua-cjson's is in lua-cjson-dev only), so declare them. */
int luaopen_cfs_core(lua_State *L);
int luaopen_cjson(lua_State *L);


static int setup(lua_State *L)
{
	const char *lua_dir = lua_touserdata(L, 1);

	luaL_openlibs(L);

	luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
	lua_pushcfunction(L, luaopen_cfs_core);
	lua_setfield(L, -2, "cfs.core");
	/* cfs.core asks the global `require` for "cjson" to make its own
	 * private instance; this is where that finds it. */
	lua_pushcfunction(L, luaopen_cjson);
	lua_setfield(L, -2, "cjson");
	lua_pop(L, 1);

	lua_getglobal(L, "package");
	lua_pushfstring(L, "%s/?.lua;%s/?/init.lua", lua_dir, lua_dir);
	lua_setfield(L, -2, "path");
	/* Whatever LUA_CPATH says, nothing native is loaded from disk. */
	lua_pushliteral(L, "");
	lua_setfield(L, -2, "cpath");
	lua_pop(L, 1);
	return 0;
}

lua_State *embed_open(const char *lua_dir)
{
	lua_State *L = luaL_newstate();

	if (L == NULL)
		return NULL;
	lua_pushcfunction(L, setup);
	lua_pushlightuserdata(L, (void *)lua_dir);
	if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
		lua_close(L);
		return NULL;
	}
	return L;
}


static long fail(lua_State *L, char *err, size_t err_size)
{
	const char *message = lua_tostring(L, -1);

	snprintf(err, err_size, "%s", message ? message : "(no message)");
	lua_settop(L, 0);
	return -1;
}

long embed_run_worker(lua_State *L, const char *script, long index,
		      long calls, char *err, size_t err_size)
{
	long done;

	if (luaL_loadfile(L, script) != LUA_OK ||
	    lua_pcall(L, 0, 1, 0) != LUA_OK)
		return fail(L, err, err_size);
	if (!lua_isfunction(L, -1)) {
		lua_pushfstring(L, "%s must return a function", script);
		return fail(L, err, err_size);
	}
	lua_pushinteger(L, index);
	lua_pushinteger(L, calls);
	if (lua_pcall(L, 2, 2, 0) != LUA_OK)
		return fail(L, err, err_size);
	if (!lua_isinteger(L, -2)) {
		lua_pushfstring(L, "%s: the worker returned no count", script);
		return fail(L, err, err_size);
	}
	done = (long)lua_tointeger(L, -2);
	/* The worker's second value: its first failure, if any. */
	snprintf(err, err_size, "%s",
		 lua_isstring(L, -1) ? lua_tostring(L, -1) : "");
	lua_settop(L, 0);
	return done;
}
