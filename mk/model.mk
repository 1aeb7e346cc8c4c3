# ONNX reading: C code generated at build time from Debian's onnx.proto (libonnx-dev) with
# protoc-c, compiled into libgreenops; plus the test model generator and the benchmark reader.
ONNX_PROTO ?= /usr/include/onnx/onnx.proto
ONNX_GEN   := $(BUILD)/gen/onnx

GEN_SRC += $(ONNX_GEN)/onnx.pb-c.c
GEN_HDR += $(ONNX_GEN)/onnx.pb-c.h

$(ONNX_GEN)/onnx.pb-c.c $(ONNX_GEN)/onnx.pb-c.h &: $(ONNX_PROTO)
	@mkdir -p $(ONNX_GEN)
	protoc-c --c_out=$(ONNX_GEN) --proto_path=$(dir $(ONNX_PROTO)) $(ONNX_PROTO)

$(ONNX_GEN)/onnx.pb-c.o: $(ONNX_GEN)/onnx.pb-c.c $(ONNX_GEN)/onnx.pb-c.h
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# Writes test models with the generated API (unit tests, end-to-end tests, benchmarks, fuzz corpus).
$(BUILD)/tests/onnx_gen: tests/fixtures/onnx/onnx_gen.c tests/unit/test_onnx_builder.h $(INTERNAL_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(INTERNAL_LIB) $(LIBS)

# Reads a model with and without dropping weight payloads (bench/macs_large.sh).
$(BUILD)/bench/macs_read: bench/macs_read.c $(INTERNAL_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(INTERNAL_LIB) $(LIBS)

TEST_EXTRA += $(BUILD)/tests/onnx_gen
