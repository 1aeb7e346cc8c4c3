# The fake libnvidia-ml.so and its variants, built from one source for the tests
# (GREENOPS_NVML_LIBRARY points the NVML source at them). `make tests` builds them. Their nvml*
# functions are what they are for: default visibility, unlike the library's objects.
FAKE_NVML_SRC := tests/fakes/fake_nvml.c
FAKE_NVML_VARIANTS := noenergy:-DFAKE_NVML_NO_ENERGY nofield:-DFAKE_NVML_NO_FIELD \
	nocount:-DFAKE_NVML_NO_COUNT v1:-DFAKE_NVML_NO_V2
FAKE_NVML_LIBS := $(BUILD)/tests/libfake-nvml.so \
	$(foreach v,$(FAKE_NVML_VARIANTS),$(BUILD)/tests/libfake-nvml-$(word 1,$(subst :, ,$(v))).so)
TEST_EXTRA += $(FAKE_NVML_LIBS)

$(BUILD)/tests/libfake-nvml.so: $(FAKE_NVML_SRC) src/sources/nvml_types.h mk/fake_nvml.mk
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fvisibility=default -shared $(LDFLAGS) -o $@ $< -lpthread -lm

define FAKE_NVML_VARIANT_RULE
$(BUILD)/tests/libfake-nvml-$(word 1,$(subst :, ,$(1))).so: $(FAKE_NVML_SRC) src/sources/nvml_types.h mk/fake_nvml.mk
	@mkdir -p $$(dir $$@)
	$$(CC) $$(ALL_CFLAGS) -fvisibility=default $(word 2,$(subst :, ,$(1))) -shared $$(LDFLAGS) -o $$@ $$< -lpthread -lm
endef
$(foreach v,$(FAKE_NVML_VARIANTS),$(eval $(call FAKE_NVML_VARIANT_RULE,$(v))))
