# Unit tests: every tests/unit/test_*.c is one cmocka program linked with libgreenops.
# Fakes add their own rules in mk/fake_*.mk and append to TEST_EXTRA.
TEST_SRC  := $(wildcard tests/unit/test_*.c)
TEST_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(TEST_SRC))
CMOCKA_CFLAGS := $(shell pkg-config --cflags cmocka 2>/dev/null)
CMOCKA_LIBS   := $(shell pkg-config --libs cmocka 2>/dev/null)

.PHONY: tests
tests: $(TEST_BINS) $(TEST_EXTRA)

$(BUILD)/tests/test_%: tests/unit/test_%.c $(INTERNAL_LIB) $(GEN_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) -Itests $(LDFLAGS) -o $@ $< $(INTERNAL_LIB) $(CMOCKA_LIBS) $(LIBS)

# A test of a file of the command (not in the internal archive) links that file's object too.
CLI_TESTED := toml
$(foreach t,$(CLI_TESTED),$(eval $(BUILD)/tests/test_$(t): $(BUILD)/obj/src/cli/$(t).o))
$(patsubst %,$(BUILD)/tests/test_%,$(CLI_TESTED)): $(BUILD)/tests/test_%: tests/unit/test_%.c $(INTERNAL_LIB) $(GEN_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) -Itests $(LDFLAGS) -o $@ $< $(BUILD)/obj/src/cli/$*.o $(INTERNAL_LIB) $(CMOCKA_LIBS) $(LIBS)
