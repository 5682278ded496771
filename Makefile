# Developer paths. `make` builds cfs.core for Lua 5.4 and LuaJIT into
# build/; the other targets run from the tree, nothing is installed.

CC ?= cc
CFLAGS ?= -O2 -g
WARN = -std=c99 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wpointer-arith
CURL_CFLAGS := $(shell pkg-config --cflags libcurl 2>/dev/null)
LIBS = -lcurl -lcrypto -lpthread

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

.PHONY: all env test demo clean rock install
