/*
 * A C host that owns its lua_States and uses lua-cfs inside them, as a
 * game tool would. cfs.core and lua-cjson are linked in (see embed.c);
 * the Lua side of lua-cfs comes from LUA_DIR (default: the tree's lua/).
 *
 *   host [-l LUA_DIR] run SCRIPT [ARG...]      one state runs SCRIPT
 *   host [-l LUA_DIR] threads N CALLS WORKER   N threads, a state each
 *   host [-l LUA_DIR] states N WORKER          N states, one after another
 *   host [-l LUA_DIR] quiet WORKER             checks signals and output
 *
 * A WORKER script returns function(index, calls) -> ok_count [, error].
 * The host prints its own lines only; the library prints nothing.
 */
#define _POSIX_C_SOURCE 200809L

#include "embed.h"

#include <lauxlib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef EMBED_LUA_DIR
#define EMBED_LUA_DIR "lua"
#endif

#define ERR_SIZE 512

/* NSIG is not POSIX; Linux has 64 signals, numbered from 1. */
#ifndef NSIG
#define NSIG 65
#endif

static const char USAGE[] =
	"usage: host [-l LUA_DIR] run SCRIPT [ARG...]\n"
	"       host [-l LUA_DIR] threads N CALLS WORKER\n"
	"       host [-l LUA_DIR] states N WORKER\n"
	"       host [-l LUA_DIR] quiet WORKER\n";


/* Sets the global `arg` as the lua5.4 program does: arg[0] is SCRIPT.
 * Called protected: (argc, argv) are its two arguments. */
static int set_args(lua_State *L)
{
	int argc = (int)lua_tointeger(L, 1), i;
	char **argv = lua_touserdata(L, 2);

	lua_createtable(L, argc, 0);
	for (i = 0; i < argc; i++) {
		lua_pushstring(L, argv[i]);
		lua_rawseti(L, -2, i);
	}
	lua_setglobal(L, "arg");
	return 0;
}

static int mode_run(const char *lua_dir, int argc, char **argv)
{
	lua_State *L = embed_open(lua_dir);
	int status;

	if (L == NULL) {
		fprintf(stderr, "host: cannot make a lua_State\n");
		return 1;
	}
	lua_pushcfunction(L, set_args);
	lua_pushinteger(L, argc);
	lua_pushlightuserdata(L, argv);
	status = lua_pcall(L, 2, 0, 0);
	if (status == LUA_OK)
		status = luaL_dofile(L, argv[0]);
	if (status != LUA_OK) {
		const char *message = lua_tostring(L, -1);

		fprintf(stderr, "host: %s\n", message ? message : "error");
	}
	lua_close(L);
	return status == LUA_OK ? 0 : 1;
}


/* Opens and closes `count` states, each running the worker once. */
static int mode_states(const char *lua_dir, long count, const char *script)
{
	char err[ERR_SIZE];
	long i, ok = 0;

	for (i = 1; i <= count; i++) {
		lua_State *L = embed_open(lua_dir);

		if (L == NULL) {
			fprintf(stderr, "host: cannot make a lua_State\n");
			break;
		}
		if (embed_run_worker(L, script, i, 1, err, sizeof(err)) == 1)
			ok++;
		else
			fprintf(stderr, "host: state %ld: %s\n", i, err);
		lua_close(L);
	}
	printf("states=%ld ok=%ld\n", count, ok);
	return ok == count ? 0 : 1;
}


/* ---- quiet: no signal handlers, no output ----------------------------- */

typedef struct signal_state {
	struct sigaction actions[NSIG];
	sigset_t mask;
} signal_state;

static void read_signals(signal_state *s)
{
	int sig;

	memset(s, 0, sizeof(*s));
	for (sig = 1; sig < NSIG; sig++)
		sigaction(sig, NULL, &s->actions[sig]);
	sigprocmask(SIG_BLOCK, NULL, &s->mask);
}

