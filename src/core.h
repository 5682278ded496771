/* What the parts of cfs.core share; not a public header. */
#ifndef CFS_CORE_H
#define CFS_CORE_H

#include "compat.h"

#include <stddef.h>

#define CFS_VERSION "0.1.0"

/* 1 when s[0..len) is well-formed UTF-8, else 0; *bad gets the offset. */
int cfs_utf8_valid(const char *s, size_t len, size_t *bad);

/* Lua functions, registered by core.c. */
int cfs_l_encode(lua_State *L);
int cfs_l_decode(lua_State *L);
int cfs_l_signer_new(lua_State *L);
int cfs_l_sign(lua_State *L);
int cfs_l_http_new(lua_State *L);
int cfs_l_multi_new(lua_State *L);

/* Metatables each part registers at luaopen time. */
void cfs_signer_register(lua_State *L);
void cfs_http_register(lua_State *L);

/* Process-wide libcurl set-up, done once whatever the number of states. */
int cfs_http_global_init(void);

#endif
