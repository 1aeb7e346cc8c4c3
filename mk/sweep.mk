# Sweeps: plan reading, ordering and the sweep tables (src/sweep, in the internal archive the tool links).
LIB_SRC += $(wildcard src/sweep/*.c)
