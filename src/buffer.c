#include "buffer.h"

#include <stdlib.h>
#include <string.h>

#define BUFFER_META "cfs.buffer"


static int buffer_gc(lua_State *L)
{
	cfs_buffer_release(luaL_checkudata(L, 1, BUFFER_META));
	return 0;
}


cfs_buffer *cfs_buffer_push(lua_State *L)
{
	cfs_buffer *b = lua_newuserdata(L, sizeof(*b));

	b->data = NULL;
	b->len = b->cap = 0;
	if (luaL_newmetatable(L, BUFFER_META)) {
		lua_pushcfunction(L, buffer_gc);
		lua_setfield(L, -2, "__gc");
	}
	lua_setmetatable(L, -2);
	return b;
}


int cfs_buffer_add(cfs_buffer *b, const void *data, size_t len)
{
	if (len > b->cap - b->len) {
		size_t cap = b->cap ? b->cap : 1024;
		char *grown;

		while (cap - b->len < len) {
			if (cap > (size_t)-1 / 2)
				return -1;
			cap *= 2;
		}
		grown = realloc(b->data, cap);
		if (grown == NULL)
			return -1;
		b->data = grown;
		b->cap = cap;
	}
	if (len > 0 && data != NULL)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	return 0;
}


int cfs_buffer_reserve(cfs_buffer *b, size_t len)
{
	size_t saved = b->len;

	if (cfs_buffer_add(b, NULL, len) != 0)
		return -1;
	b->len = saved;
	return 0;
}


int cfs_buffer_addc(cfs_buffer *b, char c)
{
	if (b->len < b->cap) {
		b->data[b->len++] = c;
		return 0;
	}
	return cfs_buffer_add(b, &c, 1);
}


void cfs_buffer_release(cfs_buffer *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}
