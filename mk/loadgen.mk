# serve-bench extras: the fast canned-stream server of the client-capacity benchmark
# (bench/serve_capacity.sh). Built with `make` so that it compiles under the same warnings.
$(BUILD)/bench/serve_capacity_server: bench/serve_capacity_server.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE $(WARN) -O2 -g $(LDFLAGS) -o $@ $<

EXTRA_ALL += $(BUILD)/bench/serve_capacity_server

# The parser's cost alone, and the barest libcurl-multi client: reference points of the
# capacity benchmark.
$(BUILD)/bench/sse_bench: bench/sse_bench.c $(INTERNAL_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(INTERNAL_LIB) $(LIBS)

$(BUILD)/bench/curl_bare: bench/curl_bare.c bench/open_loop.h
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE $(WARN) -O2 -g $(LDFLAGS) -o $@ $< $(PKG_LIBS) -lm

EXTRA_ALL += $(BUILD)/bench/sse_bench $(BUILD)/bench/curl_bare

# The floor: the same open loop on plain sockets, no HTTP library.
$(BUILD)/bench/raw_bare: bench/raw_bare.c bench/open_loop.h
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE $(WARN) -O2 -g $(LDFLAGS) -o $@ $< -lm

EXTRA_ALL += $(BUILD)/bench/raw_bare
