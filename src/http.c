/*
 * HTTP with libcurl: a client's easy handle (one transfer at a time,
 * connections kept alive across calls) and a batch's multi handle (many
 * transfers at once, sharing the multi's connection cache).
 *
 * Each transfer owns a copy of its request body and headers until it ends,
 * whatever the Lua collector does meanwhile. A request that changes state
 * is never replayed by libcurl on its own: its body is read through a
 * callback that cannot rewind, so a kept-alive connection that dies after
 * sending becomes an error the caller sees (and the retry policy decides).
 *
 * http(opts) -> client;  client:request(url, headers, body, idempotent)
 *   -> status, body, date | nil, code, message, sent
 *   (opts.method "GET" sends GETs and ignores the body: for the instance
 *   metadata service, which the credential providers read)
 * multi(opts) -> batch;  batch:add(url, headers, body, idempotent) -> slot
 *   batch:perform(wait_ms) -> running;  batch:next_done() -> slot, ...
 */
#define _POSIX_C_SOURCE 200809L

#include "buffer.h"
#include "core.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HTTP_META "cfs.http"
#define MULTI_META "cfs.multi"
#define DATE_SIZE 64

typedef struct options {
	char *ca_file;
	char *proxy; /* NULL: libcurl reads the proxy variables */
	long timeout_ms;
	long connect_timeout_ms;
	curl_off_t max_response;
	int get; /* GET instead of POST */
} options;

typedef struct transfer {
	CURL *easy;
	struct curl_slist *headers;
	cfs_buffer body;
	size_t body_pos;
	cfs_buffer response;
	curl_off_t max_response;
	int too_large;
	int idempotent;
	int fresh; /* the next transfer opens a new connection */
	int busy;
	int get; /* GET without a body, else POST */
	CURLcode result;
	char date[DATE_SIZE];
	char errbuf[CURL_ERROR_SIZE];
} transfer;

typedef struct http_client {
	options opts;
	transfer *t;
} http_client;

typedef struct multi_batch {
	options opts;
	CURLM *multi;
	transfer **slots;
	int nslots;
} multi_batch;


/* ---- process-wide set-up ---------------------------------------------- */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_result = CURLE_FAILED_INIT;

