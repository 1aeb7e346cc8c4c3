# Each libFuzzer target of bench/ (bench/fuzz.sh runs them) is also a test program that
# replays the target's corpus and findings: build/tests/test_fuzz_TARGET.
FUZZ_REPLAY := sse control csv dataset
TEST_EXTRA += $(patsubst %,$(BUILD)/tests/test_fuzz_%,$(FUZZ_REPLAY))

$(BUILD)/tests/test_fuzz_%: bench/fuzz_%.c tests/unit/fuzz_replay.c $(INTERNAL_LIB) $(GEN_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DFUZZ_DIR='"tests/fixtures/fuzz/$*"' $(LDFLAGS) -o $@ $< tests/unit/fuzz_replay.c \
		$(INTERNAL_LIB) $(LIBS)
