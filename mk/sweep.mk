# Sweeps: plan reading, ordering and the sweep tables (src/sweep, part of libgreenops).
LIB_SRC += $(wildcard src/sweep/*.c)
