/*
 * Preloaded after libasan under `make asan`: lua5.4 is not instrumented,
 * so libasan must be preloaded into it, but the processes the specs start
 * (sh, nginx, openssl, node, luajit) must not inherit it: LeakSanitizer
 * would fail them for their own leaks. This removes LD_PRELOAD from the
 * environment once the loader has read it.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>

__attribute__((constructor)) static void forget_preload(void)
{
	unsetenv("LD_PRELOAD");
}