static void global_init(void)
{
	/* libcurl initialises OpenSSL too; neither is ever cleaned up, as a
	 * library cannot know when the last user in the process is gone. */
	global_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int cfs_http_global_init(void)
{
	pthread_once(&global_once, global_init);
	return global_result == CURLE_OK ? 0 : -1;
}


/* ---- options ----------------------------------------------------------- */

static char *opt_string(lua_State *L, int t, const char *name)
{
	char *copy = NULL;

	lua_getfield(L, t, name);
	if (lua_type(L, -1) == LUA_TSTRING) {
		size_t len;
		const char *s = lua_tolstring(L, -1, &len);

		if (strlen(s) != len)
			luaL_error(L, "cfs.core: option %s holds a NUL", name);
		copy = malloc(len + 1);
		if (copy == NULL)
			luaL_error(L, "cfs.core: out of memory");
		memcpy(copy, s, len + 1);
	} else if (!lua_isnil(L, -1)) {
		luaL_error(L, "cfs.core: option %s must be a string", name);
	}
	lua_pop(L, 1);
	return copy;
}

static long opt_ms(lua_State *L, int t, const char *name, double dflt)
{
	double seconds = dflt;

	lua_getfield(L, t, name);
	if (!lua_isnil(L, -1))
		seconds = luaL_checknumber(L, -1);
	lua_pop(L, 1);
	if (!(seconds > 0 && seconds <= 86400))
		luaL_error(L, "cfs.core: option %s must be in (0, 86400]",
			   name);
	return (long)(seconds * 1000 + 0.5);
}

static void options_free(options *o)
{
	free(o->ca_file);
	free(o->proxy);
	o->ca_file = o->proxy = NULL;
}

/* Reads opts (a table at `t`) into `o`; `o` must start zeroed and be
 * owned by a userdata already, so a raised error leaks nothing. */
static void options_read(lua_State *L, int t, options *o)
{
	double max_response = 16 * 1024 * 1024;

	if (lua_isnoneornil(L, t))
		lua_newtable(L), t = lua_gettop(L);
	luaL_checktype(L, t, LUA_TTABLE);
	o->ca_file = opt_string(L, t, "ca_file");
	o->proxy = opt_string(L, t, "proxy");
	o->timeout_ms = opt_ms(L, t, "timeout", 60);
	o->connect_timeout_ms = opt_ms(L, t, "connect_timeout", 10);
	lua_getfield(L, t, "max_response");
	if (!lua_isnil(L, -1))
		max_response = luaL_checknumber(L, -1);
	lua_pop(L, 1);
	if (!(max_response >= 1024 && max_response <= 1073741824.0))
		luaL_error(L, "cfs.core: option max_response must be in "
			      "[1024, 1 GiB]");
	o->max_response = (curl_off_t)max_response;
	lua_getfield(L, t, "method");
	if (!lua_isnil(L, -1)) {
		const char *method = luaL_checkstring(L, -1);

		if (strcmp(method, "GET") == 0)
			o->get = 1;
		else if (strcmp(method, "POST") != 0)
			luaL_error(L, "cfs.core: option method must be "
				      "\"GET\" or \"POST\"");
	}
	lua_pop(L, 1);
}


/* ---- one transfer ------------------------------------------------------ */

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
	transfer *t = ud;
	size_t len = size * n;

	if ((curl_off_t)(t->response.len + len) > t->max_response) {
		t->too_large = 1;
		return 0;
	}
	return cfs_buffer_add(&t->response, data, len) == 0 ? len : 0;
}

static size_t on_header(char *data, size_t size, size_t n, void *ud)
{
	transfer *t = ud;
	size_t len = size * n;

	if (len > 5 && strncasecmp(data, "date:", 5) == 0) {
		size_t start = 5, end = len;

		while (start < end &&
		       (data[start] == ' ' || data[start] == '\t'))
			start++;
		while (end > start &&
		       (data[end - 1] == '\r' || data[end - 1] == '\n' ||
			data[end - 1] == ' '))
			end--;
		if (end - start < DATE_SIZE) {
			memcpy(t->date, data + start, end - start);
			t->date[end - start] = '\0';
		}
	}
	return len;
}

static size_t on_read(char *dest, size_t size, size_t n, void *ud)
{
	transfer *t = ud;
	size_t room = size * n, left = t->body.len - t->body_pos;
	size_t len = left < room ? left : room;

	memcpy(dest, t->body.data + t->body_pos, len);
	t->body_pos += len;
	return len;
}

/* libcurl rewinds to resend on a fresh connection when a kept-alive one
 * died; only a request that changes nothing may be sent twice. */
static int on_seek(void *ud, curl_off_t offset, int origin)
{
	transfer *t = ud;

	if (!t->idempotent || origin != SEEK_SET || offset < 0 ||
	    (size_t)offset > t->body.len)
		return CURL_SEEKFUNC_FAIL;
	t->body_pos = (size_t)offset;
	return CURL_SEEKFUNC_OK;
}

static void transfer_free(transfer *t)
{
	if (t == NULL)
		return;
	if (t->easy != NULL)
		curl_easy_cleanup(t->easy);
	curl_slist_free_all(t->headers);
	cfs_buffer_release(&t->body);
	cfs_buffer_release(&t->response);
	free(t);
}

