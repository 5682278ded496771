/*
 * cfs.core.encode(params, input) over generated Lua values.
 *
 * The input is a little program for a stack machine that builds the
 * params table: strings of random bytes or of chosen UTF-8, integers,
 * doubles from raw bits (NaN, infinities, subnormals) and chosen extremes,
 * booleans, nested tables, arrays and sparse keys, set under the
 * description's field names or others. The description is fixed: every
 * kind, arrays of each, a structure that holds itself (for the depth
 * limit).
 *
 * Invariants: encode never raises; a body is valid UTF-8 with no control
 * byte, lua-cjson decodes it, and what it decodes to equals the params
 * field by field (no field added, none lost); a refusal has a known code
 * and string path and message.
 */
#include "fuzz_lua.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define MAX_STACK 48

static const char SETUP[] =
	"local ITEM = { name = 'Item',\n"
	"  { 'Id', 'int', required = true },\n"
	"  { 'Label', 'string' },\n"
	"  { 'Flags', 'boolean', array = true },\n"
	"  { 'Weight', 'float' },\n"
	"}\n"
	"ITEM[5] = { 'Child', ITEM }\n"
	"ITEM[6] = { 'Children', ITEM, array = true }\n"
	"local FILTER = { name = 'Filter',\n"
	"  { 'Name', 'string', required = true },\n"
	"  { 'Values', 'string', array = true, required = true },\n"
	"}\n"
	"local INPUT = {\n"
	"  { 'Name', 'string', required = true },\n"
	"  { 'Count', 'int' },\n"
	"  { 'Limit', 'uint' },\n"
	"  { 'Ratio', 'float' },\n"
	"  { 'Enabled', 'boolean' },\n"
	"  { 'Tags', 'string', array = true },\n"
	"  { 'Numbers', 'int', array = true },\n"
	"  { 'Ratios', 'float', array = true },\n"
	"  { 'Filters', FILTER, array = true },\n"
	"  { 'Item', ITEM },\n"
	"  { 'SecretKey', 'string' },\n"
	"}\n"
	"local CODES = { InvalidParameter = true, MissingParameter = true,\n"
	"  InvalidParameterValue = true, UnknownParameter = true }\n"
	"local cjson = require 'cjson'.new()\n"
	"cjson.decode_max_depth(1000)\n"
	"local encode, utf8_len, mtype = core.encode, utf8.len, math.type\n"
	"\n"
	"local same_fields\n"
	"local function same_item(v, d, kind, where)\n"
	"  if type(kind) == 'table' then\n"
	"    assert(type(d) == 'table', where .. ': object lost')\n"
	"    return same_fields(v, d, kind, where)\n"
	"  end\n"
	"  if kind == 'int' or kind == 'uint' or kind == 'float' then\n"
	"    -- cjson reads numbers as doubles, and a float field takes a\n"
	"    -- Lua integer as the nearest double: compare through one.\n"
	"    local want = mtype(v) == 'integer' and v + 0.0 or v\n"
	"    assert(d == want, where .. ': number changed')\n"
	"  else\n"
	"    assert(d == v, where .. ': value changed')\n"
	"  end\n"
	"end\n"
	"\n"
	"function same_fields(v, d, desc, where)\n"
	"  local names = {}\n"
	"  for _, f in ipairs(desc) do\n"
	"    local name = f[1]\n"
	"    names[name] = true\n"
	"    local pv, dv = v[name], d[name]\n"
	"    if pv == nil then\n"
	"      assert(dv == nil, where .. '.' .. name .. ': added')\n"
	"    elseif f.array then\n"
	"      assert(type(dv) == 'table' and #dv == #pv,\n"
	"             where .. '.' .. name .. ': array length')\n"
	"      for i = 1, #pv do\n"
	"        same_item(pv[i], dv[i], f[2], where .. '.' .. name)\n"
	"      end\n"
	"    else\n"
	"      same_item(pv, dv, f[2], where .. '.' .. name)\n"
	"    end\n"
	"  end\n"
	"  for k in pairs(d) do assert(names[k], 'unknown key in body') end\n"
	"end\n"
	"\n"
	"return function(params)\n"
	"  local out = table.pack(encode(params, INPUT))\n"
	"  local body = out[1]\n"
	"  if body == nil then\n"
	"    assert(out.n == 4 and CODES[out[2]], 'refusal code')\n"
	"    assert(type(out[3]) == 'string' and type(out[4]) == 'string',\n"
	"           'refusal path and message')\n"
	"    return 0\n"
	"  end\n"
	"  assert(type(body) == 'string' and out.n == 1, 'body shape')\n"
	"  -- Lua 5.4's utf8.len: strict, an oracle apart from cfs.core's.\n"
	"  assert(utf8_len(body), 'body is not valid UTF-8')\n"
	"  assert(not body:find('[%z\\1-\\31]'), 'control byte in body')\n"
	"  local ok, decoded = pcall(cjson.decode, body)\n"
	"  assert(ok, 'cjson cannot read the body: ' .. tostring(decoded))\n"
	"  assert(type(decoded) == 'table', 'body is not an object')\n"
	"  same_fields(params, decoded, INPUT, '')\n"
	"  return 1\n"
	"end\n";

/* Strings worth meeting: escapes, every UTF-8 length, edges of it. */
static const char *const WORDS[] = {
	"", "cfs-44d53b63e", "/cfs/test11", "\"\\/\b\f\n\r\t",
	"\x01\x1f\x7f", "\xe6\x95\xb0\xe6\x8d\xae", "\xf0\x9f\x98\x80",
	"\xc2\x80", "\xdf\xbf", "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf",
	"\xed\x9f\xbf", "\xee\x80\x80", "\xe2\x80\xa8\xe2\x80\xa9",
	"\xef\xbb\xbf", "</script>", "\\u0000",
};

