# The Slurm SPANK plugin (contrib/slurm): built where Slurm's headers are installed (Debian's
# libslurm-dev), with the internal archive (measuring and store) linked in statically and only
# the plugin's entry points exported: compiled with default visibility, its version script
# picks them. Not in sanitizer builds: slurmstepd could not load it.
SLURM_SPANK_H := $(wildcard /usr/include/slurm/spank.h)
ifeq ($(SAN),)
ifneq ($(SLURM_SPANK_H),)
EXTRA_ALL += $(BUILD)/greenops_spank.so

$(BUILD)/greenops_spank.so: contrib/slurm/greenops_spank.c contrib/slurm/greenops_spank.map $(INTERNAL_LIB)
	$(CC) $(ALL_CFLAGS) -fvisibility=default -shared $(LDFLAGS) -Wl,--version-script=contrib/slurm/greenops_spank.map \
		-Wl,--exclude-libs,ALL -o $@ $< $(INTERNAL_LIB) $(LIBS)
else
EXTRA_ALL += slurm-plugin-skipped
.PHONY: slurm-plugin-skipped
slurm-plugin-skipped:
	@echo "greenops: skipping the Slurm plugin: /usr/include/slurm/spank.h not found (apt-get install libslurm-dev)"
endif
endif