static transfer *transfer_new(const options *o)
{
	transfer *t = calloc(1, sizeof(*t));
	CURL *e;

	if (t == NULL || (t->easy = curl_easy_init()) == NULL) {
		free(t);
		return NULL;
	}
	e = t->easy;
	t->max_response = o->max_response;
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(e, CURLOPT_READDATA, t);
	curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, on_seek);
	curl_easy_setopt(e, CURLOPT_SEEKDATA, t);
	t->get = o->get;
	if (o->get)
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	else
		curl_easy_setopt(e, CURLOPT_POST, 1L);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, o->timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, o->max_response);
	if (o->ca_file != NULL)
		curl_easy_setopt(e, CURLOPT_CAINFO, o->ca_file);
	if (o->proxy != NULL)
		curl_easy_setopt(e, CURLOPT_PROXY, o->proxy);
	return t;
}

/* Prepares `t` for a request whose arguments sit at stack slots 2..5. */
static void transfer_setup(lua_State *L, transfer *t, int first)
{
	size_t body_len, i, n;
	const char *url = luaL_checkstring(L, first);
	const char *body = luaL_checklstring(L, first + 2, &body_len);
	struct curl_slist *list = NULL;

	luaL_checktype(L, first + 1, LUA_TTABLE);
	n = lua_rawlen(L, first + 1);
	/* Every check that can raise comes before the list takes memory. */
	for (i = 1; i <= n; i++) {
		size_t len, k;
		const char *line;

		lua_rawgeti(L, first + 1, (lua_Integer)i);
		if (lua_type(L, -1) != LUA_TSTRING)
			luaL_error(L, "cfs.core: header %d is not a string",
				   (int)i);
		/* One line each: a CR, LF or NUL would smuggle in another. */
		line = lua_tolstring(L, -1, &len);
		for (k = 0; k < len; k++)
			if (line[k] == '\r' || line[k] == '\n' ||
			    line[k] == '\0')
				luaL_error(L,
					   "cfs.core: header %d holds a line "
					   "break or NUL",
					   (int)i);
		lua_pop(L, 1);
	}
	for (i = 1; i <= n; i++) {
		struct curl_slist *grown;

		lua_rawgeti(L, first + 1, (lua_Integer)i);
		grown = curl_slist_append(list, lua_tostring(L, -1));
		lua_pop(L, 1);
		if (grown == NULL) {
			curl_slist_free_all(list);
			luaL_error(L, "cfs.core: out of memory");
		}
		list = grown;
	}
	curl_slist_free_all(t->headers);
	t->headers = list;

	t->body.len = 0;
	t->response.len = 0;
	if (cfs_buffer_add(&t->body, body, body_len) != 0)
		luaL_error(L, "cfs.core: out of memory");
	t->body_pos = 0;
	t->too_large = 0;
	t->idempotent = lua_toboolean(L, first + 3);
	t->date[0] = t->errbuf[0] = '\0';

	curl_easy_setopt(t->easy, CURLOPT_URL, url);
	curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
	if (t->get) {
		/* Set last: the POST options would turn libcurl back to POST. */
		curl_easy_setopt(t->easy, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)body_len);
		/* In-memory fields go out with the headers in one write;
		 * libcurl may replay them, which only a request that changes
		 * nothing can bear. Any other body is read through on_read,
		 * which cannot rewind. */
		curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS,
				 t->idempotent ? t->body.data : NULL);
	}
	curl_easy_setopt(t->easy, CURLOPT_FRESH_CONNECT, (long)t->fresh);
	t->fresh = 0;
}

/* Whether the request may have reached the service before `rc`. */
static int maybe_sent(transfer *t)
{
	curl_off_t pretransfer = 0;

	curl_easy_getinfo(t->easy, CURLINFO_PRETRANSFER_TIME_T, &pretransfer);
	return pretransfer > 0;
}

