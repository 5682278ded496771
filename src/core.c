/*
 * cfs.core: the mechanism under lua-cfs. Signing (sign.c), request bodies
 * (encode.c), answers (decode.c) and HTTP (http.c); policy lives in Lua.
 *
 * The module keeps no mutable global state: each lua_State that loads it
 * gets its own private lua-cjson instance, and every signer and HTTP handle
 * belongs to the userdata that holds it. Only libcurl's process-wide
 * initialisation is shared, and it runs once (pthread_once).
 */
#define _POSIX_C_SOURCE 200809L

#include "buffer.h"
#include "core.h"
#include "sign.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SIGNER_META "cfs.signer"
#define AUTH_SIZE 1024

typedef struct signer_box {
	cfs_signer *signer;
} signer_box;


#if LUA_VERSION_NUM == 501 && !defined(LUA_JITLIBNAME)
void cfs_compat_setfuncs(lua_State *L, const luaL_Reg *l, int nup)
{
	luaL_checkstack(L, nup, "too many upvalues");
	for (; l->name != NULL; l++) {
		int i;

		for (i = 0; i < nup; i++)
			lua_pushvalue(L, -nup);
		lua_pushcclosure(L, l->func, nup);
		lua_setfield(L, -(nup + 2), l->name);
	}
	lua_pop(L, nup);
}

void *cfs_compat_testudata(lua_State *L, int ud, const char *tname)
{
	void *p = lua_touserdata(L, ud);

	if (p == NULL || !lua_getmetatable(L, ud))
		return NULL;
	luaL_getmetatable(L, tname);
	if (!lua_rawequal(L, -1, -2))
		p = NULL;
	lua_pop(L, 2);
	return p;
}
#endif

#if LUA_VERSION_NUM < 503
int cfs_isinteger(lua_State *L, int i)
{
	lua_Number n;

	if (lua_type(L, i) != LUA_TNUMBER)
		return 0;
	n = lua_tonumber(L, i);
	return n == (lua_Number)(int64_t)n;
}
#endif


/* ---- signing ----------------------------------------------------------- */

/* A header value or name must not smuggle in another header. */
static const char *check_header_text(lua_State *L, int arg, const char *what)
{
	size_t len, i;
	const char *s = luaL_checklstring(L, arg, &len);

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7F)
			luaL_error(L, "cfs.core: %s holds a control character",
				   what);
	}
	return s;
}

/* Any number with an integral value: JSON decoders give 5.4 floats. */
static int64_t check_timestamp(lua_State *L, int arg)
{
	lua_Number n;

#if LUA_VERSION_NUM >= 503
	if (lua_isinteger(L, arg))
		return (int64_t)lua_tointeger(L, arg);
#endif
	n = luaL_checknumber(L, arg);
	/* Range first: casting NaN or a huge value to int64 is undefined. */
	if (!(n >= -9223372036854775808.0 && n < 9223372036854775808.0) ||
	    n != (lua_Number)(int64_t)n)
		luaL_argerror(L, arg, "timestamp must be an integer");
	return (int64_t)n;
}


static void push_steps(lua_State *L, cfs_signer *s, const cfs_sign_input *in,
		       const cfs_sign_steps *st)
{
	char *canonical = cfs_canonical_request(s, in);

	lua_createtable(L, 0, 5);
	if (canonical != NULL) {
		lua_pushstring(L, canonical);
		lua_setfield(L, -2, "canonical_request");
		free(canonical);
	}
	lua_pushstring(L, st->hashed_payload);
	lua_setfield(L, -2, "hashed_request_payload");
	lua_pushstring(L, st->canonical_request_sha256);
	lua_setfield(L, -2, "canonical_request_sha256");
	lua_pushstring(L, st->credential_scope);
	lua_setfield(L, -2, "credential_scope");
	lua_pushstring(L, st->signature);
	lua_setfield(L, -2, "signature");
}

