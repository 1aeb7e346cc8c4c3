# The results database's crash-test helper (tests/e2e/db.sh kills it mid-commit).
TEST_EXTRA += $(BUILD)/tests/db-writer

$(BUILD)/tests/db-writer: tests/e2e/db_writer.c $(INTERNAL_LIB) $(GEN_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(INTERNAL_LIB) $(LIBS)

# Its throughput benchmark (figures in docs/DATABASE.md).
EXTRA_ALL += $(BUILD)/bench/db-bench

$(BUILD)/bench/db-bench: bench/db_bench.c $(INTERNAL_LIB) $(GEN_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(INTERNAL_LIB) $(LIBS)