/* Pushes the outcome of a finished transfer; returns the count. */
static int push_result(lua_State *L, transfer *t, CURLcode rc)
{
	const char *code = "NetworkError";
	int sent = 1;
	long status = 0;

	if (rc == CURLE_OK) {
		curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
		lua_pushinteger(L, status);
		lua_pushlstring(L, t->response.data ? t->response.data : "",
				t->response.len);
		lua_pushstring(L, t->date);
		return 3;
	}

	/* Whatever went wrong, this connection is not to be trusted again. */
	t->fresh = 1;
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL: code = "ConnectError", sent = 0; break;
	case CURLE_SSL_CONNECT_ERROR: code = "TLSError", sent = 0; break;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
		code = "CertificateError", sent = 0;
		break;
	case CURLE_OPERATION_TIMEDOUT:
		sent = maybe_sent(t);
		code = sent ? "Timeout" : "ConnectTimeout";
		break;
	case CURLE_WRITE_ERROR:
	case CURLE_FILESIZE_EXCEEDED:
		if (t->too_large || rc == CURLE_FILESIZE_EXCEEDED)
			code = "ResponseTooLarge";
		break;
	default: break;
	}
	lua_pushnil(L);
	lua_pushstring(L, code);
	if (code[0] == 'R')
		lua_pushliteral(L, "answer larger than the max_response "
				   "option");
	else
		lua_pushstring(L, t->errbuf[0] ? t->errbuf
					       : curl_easy_strerror(rc));
	lua_pushboolean(L, sent);
	return 4;
}


/* ---- the client's easy handle ----------------------------------------- */

static http_client *check_http(lua_State *L)
{
	http_client *c = luaL_checkudata(L, 1, HTTP_META);

	if (c->t == NULL)
		luaL_error(L, "cfs.core: HTTP client used after close");
	return c;
}

static int http_close(lua_State *L)
{
	http_client *c = luaL_checkudata(L, 1, HTTP_META);

	transfer_free(c->t);
	c->t = NULL;
	options_free(&c->opts);
	return 0;
}

static int http_request(lua_State *L)
{
	http_client *c = check_http(L);
	CURLcode rc;

	transfer_setup(L, c->t, 2);
	rc = curl_easy_perform(c->t->easy);
	return push_result(L, c->t, rc);
}

/* After an answer that could not be read: never reuse its connection. */
static int http_forget_connection(lua_State *L)
{
	check_http(L)->t->fresh = 1;
	return 0;
}

int cfs_l_http_new(lua_State *L)
{
	http_client *c;

	lua_settop(L, 1);
	c = lua_newuserdata(L, sizeof(*c));
	memset(c, 0, sizeof(*c));
	luaL_setmetatable(L, HTTP_META);
	options_read(L, 1, &c->opts);
	c->t = transfer_new(&c->opts);
	if (c->t == NULL)
		return luaL_error(L, "cfs.core: cannot make a libcurl handle");
	lua_settop(L, 2);
	return 1;
}


/* ---- a batch's multi handle ------------------------------------------- */

static multi_batch *check_multi(lua_State *L)
{
	multi_batch *m = luaL_checkudata(L, 1, MULTI_META);

	if (m->multi == NULL)
		luaL_error(L, "cfs.core: batch used after close");
	return m;
}

static int multi_close(lua_State *L)
{
	multi_batch *m = luaL_checkudata(L, 1, MULTI_META);
	int i;

	for (i = 0; i < m->nslots; i++) {
		if (m->slots[i]->busy)
			curl_multi_remove_handle(m->multi, m->slots[i]->easy);
		transfer_free(m->slots[i]);
	}
	free(m->slots);
	m->slots = NULL;
	m->nslots = 0;
	if (m->multi != NULL)
		curl_multi_cleanup(m->multi);
	m->multi = NULL;
	options_free(&m->opts);
	return 0;
}