/* Reads the arguments 2..8 that every signing method shares. */
static cfs_signer *sign_input(lua_State *L, cfs_sign_input *in)
{
	signer_box *box = luaL_checkudata(L, 1, SIGNER_META);

	if (box->signer == NULL)
		luaL_error(L, "cfs.core: signer used after close");
	in->secret_id = check_header_text(L, 2, "secret_id");
	in->secret_key = luaL_checklstring(L, 3, &in->secret_key_len);
	in->timestamp = check_timestamp(L, 4);
	in->service = check_header_text(L, 5, "service");
	in->host = check_header_text(L, 6, "host");
	in->content_type = check_header_text(L, 7, "content_type");
	in->body = luaL_checklstring(L, 8, &in->body_len);
	return box->signer;
}

static void sign_or_raise(lua_State *L, cfs_signer *s, const cfs_sign_input *in,
			  cfs_sign_steps *steps, char *auth, size_t auth_size)
{
	if (cfs_sign(s, in, steps, auth, auth_size) != 0)
		luaL_error(L, "cfs.core: cannot sign (a field is too long, the "
			      "timestamp out of range, or OpenSSL failed)");
}

/*
 * signer:sign(secret_id, secret_key, timestamp, service, host,
 *             content_type, body [, steps]) -> authorization [, steps]
 */
static int signer_sign(lua_State *L)
{
	cfs_sign_input in;
	cfs_sign_steps steps;
	char auth[AUTH_SIZE];
	cfs_signer *s = sign_input(L, &in);
	int want_steps = lua_toboolean(L, 9);

	sign_or_raise(L, s, &in, &steps, auth, sizeof(auth));
	lua_pushstring(L, auth);
	if (!want_steps)
		return 1;
	push_steps(L, s, &in, &steps);
	return 2;
}

/*
 * signer:headers(secret_id, secret_key, timestamp, service, host,
 *                content_type, body, fixed [, token]) -> header lines
 *
 * The whole header list of one request, in one call: Authorization and
 * X-TC-Timestamp, then the lines of `fixed` (those that do not change
 * between calls), then X-TC-Token when there is one.
 */
static int signer_headers(lua_State *L)
{
	cfs_sign_input in;
	cfs_sign_steps steps;
	char line[AUTH_SIZE + 64];
	cfs_signer *s = sign_input(L, &in);
	const char *token = NULL;
	size_t i, n;
	int out;

	luaL_checktype(L, 9, LUA_TTABLE);
	if (!lua_isnoneornil(L, 10))
		token = check_header_text(L, 10, "token");
	memcpy(line, "Authorization: ", 15);
	sign_or_raise(L, s, &in, &steps, line + 15, sizeof(line) - 15);

	n = lua_rawlen(L, 9);
	lua_createtable(L, (int)n + 3, 0);
	out = lua_gettop(L);
	lua_pushstring(L, line);
	lua_rawseti(L, out, 1);
	snprintf(line, sizeof(line), "X-TC-Timestamp: %lld",
		 (long long)in.timestamp);
	lua_pushstring(L, line);
	lua_rawseti(L, out, 2);
	for (i = 1; i <= n; i++) {
		lua_rawgeti(L, 9, (lua_Integer)i);
		lua_rawseti(L, out, (lua_Integer)i + 2);
	}
	if (token != NULL) {
		lua_pushfstring(L, "X-TC-Token: %s", token);
		lua_rawseti(L, out, (lua_Integer)n + 3);
	}
	return 1;
}

static int signer_close(lua_State *L)
{
	signer_box *box = luaL_checkudata(L, 1, SIGNER_META);

	cfs_signer_free(box->signer);
	box->signer = NULL;
	return 0;
}

int cfs_l_signer_new(lua_State *L)
{
	signer_box *box = lua_newuserdata(L, sizeof(*box));

	box->signer = NULL;
	luaL_setmetatable(L, SIGNER_META);
	box->signer = cfs_signer_new();
	if (box->signer == NULL)
		return luaL_error(L, "cfs.core: OpenSSL has no SHA-256/HMAC");
	return 1;
}

static int l_utc_day(lua_State *L)
{
	char day[11];

	if (cfs_utc_day(check_timestamp(L, 1), day) != 0)
		return luaL_argerror(L, 1, "timestamp out of range");
	lua_pushstring(L, day);
	return 1;
}

static int l_utf8_valid(lua_State *L)
{
	size_t len, bad = 0;
	const char *s = luaL_checklstring(L, 1, &len);

	if (cfs_utf8_valid(s, len, &bad)) {
		lua_pushboolean(L, 1);
		return 1;
	}
	lua_pushboolean(L, 0);
	lua_pushinteger(L, (lua_Integer)bad + 1);
	return 2;
}

