# greenops — top-level build. `make` builds libgreenops (static and shared) and build/greenops;
# `make test` runs every test; `make demo` measures a workload and shows the result.
# Each part of the tree may add rules in mk/<part>.mk; sources are found by wildcard.

PREFIX  ?= /usr/local
BUILD   ?= build
VERSION := 0.1.0
CC      ?= cc
PKGS    := libcurl sqlite3 gsl yaml-0.1 jansson libmicrohttpd libprotobuf-c
SAN     ?=
.DEFAULT_GOAL := all

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter
CFLAGS  ?= -O2 -g
ifneq ($(SAN),)
CFLAGS  := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE -fPIC $(WARN) $(CFLAGS) -Iinclude -Isrc -I$(BUILD)/gen \
	-DGOPS_VERSION_STRING='"$(VERSION)"' $(PKG_CFLAGS)
LIBS    := $(PKG_LIBS) -ldl -lpthread -lm

LIB_SRC := $(wildcard src/base/*.c src/sources/*.c src/meter/*.c src/store/*.c src/loadgen/*.c src/analysis/*.c src/model/*.c)
CLI_SRC := $(wildcard src/cli/*.c)
GEN_SRC :=
GEN_HDR :=

-include $(wildcard mk/*.mk)

LIB_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRC)) $(patsubst %.c,%.o,$(GEN_SRC))
CLI_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(CLI_SRC))

.PHONY: all deps test demo install clean asan format check-format
all: $(BUILD)/greenops $(BUILD)/libgreenops.a $(BUILD)/libgreenops.so $(BUILD)/greenops.pc $(EXTRA_ALL)

deps:
	@./scripts/deps.sh

$(BUILD)/obj/%.o: %.c $(GEN_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libgreenops.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libgreenops.so: $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libgreenops.so.0 $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/greenops: $(CLI_OBJ) $(BUILD)/libgreenops.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libgreenops.a $(LIBS)

$(BUILD)/greenops.pc: Makefile
	@mkdir -p $(BUILD)
	@printf 'prefix=%s\nlibdir=$${prefix}/lib\nincludedir=$${prefix}/include\n\nName: greenops\nDescription: energy measurement for machine-learning work\nVersion: %s\nLibs: -L$${libdir} -lgreenops\nLibs.private: %s\nRequires.private: %s\nCflags: -I$${includedir}\n' \
		'$(PREFIX)' '$(VERSION)' '-ldl -lpthread -lm' '$(PKGS)' > $@

test: deps
	@$(MAKE) --no-print-directory all tests
	@./tests/run.sh $(BUILD)

asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan SAN=1 all tests
	@./tests/run.sh build-asan

demo: deps
	@$(MAKE) --no-print-directory all
	@./scripts/demo.sh $(BUILD)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/greenops
	install -m 755 $(BUILD)/greenops $(DESTDIR)$(PREFIX)/bin/greenops
	install -m 644 $(BUILD)/libgreenops.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libgreenops.so $(DESTDIR)$(PREFIX)/lib/libgreenops.so.0
	ln -sf libgreenops.so.0 $(DESTDIR)$(PREFIX)/lib/libgreenops.so
	install -m 644 include/greenops/greenops.h $(DESTDIR)$(PREFIX)/include/greenops/
	install -m 644 $(BUILD)/greenops.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

check-format: deps
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) build-asan

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
