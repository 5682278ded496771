/*
 * A growable byte buffer whose memory a Lua userdata owns, so that a Lua
 * error raised while it is being filled (out of memory) leaks nothing: the
 * collector frees it.
 */
#ifndef CFS_BUFFER_H
#define CFS_BUFFER_H

#include "compat.h"

#include <stddef.h>

typedef struct cfs_buffer {
	char *data;
	size_t len;
	size_t cap;
} cfs_buffer;

/* Pushes a new empty buffer userdata and returns it. */
cfs_buffer *cfs_buffer_push(lua_State *L);

/* Returns 0, or -1 when memory runs out. */
int cfs_buffer_add(cfs_buffer *b, const void *data, size_t len);
int cfs_buffer_addc(cfs_buffer *b, char c);

/* Makes room for len more bytes without adding any. */
int cfs_buffer_reserve(cfs_buffer *b, size_t len);

/* Frees the memory now rather than at collection; safe twice. */
void cfs_buffer_release(cfs_buffer *b);

#define CFS_BUFFER_ADDS(b, s) cfs_buffer_add((b), (s), sizeof(s) - 1)

#endif