/* The signals whose disposition or blocking changed; 0 when none. */
static int changed_signals(const signal_state *before,
			   const signal_state *after)
{
	int sig, changed = 0;

	for (sig = 1; sig < NSIG; sig++) {
		const struct sigaction *a = &before->actions[sig];
		const struct sigaction *b = &after->actions[sig];

		if (a->sa_handler != b->sa_handler ||
		    a->sa_flags != b->sa_flags ||
		    sigismember(&before->mask, sig) !=
		    sigismember(&after->mask, sig)) {
			printf("host: signal %d changed\n", sig);
			changed++;
		}
	}
	return changed;
}

/* Points fds 1 and 2 at `capture`, keeping the old ones in saved[]. */
static int redirect_output(FILE *capture, int saved[2])
{
	fflush(stdout);
	fflush(stderr);
	saved[0] = dup(1);
	saved[1] = dup(2);
	if (saved[0] < 0 || saved[1] < 0)
		return -1;
	if (dup2(fileno(capture), 1) < 0 || dup2(fileno(capture), 2) < 0)
		return -1;
	return 0;
}

static void restore_output(int saved[2])
{
	fflush(stdout);
	fflush(stderr);
	dup2(saved[0], 1);
	dup2(saved[1], 2);
	close(saved[0]);
	close(saved[1]);
}

/* Runs the worker with SIGPIPE at its default (death), output captured. */
static long quiet_work(const char *lua_dir, const char *script,
		       char *summary, size_t size)
{
	lua_State *L = embed_open(lua_dir);
	long ok;

	if (L == NULL) {
		snprintf(summary, size, "cannot make a lua_State");
		return -1;
	}
	ok = embed_run_worker(L, script, 1, 1, summary, size);
	lua_close(L);
	return ok;
}

static int mode_quiet(const char *lua_dir, const char *script)
{
	signal_state before, after;
	char summary[ERR_SIZE];
	FILE *capture = tmpfile();
	int saved[2], changed;
	long ok, captured;
	sigset_t pipe_only;

	/* A write to a closed connection must be the library's to handle:
	 * if it let SIGPIPE through, this process would die. */
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&pipe_only);
	sigaddset(&pipe_only, SIGPIPE);
	sigprocmask(SIG_UNBLOCK, &pipe_only, NULL);
	if (capture == NULL || redirect_output(capture, saved) != 0) {
		fprintf(stderr, "host: cannot capture output\n");
		return 1;
	}
	read_signals(&before);
	ok = quiet_work(lua_dir, script, summary, sizeof(summary));
	read_signals(&after);
	restore_output(saved);

	fseek(capture, 0, SEEK_END);
	captured = ftell(capture);
	fclose(capture);
	changed = changed_signals(&before, &after);
	printf("host: worker ok=%ld: %s\n", ok, summary);
	printf("host: library output bytes=%ld\n", captured);
	printf("host: signals changed=%d\n", changed);
	return ok == 1 && captured == 0 && changed == 0 ? 0 : 1;
}


static long count_arg(const char *text)
{
	char *end;
	long n = strtol(text, &end, 10);

	return *end == '\0' && n > 0 ? n : -1;
}

int main(int argc, char **argv)
{
	const char *lua_dir = EMBED_LUA_DIR;
	int i = 1;

	if (argc > 2 && strcmp(argv[1], "-l") == 0)
		lua_dir = argv[2], i = 3;
	if (argc - i >= 2 && strcmp(argv[i], "run") == 0)
		return mode_run(lua_dir, argc - i - 1, argv + i + 1);
	if (argc - i == 4 && strcmp(argv[i], "threads") == 0 &&
	    count_arg(argv[i + 1]) > 0 && count_arg(argv[i + 2]) > 0)
		return embed_threads(lua_dir, argv[i + 3],
				     (int)count_arg(argv[i + 1]),
				     count_arg(argv[i + 2]));
	if (argc - i == 3 && strcmp(argv[i], "states") == 0 &&
	    count_arg(argv[i + 1]) > 0)
		return mode_states(lua_dir, count_arg(argv[i + 1]),
				   argv[i + 2]);
	if (argc - i == 2 && strcmp(argv[i], "quiet") == 0)
		return mode_quiet(lua_dir, argv[i + 1]);
	fputs(USAGE, stderr);
	return 2;
}
