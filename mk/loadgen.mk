# serve-bench extras: the fast canned-stream server of the client-capacity benchmark
# (bench/serve_capacity.sh). Built with `make` so that it compiles under the same warnings.
$(BUILD)/bench/serve_capacity_server: bench/serve_capacity_server.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE $(WARN) -O2 -g $(LDFLAGS) -o $@ $<

EXTRA_ALL += $(BUILD)/bench/serve_capacity_server
