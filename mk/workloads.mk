# The embedded reference workload of `make demo`: a small CNN in C.
EXTRA_ALL += $(BUILD)/cnn-demo
$(BUILD)/cnn-demo: workloads/cnn/cnn.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE $(WARN) -O2 -o $@ $<
