/*
 * Request bodies: a Lua table becomes JSON, guided by the action's input
 * description (HACKING.md). Written here rather than with lua-cjson because
 * the bytes must follow the API's declared field order, integers must stay
 * integers, an empty array must be [] and not {}, and every field needs a
 * type check that names its path; no JSON library does those four.
 *
 * Strings are escaped as JavaScript's JSON.stringify does (the official
 * Node.js SDK's encoder), so a table written in documentation order gives
 * the SDK's bytes exactly.
 *
 * encode(params, input) -> body | nil, code, path, message
 */
#include "buffer.h"
#include "core.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 16
#define PATH_SIZE 512
#define SCRATCH_KEEP (64 * 1024)

/* One step of the path to the value being encoded: a field or an index.
 * Kept as pointers and numbers, and written out only for an error. */
typedef struct step {
	const char *name; /* NULL for an array index */
	size_t index;
} step;

typedef struct encoder {
	lua_State *L;
	cfs_buffer *out;
	int depth;
	step path[2 * MAX_DEPTH + 2];
	int path_len;
	char path_text[PATH_SIZE];
	const char *code;
	char message[PATH_SIZE + 160];
} encoder;


/* The length of the well-formed UTF-8 sequence at s (left bytes there),
 * or 0: no overlong forms, no surrogates, nothing past U+10FFFF. */
static size_t utf8_sequence(const unsigned char *s, size_t left)
{
	unsigned c = s[0], need, min, cp, k;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		need = 1, min = 0x80, cp = c & 0x1F;
	else if (c >= 0xE0 && c <= 0xEF)
		need = 2, min = 0x800, cp = c & 0x0F;
	else if (c >= 0xF0 && c <= 0xF4)
		need = 3, min = 0x10000, cp = c & 0x07;
	else
		return 0;
	if (left <= need)
		return 0;
	for (k = 1; k <= need; k++) {
		if ((s[k] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[k] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return need + 1;
}


int cfs_utf8_valid(const char *str, size_t len, size_t *bad)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, n;

	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		n = utf8_sequence(s + i, len - i);
		if (n == 0) {
			if (bad != NULL)
				*bad = i;
			return 0;
		}
		i += n;
	}
	return 1;
}


/* Writes the path ("Filters[2].Values") into e->path_text. */
static void path_render(encoder *e)
{
	size_t len = 0;
	int i, n;

	e->path_text[0] = '\0';
	for (i = 0; i < e->path_len && len < PATH_SIZE - 1; i++) {
		const step *st = &e->path[i];

		if (st->name != NULL)
			n = snprintf(e->path_text + len, PATH_SIZE - len,
				     "%s%s", len ? "." : "", st->name);
		else
			n = snprintf(e->path_text + len, PATH_SIZE - len,
				     "[%zu]", st->index);
		if (n < 0)
			break;
		len += (size_t)n;
	}
	if (len >= PATH_SIZE)
		e->path_text[PATH_SIZE - 1] = '\0';
}


/* Records an error; returns -1 so callers can `return fail(...)`. */
static int fail(encoder *e, const char *code, const char *fmt,
		const char *detail)
{
	e->code = code;
	path_render(e);
	snprintf(e->message, sizeof(e->message), fmt, e->path_text, detail);
	return -1;
}


static int out_of_memory(encoder *e)
{
	return fail(e, "OutOfMemory", "%s: %s", "out of memory while encoding");
}


/* Depth is bounded by MAX_DEPTH before any push, so path never overflows. */
static int path_push_field(encoder *e, const char *name)
{
	e->path[e->path_len].name = name;
	e->path[e->path_len].index = 0;
	return e->path_len++;
}


static int path_push_index(encoder *e, size_t index)
{
	e->path[e->path_len].name = NULL;
	e->path[e->path_len].index = index;
	return e->path_len++;
}


static void path_pop(encoder *e, int saved)
{
	e->path_len = saved;
}


/* Escapes as JSON.stringify does; checks UTF-8 only past ASCII. */
/* Bytes copied as they are: printable ASCII but for the quote (0x22) and
 * the backslash (0x5C). One lookup a byte keeps the common loop short. */
static const unsigned char PLAIN[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
	1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x30 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 0x50 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x70 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x80 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x90 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xA0 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xB0 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xC0 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xD0 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xE0 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xF0 */
};


static int put_string(encoder *e, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	size_t i, run = 0;

	if (cfs_buffer_addc(e->out, '"') != 0)
		return out_of_memory(e);
	for (i = 0; i < len; i++) {
		unsigned char c = u[i];
		char esc[6] = { '\\', 0, '0', '0', 0, 0 };
		size_t esc_len = 2;

		if (PLAIN[c])
			continue;
		if (c >= 0x80) {
			size_t n = utf8_sequence(u + i, len - i);

			if (n == 0) {
				char where[48];

				snprintf(where, sizeof(where),
					 "not valid UTF-8 (byte %zu)", i + 1);
				return fail(e, "InvalidParameterValue",
					    "%s: %s", where);
			}
			i += n - 1;
			continue;
		}
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			esc[1] = 'u';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			esc_len = 6;
		}
		if (cfs_buffer_add(e->out, s + run, i - run) != 0 ||
		    cfs_buffer_add(e->out, esc, esc_len) != 0)
			return out_of_memory(e);
		run = i + 1;
	}
	if (cfs_buffer_add(e->out, s + run, len - run) != 0 ||
	    cfs_buffer_addc(e->out, '"') != 0)
		return out_of_memory(e);
	return 0;
}


