/*
 * The threads mode: each thread owns one lua_State (and so its own cfs
 * client, signer and libcurl handle); nothing Lua is shared. The host
 * leaves libcurl's process-wide initialisation to cfs.core, whose
 * pthread_once makes the first thread to load it do it while the others
 * wait: this is the path under test. A host that uses libcurl elsewhere
 * should call curl_global_init itself before starting threads.
 */
#include "embed.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define ERR_SIZE 512

typedef struct worker {
	pthread_t thread;
	const char *lua_dir;
	const char *script;
	long index;
	long calls;
	long done;		/* calls that succeeded, or -1 */
	char err[ERR_SIZE];
} worker;


static void *run_worker(void *arg)
{
	worker *w = arg;
	lua_State *L = embed_open(w->lua_dir);

	if (L == NULL) {
		w->done = -1;
		snprintf(w->err, ERR_SIZE, "cannot make a lua_State");
		return NULL;
	}
	w->done = embed_run_worker(L, w->script, w->index, w->calls, w->err,
				   ERR_SIZE);
	lua_close(L);
	return NULL;
}

/* Joins the first `started` workers; returns the sum of their counts,
 * printing each failure. */
static long join_all(worker *workers, int started)
{
	long total = 0;
	int i;

	for (i = 0; i < started; i++) {
		pthread_join(workers[i].thread, NULL);
		if (workers[i].err[0] != '\0')
			fprintf(stderr, "host: thread %d: %s\n", i + 1,
				workers[i].err);
		if (workers[i].done > 0)
			total += workers[i].done;
	}
	return total;
}

int embed_threads(const char *lua_dir, const char *script, int threads,
		  long calls)
{
	worker *workers = calloc((size_t)threads, sizeof(*workers));
	long total;
	int i;

	if (workers == NULL)
		return 1;
	for (i = 0; i < threads; i++) {
		workers[i].lua_dir = lua_dir;
		workers[i].script = script;
		workers[i].index = i + 1;
		workers[i].calls = calls;
		if (pthread_create(&workers[i].thread, NULL, run_worker,
				   &workers[i]) != 0) {
			fprintf(stderr, "host: cannot start thread %d\n", i + 1);
			break;
		}
	}
	total = join_all(workers, i);
	printf("threads=%d calls=%ld ok=%ld\n", threads, threads * calls,
	       total);
	free(workers);
	return total == threads * calls ? 0 : 1;
}
