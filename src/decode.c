/*
 * Answers: an HTTP status and body become the Response table, or the parts
 * of an error. JSON parsing is lua-cjson's, through a private instance
 * (upvalue 1: its decode function) so that the user's cjson settings are
 * never ours and ours never theirs.
 *
 * decode(status, body) -> response | nil, code, message, request_id
 */
#include "core.h"

#include <stdio.h>
#include <string.h>

#define INVALID "InvalidResponse"


static int invalid(lua_State *L, const char *message, int request_id)
{
	lua_pushnil(L);
	lua_pushstring(L, INVALID);
	lua_pushstring(L, message);
	if (request_id)
		lua_pushvalue(L, request_id);
	else
		lua_pushnil(L);
	return 4;
}


/* Response.Error: the service's own code and message. */
static int api_error(lua_State *L, int error, int request_id)
{
	lua_getfield(L, error, "Code");
	lua_getfield(L, error, "Message");
	if (lua_type(L, -2) != LUA_TSTRING)
		return invalid(L, "answer has an Error without a Code",
			       request_id);
	lua_pushnil(L);
	lua_insert(L, -3);
	if (lua_type(L, -1) != LUA_TSTRING) {
		lua_pop(L, 1);
		lua_pushliteral(L, "");
	}
	if (request_id)
		lua_pushvalue(L, request_id);
	else
		lua_pushnil(L);
	return 4;
}


/*
 * lua-cjson 2.1 gives every JSON number as a float. Lua 5.3 and later tell
 * integers apart, and a count or a size read back as 4.0 surprises: whole
 * numbers that fit an integer become integers. Depth is bounded by the
 * decoder's own limit.
 */
static void integers(lua_State *L, int t, int depth)
{
#if LUA_VERSION_NUM >= 503
	if (depth > 64)
		return;
	luaL_checkstack(L, 4, "cfs.core: decoding");
	lua_pushnil(L);
	while (lua_next(L, t) != 0) {
		int type = lua_type(L, -1);

		if (type == LUA_TNUMBER && !lua_isinteger(L, -1)) {
			lua_Number n = lua_tonumber(L, -1);
			lua_Integer i;

			if (lua_numbertointeger(n, &i) && (lua_Number)i == n) {
				lua_pushvalue(L, -2);
				lua_pushinteger(L, i);
				lua_rawset(L, t);
			}
		} else if (type == LUA_TTABLE) {
			integers(L, lua_gettop(L), depth + 1);
		}
		lua_pop(L, 1);
	}
#else
	(void)L, (void)t, (void)depth;
#endif
}


int cfs_l_decode(lua_State *L)
{
	lua_Integer status = luaL_checkinteger(L, 1);
	size_t len, bad;
	const char *body = luaL_checklstring(L, 2, &len);
	char message[160];
	int response, request_id;

	if (status != 200) {
		snprintf(message, sizeof(message),
			 "HTTP status %d from the "
			 "service, not an API answer (%zu bytes)",
			 (int)status, len);
		return invalid(L, message, 0);
	}
	if (len == 0)
		return invalid(L, "empty answer", 0);
	if (!cfs_utf8_valid(body, len, &bad)) {
		snprintf(message, sizeof(message),
			 "answer is not valid UTF-8 (byte %zu)", bad + 1);
		return invalid(L, message, 0);
	}

	lua_settop(L, 2);
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_pushvalue(L, 2);
	if (lua_pcall(L, 1, 1, 0) != 0) {
		snprintf(message, sizeof(message), "answer is not JSON: %s",
			 lua_tostring(L, -1) ? lua_tostring(L, -1) : "?");
		return invalid(L, message, 0);
	}
	if (lua_type(L, 3) != LUA_TTABLE)
		return invalid(L, "answer is not a JSON object", 0);
	lua_getfield(L, 3, "Response");
	response = lua_gettop(L);
	if (lua_type(L, response) != LUA_TTABLE)
		return invalid(L, "answer has no Response object", 0);

	lua_getfield(L, response, "RequestId");
	request_id = lua_type(L, -1) == LUA_TSTRING ? lua_gettop(L) : 0;
	lua_getfield(L, response, "Error");
	if (lua_type(L, -1) == LUA_TTABLE)
		return api_error(L, lua_gettop(L), request_id);
	if (!lua_isnil(L, -1))
		return invalid(L, "answer has an Error that is not an object",
			       request_id);
	if (!request_id)
		return invalid(L, "answer has no RequestId", 0);
	integers(L, response, 0);
	lua_pushvalue(L, response);
	return 1;
}