static int type_error(encoder *e, int value, const char *expected)
{
	char detail[96];

	snprintf(detail, sizeof(detail), "expected %s, got %s", expected,
		 luaL_typename(e->L, value));
	return fail(e, "InvalidParameter", "%s: %s", detail);
}


static int put_integer(encoder *e, int value, int is_unsigned)
{
	lua_State *L = e->L;
	char text[32];
	int n;

	if (lua_type(L, value) != LUA_TNUMBER)
		return type_error(e, value,
				  is_unsigned ? "a non-negative "
						"integer"
					      : "an integer");
#if LUA_VERSION_NUM >= 503
	if (lua_isinteger(L, value)) {
		lua_Integer i = lua_tointeger(L, value);

		if (is_unsigned && i < 0)
			return fail(e, "InvalidParameterValue", "%s: %s",
				    "must not be negative");
		n = snprintf(text, sizeof(text), LUA_INTEGER_FMT, i);
		return cfs_buffer_add(e->out, text, (size_t)n) ? -1 : 0;
	}
#endif
	{
		lua_Number d = lua_tonumber(L, value);

		/* 2^63: past it a double no longer maps to an int64. */
		if (d != floor(d) || fabs(d) >= 9223372036854775808.0)
			return fail(e, "InvalidParameterValue", "%s: %s",
				    "must be a whole number");
		if (is_unsigned && d < 0)
			return fail(e, "InvalidParameterValue", "%s: %s",
				    "must not be negative");
		n = snprintf(text, sizeof(text), "%lld", (long long)d);
		return cfs_buffer_add(e->out, text, (size_t)n) ? -1 : 0;
	}
}


/* The shortest text that reads back as the same double, as JSON wants. */
static int put_float(encoder *e, int value)
{
	lua_Number d;
	char text[40];
	int precision, n = 0;

	if (lua_type(e->L, value) != LUA_TNUMBER)
		return type_error(e, value, "a number");
	d = lua_tonumber(e->L, value);
	if (isnan(d) || isinf(d))
		return fail(e, "InvalidParameterValue", "%s: %s",
			    "NaN and infinities cannot be sent in JSON");
	for (precision = 1; precision <= 17; precision++) {
		n = snprintf(text, sizeof(text), "%.*g", precision, d);
		if (strtod(text, NULL) == d)
			break;
	}
	return cfs_buffer_add(e->out, text, (size_t)n) ? out_of_memory(e) : 0;
}


