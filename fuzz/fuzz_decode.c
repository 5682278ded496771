/*
 * cfs.core.decode(status, body) over any status and any bytes.
 * Invariants: it never raises; it returns either one table (the Response,
 * with a string RequestId and no Error) or nil, a string code, a string
 * message, and a string or nil request id; the code is InvalidResponse
 * unless the answer carried Response.Error.Code, which it then equals.
 *
 * Input: byte 0 picks the status (mostly 200, which is where the JSON
 * parsing happens), the rest is the body.
 */
#include "fuzz_lua.h"

#include <stddef.h>
#include <stdint.h>

static const char CHECK[] =
	"local decode, cjson = core.decode, require 'cjson'.new()\n"
	"cjson.decode_invalid_numbers(false)\n"
	"cjson.decode_max_depth(64)\n"
	"return function(status, body)\n"
	"  local out = table.pack(decode(status, body))\n"
	"  local n, r, code, message, id = out.n, out[1], out[2], out[3],\n"
	"    out[4]\n"
	"  if r ~= nil then\n"
	"    assert(n == 1 and type(r) == 'table', 'success shape')\n"
	"    assert(type(r.RequestId) == 'string', 'success RequestId')\n"
	"    assert(r.Error == nil, 'success with an Error')\n"
	"    assert(status == 200, 'success off 200')\n"
	"    return\n"
	"  end\n"
	"  assert(n == 4, 'error arity')\n"
	"  assert(type(code) == 'string' and type(message) == 'string',\n"
	"         'error types')\n"
	"  assert(id == nil or type(id) == 'string', 'request id type')\n"
	"  if code == 'InvalidResponse' then return end\n"
	"  assert(status == 200, 'API error off 200')\n"
	"  local ok, t = pcall(cjson.decode, body)\n"
	"  assert(ok and type(t) == 'table' and type(t.Response) == 'table'\n"
	"    and type(t.Response.Error) == 'table'\n"
	"    and t.Response.Error.Code == code, 'API error code')\n"
	"end\n";

static lua_State *L;
static int check_ref;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	L = fuzz_lua_state();
	if (luaL_loadstring(L, CHECK) != 0 || lua_pcall(L, 0, 1, 0) != 0)
		fuzz_die(L, "check chunk");
	check_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	return 0;
}

static int status_of(uint8_t b)
{
	static const int others[] = { 0, 100, 204, 301, 400, 404, 413, 429,
				      500, 502, 503, 599, 999, -1 };

	if (b < 0xE0)
		return 200;
	return others[(b - 0xE0) % (sizeof(others) / sizeof(others[0]))];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int top = lua_gettop(L);

	if (size == 0)
		return 0;
	lua_rawgeti(L, LUA_REGISTRYINDEX, check_ref);
	lua_pushinteger(L, status_of(data[0]));
	lua_pushlstring(L, (const char *)data + 1, size - 1);
	if (lua_pcall(L, 2, 0, 0) != 0)
		fuzz_die(L, "decode invariant");
	lua_settop(L, top);
	return 0;
}
