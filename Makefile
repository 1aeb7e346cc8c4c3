# greenops — top-level build. `make` builds libgreenops (static and shared: the measuring
# library, base + sources + meter, exporting only include/greenops/greenops.h) and
# build/greenops (which links every part from the internal archive libgreenops-internal.a);
# `make test` runs every test; `make demo` measures a workload and shows the result.
# Each part of the tree may add rules in mk/<part>.mk; sources are found by wildcard.
# docs/ARCHITECTURE.md says which part may use which.

PREFIX  ?= /usr/local
BUILD   ?= build
VERSION := 0.1.0
CC      ?= cc
PKGS    := libcurl sqlite3 gsl yaml-0.1 jansson libmicrohttpd libprotobuf-c
SAN     ?=
.DEFAULT_GOAL := all

# What libgreenops itself needs: a program that only measures links nothing more.
MEASURE_PKGS := jansson
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
MEASURE_LIBS := $(shell pkg-config --libs $(MEASURE_PKGS) 2>/dev/null) -ldl -lpthread -lm

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter
CFLAGS  ?= -O2 -g
ifneq ($(SAN),)
CFLAGS  := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE -fPIC -fvisibility=hidden $(WARN) $(CFLAGS) -Iinclude -Isrc -I$(BUILD)/gen \
	-DGOPS_VERSION_STRING='"$(VERSION)"' $(PKG_CFLAGS)
LIBS    := $(PKG_LIBS) -ldl -lpthread -lm

MEASURE_SRC := $(wildcard src/base/*.c src/sources/*.c src/meter/*.c)
TOOL_SRC    := $(wildcard src/store/*.c src/loadgen/*.c src/analysis/*.c src/model/*.c)
LIB_SRC := $(MEASURE_SRC) $(TOOL_SRC)
INTERNAL_LIB := $(BUILD)/libgreenops-internal.a
CLI_SRC := $(wildcard src/cli/*.c)
GEN_SRC :=
GEN_HDR :=

-include $(wildcard mk/*.mk)

MEASURE_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(MEASURE_SRC))
LIB_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRC)) $(patsubst %.c,%.o,$(GEN_SRC))
CLI_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(CLI_SRC))

.PHONY: all deps test demo install uninstall clean asan format check-format FORCE
all: $(BUILD)/greenops $(BUILD)/libgreenops.a $(BUILD)/libgreenops.so $(BUILD)/libgreenops.so.0 \
	$(BUILD)/greenops.pc $(BUILD)/greenops-uninstalled.pc $(BUILD)/greenops.1 $(EXTRA_ALL)

deps:
	@./scripts/deps.sh

# Every object depends on the Makefile: a change of flags (visibility) rebuilds it.
$(BUILD)/obj/%.o: %.c $(GEN_HDR) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

# The measuring library, for programs outside this tree.
$(BUILD)/libgreenops.a: $(MEASURE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libgreenops.so: $(MEASURE_OBJ)
	$(CC) -shared -Wl,-soname,libgreenops.so.0 -Wl,--no-undefined $(LDFLAGS) -o $@ $^ $(MEASURE_LIBS)

$(BUILD)/libgreenops.so.0: $(BUILD)/libgreenops.so
	ln -sf libgreenops.so $@

# Every part, for the tool, the tests and the benchmarks only (never installed).
$(INTERNAL_LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/greenops: $(CLI_OBJ) $(INTERNAL_LIB)
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(INTERNAL_LIB) $(LIBS)

# The manual page, from the tool's own help texts.
$(BUILD)/greenops.1: $(BUILD)/greenops scripts/man.sh
	./scripts/man.sh $(BUILD)/greenops > $@.tmp && mv $@.tmp $@

PC_FORMAT := 'prefix=%s\nlibdir=%s\nincludedir=%s\n\nName: greenops\nDescription: energy measurement for machine-learning work\nVersion: %s\nLibs: -L$${libdir} -lgreenops\nLibs.private: %s\nRequires.private: %s\nCflags: -I$${includedir}\n'

# Rewritten whenever PREFIX or VERSION changes (the file is only replaced when its text does).
$(BUILD)/greenops.pc: FORCE
	@mkdir -p $(BUILD)
	@printf $(PC_FORMAT) '$(PREFIX)' '$${prefix}/lib' '$${prefix}/include' '$(VERSION)' '-ldl -lpthread -lm' \
		'$(MEASURE_PKGS)' > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

FORCE:

# The same for a program built against this build tree (PKG_CONFIG_PATH=$(BUILD)).
$(BUILD)/greenops-uninstalled.pc: Makefile
	@mkdir -p $(BUILD)
	@printf $(PC_FORMAT) '$(CURDIR)' '$(abspath $(BUILD))' '$${prefix}/include' '$(VERSION)' \
		'-ldl -lpthread -lm' '$(MEASURE_PKGS)' > $@

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
	install -d $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
		$(DESTDIR)$(PREFIX)/share/zsh/site-functions
	install -m 644 $(BUILD)/greenops.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 contrib/completion/greenops.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/greenops
	install -m 644 contrib/completion/_greenops $(DESTDIR)$(PREFIX)/share/zsh/site-functions/
	@# greenops report's plotting libraries, where the build could install them (mk/report.mk)
	if [ -f $(BUILD)/report/node_modules/.installed ]; then \
		install -d $(DESTDIR)$(PREFIX)/share/greenops/report && \
		cp -r $(BUILD)/report/node_modules $(BUILD)/report/render.mjs $(DESTDIR)$(PREFIX)/share/greenops/report/; \
	fi

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/greenops $(DESTDIR)$(PREFIX)/lib/libgreenops.a \
		$(DESTDIR)$(PREFIX)/lib/libgreenops.so.0 $(DESTDIR)$(PREFIX)/lib/libgreenops.so \
		$(DESTDIR)$(PREFIX)/include/greenops/greenops.h $(DESTDIR)$(PREFIX)/lib/pkgconfig/greenops.pc
	rm -f $(DESTDIR)$(PREFIX)/share/man/man1/greenops.1 \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/greenops \
		$(DESTDIR)$(PREFIX)/share/zsh/site-functions/_greenops
	rm -rf $(DESTDIR)$(PREFIX)/share/greenops/report
	-rmdir $(DESTDIR)$(PREFIX)/include/greenops $(DESTDIR)$(PREFIX)/share/greenops 2>/dev/null

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

check-format: deps
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) build-asan

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