/* The number of keys of the table at `t`, whatever their type. */
static size_t count_keys(lua_State *L, int t)
{
	size_t n = 0;

	lua_pushnil(L);
	while (lua_next(L, t) != 0) {
		lua_pop(L, 1);
		n++;
	}
	return n;
}


/* ---- plans: a description compiled once ------------------------------ */

/*
 * Reading a Lua description field by field costs several API calls per
 * field on every request; a plan holds the same facts in C, compiled on
 * first use and cached per description table (weak keys, upvalue 1 of
 * encode). Its user value is a table: [i] = field i's name (the string to
 * look params up with), [n + i] = field i's structure plan, if any.
 * Descriptions are treated as immutable once used.
 */
enum kind { K_STRING, K_INT, K_UINT, K_FLOAT, K_BOOL, K_STRUCT };

typedef struct field {
	int kind;
	int array;
	int required;
	const char *name;     /* kept alive by the plan's user value */
	const char *json_key; /* "Name": inside the plan's own block */
	size_t json_key_len;
} field;

typedef struct plan {
	size_t n;
	field *fields;
	char *keys;
} plan;

static const char *const KIND_NAMES[] = {
	"string", "int", "uint", "float", "boolean", NULL,
};

static int compile_plan(lua_State *L, int fields, int cache, int depth);


/* Field kind of the entry at the top of the stack; may compile a plan. */
static int compile_kind(lua_State *L, int cache, int depth)
{
	int k;

	if (lua_type(L, -1) == LUA_TTABLE) {
		compile_plan(L, lua_gettop(L), cache, depth + 1);
		return K_STRUCT;
	}
	k = luaL_checkoption(L, -1, NULL, KIND_NAMES);
	lua_pushboolean(L, 0);
	return k;
}


/* Pushes the plan for the description list at `fields`. */
static int compile_plan(lua_State *L, int fields, int cache, int depth)
{
	size_t i, n, key_bytes = 0, used = 0;
	plan *p;
	int uv;

	lua_pushvalue(L, fields);
	lua_rawget(L, cache);
	if (!lua_isnil(L, -1))
		return 1;
	lua_pop(L, 1);
	if (depth > MAX_DEPTH)
		return luaL_error(L, "cfs.core: description nested too deep");
	luaL_checkstack(L, 10, "cfs.core: description");

	n = lua_rawlen(L, fields);
	for (i = 1; i <= n; i++) {
		lua_rawgeti(L, fields, (lua_Integer)i);
		if (lua_type(L, -1) != LUA_TTABLE)
			return luaL_error(L,
					  "cfs.core: field entry %d of the "
					  "description is not a table",
					  (int)i);
		lua_rawgeti(L, -1, 1);
		if (lua_type(L, -1) != LUA_TSTRING)
			return luaL_error(L,
					  "cfs.core: field entry %d has no "
					  "name",
					  (int)i);
		key_bytes += lua_rawlen(L, -1) + 3;
		lua_pop(L, 2);
	}

	p = cfs_newuserdata(L, sizeof(plan) + n * sizeof(field) + key_bytes);
	/* n stays 0 until every field is filled: should compiling raise, the
	 * cached plan is an empty one, never a half-made one. */
	p->n = 0;
	p->fields = (field *)(void *)(p + 1);
	p->keys = (char *)(p->fields + n);
	lua_createtable(L, (int)(2 * n), 0);
	uv = lua_gettop(L);

	/* Cached before its fields, so a structure that holds itself ends. */
	lua_pushvalue(L, fields);
	lua_pushvalue(L, uv - 1);
	lua_rawset(L, cache);

	for (i = 1; i <= n; i++) {
		field *f = &p->fields[i - 1];
		size_t len;
		const char *name;

		lua_rawgeti(L, fields, (lua_Integer)i);
		lua_rawgeti(L, -1, 1);
		name = lua_tolstring(L, -1, &len);
		lua_rawseti(L, uv, (lua_Integer)i);
		lua_rawgeti(L, -1, 2);
		f->kind = compile_kind(L, cache, depth);
		lua_rawseti(L, uv, (lua_Integer)(n + i));
		lua_pop(L, 1);
		lua_getfield(L, -1, "array");
		f->array = lua_toboolean(L, -1);
		lua_getfield(L, -2, "required");
		f->required = lua_toboolean(L, -1);
		lua_pop(L, 3);

		f->name = name;
		f->json_key = p->keys + used;
		f->json_key_len = len + 3;
		p->keys[used] = '"';
		memcpy(p->keys + used + 1, name, len);
		p->keys[used + len + 1] = '"';
		p->keys[used + len + 2] = ':';
		used += len + 3;
	}
	cfs_setuservalue(L, -2);
	p->n = n;
	return 1;
}