/* Keys: the description's names, near misses and a non-name. */
static const char *const KEYS[] = {
	"Name", "Count", "Limit", "Ratio", "Enabled", "Tags", "Numbers",
	"Ratios", "Filters", "Item", "SecretKey", "Id", "Label", "Flags",
	"Weight", "Child", "Children", "Values", "name", "Unknown", "",
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

typedef struct program {
	const uint8_t *p, *end;
} program;

static unsigned next_byte(program *pr)
{
	return pr->p < pr->end ? *pr->p++ : 0;
}

static uint64_t next_u64(program *pr)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | next_byte(pr);
	return v;
}

static void push_special_number(lua_State *L, unsigned which)
{
	static const double doubles[] = {
		NAN, INFINITY, -INFINITY, -0.0, 0.5, 1e308, 5e-324,
		9007199254740993.0, 9223372036854775808.0,
		-9223372036854775808.0, 18446744073709551616.0, 1e16, 0.1,
	};
	static const lua_Integer integers[] = {
		0, -1, 1, LUA_MAXINTEGER, LUA_MININTEGER,
		9007199254740993LL, -9007199254740993LL, 4294967296LL,
	};

	which %= COUNT(doubles) + COUNT(integers);
	if (which < COUNT(doubles))
		lua_pushnumber(L, doubles[which]);
	else
		lua_pushinteger(L, integers[which - COUNT(doubles)]);
}

/* One instruction; the params table stays at `root`. */
static void step(lua_State *L, program *pr, int root)
{
	unsigned op = next_byte(pr) % 12, n;
	int top = lua_gettop(L);
	uint64_t bits;
	double d;

	if (top - root >= MAX_STACK && op < 6)
		op = 6;
	switch (op) {
	case 0:		/* a string of raw bytes */
		n = next_byte(pr);
		if (n > (unsigned)(pr->end - pr->p))
			n = (unsigned)(pr->end - pr->p);
		lua_pushlstring(L, (const char *)pr->p, n);
		pr->p += n;
		break;
	case 1:
		lua_pushstring(L, WORDS[next_byte(pr) % COUNT(WORDS)]);
		break;
	case 2:
		lua_pushinteger(L, (lua_Integer)next_u64(pr));
		break;
	case 3:		/* any double, NaNs included */
		bits = next_u64(pr);
		memcpy(&d, &bits, sizeof(d));
		lua_pushnumber(L, d);
		break;
	case 4:
		push_special_number(L, next_byte(pr));
		break;
	case 5:
		n = next_byte(pr);
		if (n % 4 == 3)
			lua_newtable(L);
		else
			lua_pushboolean(L, (int)(n & 1));
		break;
	case 6:		/* t[key] = v: pops v */
	case 7:		/* t[#t + 1] = v: pops v */
	case 8:		/* t[small integer] = v: pops v, sparse arrays */
		if (top <= root || !lua_istable(L, top - 1)) {
			if (top > root)
				lua_pop(L, 1);
			break;
		}
		n = next_byte(pr);
		if (op == 6)
			lua_pushstring(L, KEYS[n % COUNT(KEYS)]);
		else if (op == 7)
			lua_pushinteger(L, (lua_Integer)lua_rawlen(L, top - 1)
						   + 1);
		else
			lua_pushinteger(L, (lua_Integer)(n % 8) - 1);
		lua_insert(L, -2);
		lua_rawset(L, top - 1);
		break;
	case 9:		/* root[key] = v */
		if (top > root) {
			lua_pushstring(L, KEYS[next_byte(pr) % COUNT(KEYS)]);
			lua_insert(L, -2);
			lua_rawset(L, root);
		}
		break;
	case 10:	/* a key no description has, of raw bytes */
		if (top > root) {
			n = next_byte(pr) % 8;
			if (n > (unsigned)(pr->end - pr->p))
				n = (unsigned)(pr->end - pr->p);
			lua_pushlstring(L, (const char *)pr->p, n);
			pr->p += n;
			lua_insert(L, -2);
			lua_rawset(L, root);
		}
		break;
	default:
		/* A table holding itself, for the depth limit. Never one
		 * table under two parents: a shared one is walked once per
		 * parent, k^16 walks at the depth limit, not a finding. */
		if (top > root && lua_istable(L, -1)) {
			lua_pushstring(L, KEYS[next_byte(pr) % COUNT(KEYS)]);
			lua_pushvalue(L, -2);
			lua_rawset(L, -3);
		}
		break;
	}
}

static lua_State *L;
static int check_ref;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	L = fuzz_lua_state();
	if (luaL_loadstring(L, SETUP) != 0 || lua_pcall(L, 0, 1, 0) != 0)
		fuzz_die(L, "set-up chunk");
	check_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	program pr = { data, data + size };
	int top = lua_gettop(L), root;

	if (!lua_checkstack(L, MAX_STACK + 8))
		fuzz_die(L, "lua_checkstack");
	lua_rawgeti(L, LUA_REGISTRYINDEX, check_ref);
	lua_newtable(L);
	root = lua_gettop(L);
	while (pr.p < pr.end)
		step(L, &pr, root);
	lua_settop(L, root);
	if (lua_pcall(L, 1, 1, 0) != 0)
		fuzz_die(L, "encode invariant");
	lua_settop(L, top);
	return 0;
}