static int free_slot(lua_State *L, multi_batch *m)
{
	transfer **grown;
	int i;

	for (i = 0; i < m->nslots; i++)
		if (!m->slots[i]->busy)
			return i;
	grown = realloc(m->slots, sizeof(*grown) * (size_t)(m->nslots + 1));
	if (grown == NULL)
		return luaL_error(L, "cfs.core: out of memory");
	m->slots = grown;
	m->slots[m->nslots] = transfer_new(&m->opts);
	if (m->slots[m->nslots] == NULL)
		return luaL_error(L, "cfs.core: cannot make a libcurl handle");
	return m->nslots++;
}

static int multi_add(lua_State *L)
{
	multi_batch *m = check_multi(L);
	int slot = free_slot(L, m);
	transfer *t = m->slots[slot];

	transfer_setup(L, t, 2);
	t->result = CURLE_OK;
	if (curl_multi_add_handle(m->multi, t->easy) != CURLM_OK)
		return luaL_error(L, "cfs.core: cannot add a transfer");
	t->busy = 1;
	lua_pushinteger(L, slot + 1);
	return 1;
}

static int multi_perform(lua_State *L)
{
	multi_batch *m = check_multi(L);
	lua_Integer wait_ms = luaL_optinteger(L, 2, 100);
	int running = 0;

	if (curl_multi_perform(m->multi, &running) != CURLM_OK)
		return luaL_error(L, "cfs.core: curl_multi_perform failed");
	if (running > 0 && wait_ms > 0) {
		curl_multi_poll(m->multi, NULL, 0, (int)wait_ms, NULL);
		curl_multi_perform(m->multi, &running);
	}
	lua_pushinteger(L, running);
	return 1;
}

/* The next finished transfer: slot, then what request() would return. */
static int multi_next_done(lua_State *L)
{
	multi_batch *m = check_multi(L);
	int left, i;
	CURLMsg *msg;

	while ((msg = curl_multi_info_read(m->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		for (i = 0; i < m->nslots; i++)
			if (m->slots[i]->easy == msg->easy_handle)
				break;
		if (i == m->nslots)
			continue;
		m->slots[i]->result = msg->data.result;
		curl_multi_remove_handle(m->multi, m->slots[i]->easy);
		m->slots[i]->busy = 0;
		lua_pushinteger(L, i + 1);
		return 1 + push_result(L, m->slots[i], m->slots[i]->result);
	}
	return 0;
}

int cfs_l_multi_new(lua_State *L)
{
	multi_batch *m;

	lua_settop(L, 1);
	m = lua_newuserdata(L, sizeof(*m));
	memset(m, 0, sizeof(*m));
	luaL_setmetatable(L, MULTI_META);
	options_read(L, 1, &m->opts);
	m->multi = curl_multi_init();
	if (m->multi == NULL)
		return luaL_error(L, "cfs.core: cannot make a libcurl multi");
	curl_multi_setopt(m->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
	lua_settop(L, 2);
	return 1;
}


/* ---- registration ------------------------------------------------------ */

static const luaL_Reg http_methods[] = {
	{ "request", http_request },
	{ "forget_connection", http_forget_connection },
	{ "close", http_close },
	{ NULL, NULL },
};

static const luaL_Reg multi_methods[] = {
	{ "add", multi_add },
	{ "perform", multi_perform },
	{ "next_done", multi_next_done },
	{ "close", multi_close },
	{ NULL, NULL },
};

static void register_meta(lua_State *L, const char *name,
			  const luaL_Reg *methods, lua_CFunction destroy)
{
	if (!luaL_newmetatable(L, name)) {
		lua_pop(L, 1);
		return;
	}
	lua_newtable(L);
	luaL_setfuncs(L, methods, 0);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, destroy);
	lua_setfield(L, -2, "__gc");
	lua_pushcfunction(L, destroy);
	lua_setfield(L, -2, "__close");
	lua_pushstring(L, name);
	lua_setfield(L, -2, "__name");
	lua_pop(L, 1);
}

void cfs_http_register(lua_State *L)
{
	register_meta(L, HTTP_META, http_methods, http_close);
	register_meta(L, MULTI_META, multi_methods, multi_close);
}