/* ---- encoding with a plan ---------------------------------------------- */

static int encode_object(encoder *e, int value, int plan_index);


/* One value of field f (an array element, or the field's own value). */
static int encode_item(encoder *e, int value, const field *f, int uv,
		       size_t sub)
{
	lua_State *L = e->L;
	int rc;

	switch (f->kind) {
	case K_STRING:
		if (lua_type(L, value) != LUA_TSTRING)
			return type_error(e, value, "a string");
		{
			size_t len;
			const char *s = lua_tolstring(L, value, &len);

			return put_string(e, s, len);
		}
	case K_INT: return put_integer(e, value, 0);
	case K_UINT: return put_integer(e, value, 1);
	case K_FLOAT: return put_float(e, value);
	case K_BOOL:
		if (lua_type(L, value) != LUA_TBOOLEAN)
			return type_error(e, value, "a boolean");
		if (lua_toboolean(L, value))
			return CFS_BUFFER_ADDS(e->out, "true") ? -1 : 0;
		return CFS_BUFFER_ADDS(e->out, "false") ? -1 : 0;
	}

	if (lua_type(L, value) != LUA_TTABLE)
		return type_error(e, value, "an object");
	lua_rawgeti(L, value, 1);
	rc = !lua_isnil(L, -1);
	lua_pop(L, 1);
	if (rc)
		return fail(e, "InvalidParameter", "%s: %s",
			    "expected an object, got an array");
	if (++e->depth > MAX_DEPTH)
		return fail(e, "InvalidParameter", "%s: %s",
			    "structures nested too deep");
	lua_rawgeti(L, uv, (lua_Integer)sub);
	rc = encode_object(e, value, lua_gettop(L));
	lua_pop(L, 1);
	e->depth--;
	return rc;
}


static int encode_array(encoder *e, int value, const field *f, int uv,
			size_t sub)
{
	lua_State *L = e->L;
	size_t i, len;

	if (lua_type(L, value) != LUA_TTABLE)
		return type_error(e, value, "an array (a table)");
	len = lua_rawlen(L, value);
	if (count_keys(L, value) != len)
		return fail(e, "InvalidParameter", "%s: %s",
			    "expected an "
			    "array (a sequence 1..n), got a table with other "
			    "keys");
	if (cfs_buffer_addc(e->out, '[') != 0)
		return out_of_memory(e);
	for (i = 1; i <= len; i++) {
		int saved = path_push_index(e, i);
		int rc;

		lua_rawgeti(L, value, (lua_Integer)i);
		rc = (i > 1 && cfs_buffer_addc(e->out, ',') != 0)
			     ? out_of_memory(e)
			     : encode_item(e, lua_gettop(L), f, uv, sub);
		lua_pop(L, 1);
		if (rc != 0)
			return rc;
		path_pop(e, saved);
	}
	return cfs_buffer_addc(e->out, ']') ? out_of_memory(e) : 0;
}


