# CPU, memory and board sensors: the fake RAPL writer used by tests/e2e/sensors.sh and
# bench/sensors_overhead.sh, and the fake-tree header the sensor unit tests include.
FAKE_RAPL_WRITER := $(BUILD)/tests/fake-rapl-writer
TEST_EXTRA += $(FAKE_RAPL_WRITER)

$(FAKE_RAPL_WRITER): tests/fakes/fake_rapl_writer.c mk/sensors.mk
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $<

SENSOR_TESTS := powercap perf hwmon estimate select
$(foreach t,$(SENSOR_TESTS),$(eval $(BUILD)/tests/test_$(t): tests/fakes/fake_sysfs.h src/sources/sysfs.h))