/* Seconds since an arbitrary start, never going back: for delays. */
static int l_monotonic(lua_State *L)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	lua_pushnumber(L, (lua_Number)ts.tv_sec + ts.tv_nsec / 1e9);
	return 1;
}

/* Wall-clock seconds, with a fraction. */
static int l_now(lua_State *L)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	lua_pushnumber(L, (lua_Number)ts.tv_sec + ts.tv_nsec / 1e9);
	return 1;
}

/* Blocks the thread: plain Lua has no sleep; OpenResty passes ngx.sleep. */
static int l_sleep(lua_State *L)
{
	lua_Number seconds = luaL_checknumber(L, 1);
	struct timespec ts;

	if (!(seconds > 0))
		return 0;
	if (seconds > 86400)
		seconds = 86400;
	ts.tv_sec = (time_t)seconds;
	ts.tv_nsec = (long)((seconds - (lua_Number)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	return 0;
}


static const luaL_Reg signer_methods[] = {
	{ "sign", signer_sign },
	{ "headers", signer_headers },
	{ "close", signer_close },
	{ NULL, NULL },
};

void cfs_signer_register(lua_State *L)
{
	if (luaL_newmetatable(L, SIGNER_META)) {
		lua_newtable(L);
		luaL_setfuncs(L, signer_methods, 0);
		lua_setfield(L, -2, "__index");
		lua_pushcfunction(L, signer_close);
		lua_setfield(L, -2, "__gc");
		lua_pushcfunction(L, signer_close);
		lua_setfield(L, -2, "__close");
		lua_pushliteral(L, "cfs.signer");
		lua_setfield(L, -2, "__name");
	}
	lua_pop(L, 1);
}


/* ---- the module -------------------------------------------------------- */

/* Pushes the decode function of a private lua-cjson instance. */
static void push_private_decoder(lua_State *L)
{
	lua_getglobal(L, "require");
	lua_pushliteral(L, "cjson");
	lua_call(L, 1, 1);
	lua_getfield(L, -1, "new");
	lua_call(L, 0, 1);

	/* NaN and Infinity are not JSON; refuse them in answers. */
	lua_getfield(L, -1, "decode_invalid_numbers");
	lua_pushboolean(L, 0);
	lua_call(L, 1, 0);
	/* Deep enough for every CFS answer, shallow enough to stay cheap. */
	lua_getfield(L, -1, "decode_max_depth");
	lua_pushinteger(L, 64);
	lua_call(L, 1, 0);

	lua_getfield(L, -1, "decode");
	lua_replace(L, -3);
	lua_pop(L, 1);
}

static const luaL_Reg functions[] = {
	{ "signer", cfs_l_signer_new },
	{ "http", cfs_l_http_new },
	{ "multi", cfs_l_multi_new },
	{ "utc_day", l_utc_day },
	{ "utf8_valid", l_utf8_valid },
	{ "monotonic", l_monotonic },
	{ "now", l_now },
	{ "sleep", l_sleep },
	{ NULL, NULL },
};

int luaopen_cfs_core(lua_State *L)
{
	if (cfs_http_global_init() != 0)
		return luaL_error(L, "cfs.core: libcurl failed to initialise");
	cfs_signer_register(L);
	cfs_http_register(L);

	luaL_newlib(L, functions);
	push_private_decoder(L);
	lua_pushcclosure(L, cfs_l_decode, 1);
	lua_setfield(L, -2, "decode");

	/* The encoder's plans, one per description table, weakly held. */
	lua_newtable(L);
	lua_createtable(L, 0, 1);
	lua_pushliteral(L, "k");
	lua_setfield(L, -2, "__mode");
	lua_setmetatable(L, -2);
	cfs_buffer_push(L);
	lua_pushcclosure(L, cfs_l_encode, 2);
	lua_setfield(L, -2, "encode");
	lua_pushliteral(L, CFS_VERSION);
	lua_setfield(L, -2, "_VERSION");
	lua_pushliteral(L, "SDK_LUA_CFS_" CFS_VERSION);
	lua_setfield(L, -2, "request_client");
	return 1;
}
