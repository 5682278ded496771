/*
 * The few Lua C API differences between Lua 5.1/LuaJIT and Lua 5.3/5.4
 * that cfs.core meets. Everything else is written against the common API.
 */
#ifndef CFS_COMPAT_H
#define CFS_COMPAT_H

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#if LUA_VERSION_NUM == 501

#define lua_rawlen(L, i) lua_objlen((L), (i))

/* LuaJIT 2.1 ships these three; plain Lua 5.1 does not. */
#ifndef LUA_JITLIBNAME
void cfs_compat_setfuncs(lua_State *L, const luaL_Reg *l, int nup);
void *cfs_compat_testudata(lua_State *L, int ud, const char *tname);
#define luaL_setfuncs cfs_compat_setfuncs
#define luaL_testudata cfs_compat_testudata
#define luaL_setmetatable(L, t) \
	(luaL_getmetatable((L), (t)), lua_setmetatable((L), -2))
#define luaL_newlib(L, l) \
	(lua_createtable((L), 0, sizeof(l) / sizeof((l)[0]) - 1), \
	 luaL_setfuncs((L), (l), 0))
#endif

#endif /* LUA_VERSION_NUM == 501 */

/* One user value per userdata: 5.4 counts them, 5.3 has one, 5.1 an env. */
#if LUA_VERSION_NUM >= 504
#define cfs_newuserdata(L, size) lua_newuserdatauv((L), (size), 1)
#define cfs_getuservalue(L, i) lua_getiuservalue((L), (i), 1)
#define cfs_setuservalue(L, i) lua_setiuservalue((L), (i), 1)
#elif LUA_VERSION_NUM == 503
#define cfs_newuserdata(L, size) lua_newuserdata((L), (size))
#define cfs_getuservalue(L, i) lua_getuservalue((L), (i))
#define cfs_setuservalue(L, i) lua_setuservalue((L), (i))
#else
#define cfs_newuserdata(L, size) lua_newuserdata((L), (size))
#define cfs_getuservalue(L, i) lua_getfenv((L), (i))
#define cfs_setuservalue(L, i) lua_setfenv((L), (i))
#endif

/* An integer argument: Lua 5.3+ keeps integers exact, 5.1 has doubles. */
#if LUA_VERSION_NUM >= 503
#define cfs_isinteger(L, i) lua_isinteger((L), (i))
#else
int cfs_isinteger(lua_State *L, int i);
#endif

#endif
