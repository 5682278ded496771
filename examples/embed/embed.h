/* What host.c and threads.c share: making a lua_State that has cfs. */
#ifndef EMBED_H
#define EMBED_H

#include <lua.h>

/*
 * A new lua_State with the standard libraries, cfs.core and cjson in
 * package.preload (linked into this program, so package.cpath is emptied)
 * and package.path set to lua_dir's modules. NULL when out of memory.
 */
lua_State *embed_open(const char *lua_dir);

/*
 * Loads `script`, which must return a function, and calls it with
 * (index, calls). Returns how many calls succeeded, or -1 with an error
 * message copied into err (size err_size).
 */
long embed_run_worker(lua_State *L, const char *script, long index,
		      long calls, char *err, size_t err_size);

/* The threads mode: see threads.c. Returns the process exit code. */
int embed_threads(const char *lua_dir, const char *script, int threads,
		  long calls);

#endif
