# Developer paths. `make` builds cfs.core for Lua 5.4 and LuaJIT into
# build/; the other targets run from the tree, nothing is installed.

CC ?= cc
CFLAGS ?= -O2 -g
WARN = -std=c99 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wpointer-arith
CURL_CFLAGS := $(shell pkg-config --cflags libcurl 2>/dev/null)
LIBS = -lcurl -lcrypto -lpthread -lm

SRC = src/core.c src/sign.c src/encode.c src/decode.c src/http.c \
      src/buffer.c
HDR = $(wildcard src/*.h)

LUA54_INC = -I/usr/include/lua5.4
LUAJIT_INC = -I/usr/include/luajit-2.1

BUILD = build
LUA_PATH_TREE = $(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;;

all: $(BUILD)/5.4/cfs/core.so $(BUILD)/jit/cfs/core.so

# Lua 5.3 and 5.1 builds, for the compatibility suites of scripts/test.sh.
compat: $(BUILD)/5.3/cfs/core.so $(BUILD)/5.1/cfs/core.so

$(BUILD)/5.3/cfs/core.so $(BUILD)/5.1/cfs/core.so: $(SRC) $(HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -fPIC -shared \
		-I/usr/include/lua$(word 2,$(subst /, ,$@)) $(CURL_CFLAGS) \
		-o $@ $(SRC) $(LIBS)

$(BUILD)/5.4/cfs/core.so: $(SRC) $(HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -fPIC -shared $(LUA54_INC) $(CURL_CFLAGS) \
		-o $@ $(SRC) $(LIBS)

$(BUILD)/jit/cfs/core.so: $(SRC) $(HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -fPIC -shared $(LUAJIT_INC) $(CURL_CFLAGS) \
		-o $@ $(SRC) $(LIBS)

# What `luarocks make` runs: LUA_INCDIR, LIBFLAG, LUADIR, LIBDIR, BINDIR
# come from luarocks.
LIBFLAG ?= -shared
rock:
	@mkdir -p $(BUILD)/rock/cfs
	$(CC) $(CFLAGS) $(WARN) -fPIC $(LIBFLAG) -I$(LUA_INCDIR) \
		$(CURL_CFLAGS) -o $(BUILD)/rock/cfs/core.so $(SRC) $(LIBS)

install:
	mkdir -p $(LIBDIR)/cfs $(LUADIR) $(BINDIR)
	cp $(BUILD)/rock/cfs/core.so $(LIBDIR)/cfs/core.so
	cp -R lua/cfs $(LUADIR)/
	for f in bin/*; do cp $$f $(BINDIR)/; done

# Prints the variables that make `lua5.4` use this tree.
env:
	@echo 'export LUA_PATH="$(LUA_PATH_TREE)"'
	@echo 'export LUA_CPATH="$(CURDIR)/$(BUILD)/5.4/?.so;;"'

test: all
	sh scripts/test.sh

demo: all
	sh scripts/demo.sh

clean:
	rm -rf $(BUILD)

# The LDoc reference (config.ld) in build/docs/.
docs:
	ldoc .

.PHONY: docs

# ---- sanitizers and fuzzing (docs/hardening.md) ----------------------------

# `make asan`: cfs.core with ASan+UBSan, and the whole Lua 5.4 suite on it.
# lua5.4 is not instrumented, so libasan is preloaded; unpreload.so then
# takes LD_PRELOAD out of the environment the specs' children inherit.
# core.so is preloaded too, so that lua_close's dlclose leaves it mapped
# and a leak report can still name our functions.
ASAN_FLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
LIBASAN := $(shell $(CC) -print-file-name=libasan.so)
TEST_LUA_PATH = $(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;$(CURDIR)/?.lua;;
BUSTED_OUTPUT ?= utfTerminal
SPECS ?= spec/

$(BUILD)/asan/cfs/core.so: $(SRC) $(HDR)
	@mkdir -p $(dir $@)
	$(CC) $(ASAN_FLAGS) $(WARN) -fPIC -shared $(LUA54_INC) \
		$(CURL_CFLAGS) -o $@ $(SRC) $(LIBS)

$(BUILD)/asan/unpreload.so: spec/helpers/unpreload.c
	@mkdir -p $(dir $@)
	$(CC) -O2 $(WARN) -fPIC -shared -o $@ $<

asan: $(BUILD)/asan/cfs/core.so $(BUILD)/asan/unpreload.so
	LD_PRELOAD="$(LIBASAN) $(CURDIR)/$(BUILD)/asan/unpreload.so \
		$(CURDIR)/$(BUILD)/asan/cfs/core.so" \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:print_suppressions=0 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/spec/asan.supp \
	UBSAN_OPTIONS=halt_on_error=1,print_stacktrace=1 \
	LUA_PATH="$(TEST_LUA_PATH)" LUA_CPATH="$(CURDIR)/$(BUILD)/asan/?.so;;" \
		lua5.4 /usr/bin/busted -o $(BUSTED_OUTPUT) $(SPECS)

# `make valgrind`: the specs that drive cfs.core, under memcheck (the
# whole suite would take too long there). keep-debuginfo: lua_close
# unloads core.so before the leak check would name its functions.
VALGRIND_SPECS ?= spec/core_sign_spec.lua spec/core_encode_spec.lua \
	spec/core_decode_spec.lua spec/client_spec.lua spec/hostile_spec.lua \
	spec/canary_spec.lua
valgrind: $(BUILD)/5.4/cfs/core.so
	LUA_PATH="$(TEST_LUA_PATH)" LUA_CPATH="$(CURDIR)/$(BUILD)/5.4/?.so;;" \
	valgrind --quiet --leak-check=full --keep-debuginfo=yes \
		--errors-for-leak-kinds=definite,indirect \
		--show-leak-kinds=definite,indirect --error-exitcode=99 \
		--suppressions=$(CURDIR)/spec/valgrind.supp \
		lua5.4 /usr/bin/busted -o $(BUSTED_OUTPUT) $(VALGRIND_SPECS)

# `make fuzz`: libFuzzer targets (clang); `make fuzz-run FUZZ_SECONDS=60`.
FUZZ_CC = clang
FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_SECONDS ?= 60
# lua-cjson's library by its run-time name: the -dev package is not needed.
FUZZ_CJSON = -l:liblua5.4-cjson.so.0
FUZZ_TARGETS = decode encode sign
FUZZ_BINS = $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)

$(BUILD)/fuzz/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz_lua.h $(SRC) $(HDR)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(WARN) -Isrc $(LUA54_INC) $(CURL_CFLAGS) \
		-o $@ $< $(SRC) $(FUZZ_CJSON) -llua5.4 $(LIBS) -lm

fuzz: $(FUZZ_BINS)

# Lua's collector frees a run's memory in later runs, which libFuzzer's
# per-input leak check takes for a leak (and scans the heap for, at every
# new input): the Lua targets are checked for leaks once, at exit.
FUZZ_OPTS_decode = -detect_leaks=0
FUZZ_OPTS_encode = -detect_leaks=0
FUZZ_OPTS_sign =

fuzz-run: fuzz
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p $(BUILD)/fuzz/corpus/$$t || exit 1; \
		echo "== fuzz_$$t, $(FUZZ_SECONDS) s"; \
		case $$t in \
		decode) opts="$(FUZZ_OPTS_decode)";; \
		encode) opts="$(FUZZ_OPTS_encode)";; \
		*) opts="$(FUZZ_OPTS_sign)";; \
		esac; \
		$(BUILD)/fuzz/fuzz_$$t $$opts -max_total_time=$(FUZZ_SECONDS) \
			-print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz/ \
			$(BUILD)/fuzz/corpus/$$t fuzz/corpus/$$t || exit 1; \
	done

.PHONY: all env test demo clean rock install asan valgrind fuzz fuzz-run