/* Finds a key of `value` that the plan does not name, for the error. */
static int unknown_field(encoder *e, int value, size_t n, int uv)
{
	lua_State *L = e->L;
	size_t i;

	lua_pushnil(L);
	while (lua_next(L, value) != 0) {
		int known = 0;

		lua_pop(L, 1);
		if (lua_type(L, -1) != LUA_TSTRING) {
			lua_pop(L, 1);
			return fail(e, "InvalidParameter", "%s: %s",
				    "expected an object (string keys), got "
				    "an array or a table with other keys");
		}
		for (i = 1; i <= n && !known; i++) {
			lua_rawgeti(L, uv, (lua_Integer)i);
			known = lua_rawequal(L, -1, -2);
			lua_pop(L, 1);
		}
		if (!known) {
			/* The error's path names the unknown field itself. */
			path_push_field(e, lua_tostring(L, -1));
			lua_pop(L, 1);
			return fail(e, "UnknownParameter", "%s: %s",
				    "unknown field");
		}
	}
	return fail(e, "InvalidParameter", "%s: %s", "unexpected keys");
}


static int encode_object(encoder *e, int value, int plan_index)
{
	lua_State *L = e->L;
	const plan *p = lua_touserdata(L, plan_index);
	size_t i, present = 0;
	int uv, first = 1;

	luaL_checkstack(L, 8, "cfs: encoder stack");
	cfs_getuservalue(L, plan_index);
	uv = lua_gettop(L);
	if (cfs_buffer_addc(e->out, '{') != 0)
		return out_of_memory(e);
	for (i = 0; i < p->n; i++) {
		const field *f = &p->fields[i];
		int rc = 0, saved, item;

		lua_rawgeti(L, uv, (lua_Integer)(i + 1));
		lua_rawget(L, value);
		item = lua_gettop(L);
		saved = path_push_field(e, f->name);
		if (lua_isnil(L, item)) {
			if (f->required)
				rc = fail(e, "MissingParameter", "%s: %s",
					  "required field is missing");
		} else {
			present++;
			if ((!first && cfs_buffer_addc(e->out, ',') != 0) ||
			    cfs_buffer_add(e->out, f->json_key,
					   f->json_key_len) != 0)
				rc = out_of_memory(e);
			else if (f->array)
				rc = encode_array(e, item, f, uv, p->n + i + 1);
			else
				rc = encode_item(e, item, f, uv, p->n + i + 1);
			first = 0;
		}
		lua_settop(L, item - 1);
		if (rc != 0)
			return rc;
		path_pop(e, saved);
	}
	if (count_keys(L, value) != present)
		return unknown_field(e, value, p->n, uv);
	lua_pop(L, 1);
	return cfs_buffer_addc(e->out, '}') ? out_of_memory(e) : 0;
}


int cfs_l_encode(lua_State *L)
{
	encoder e;
	int rc;

	luaL_checktype(L, 1, LUA_TTABLE);
	luaL_checktype(L, 2, LUA_TTABLE);
	lua_settop(L, 2);
	memset(&e, 0, sizeof(e));
	e.L = L;
	/* Upvalue 2: this state's scratch buffer. The encoder never runs Lua
	 * code (raw access only), so no second encode can start meanwhile. */
	e.out = lua_touserdata(L, lua_upvalueindex(2));
	e.out->len = 0;
	if (cfs_buffer_reserve(e.out, 1024) != 0)
		return luaL_error(L, "cfs.core: out of memory");

	compile_plan(L, 2, lua_upvalueindex(1), 0);
	rc = encode_object(&e, 1, lua_gettop(L));
	if (rc != 0) {
		lua_pushnil(L);
		lua_pushstring(L, e.code ? e.code : "InvalidParameter");
		lua_pushstring(L, e.path_text);
		lua_pushstring(L, e.message);
		rc = 4;
	} else {
		lua_pushlstring(L, e.out->data, e.out->len);
		rc = 1;
	}
	/* Keep a small buffer for the next call, not a large one. */
	if (e.out->cap > SCRATCH_KEEP)
		cfs_buffer_release(e.out);
	return rc;
}
