/* The registry of energy sources, in the order they are tried. One line per source. */
#include "lib/source.h"

extern const struct gops_source_ops gops_source_nvml;

const struct gops_source_ops *const gops_sources[] = {
	&gops_source_nvml,
};
const size_t gops_n_sources = sizeof gops_sources / sizeof gops_sources[0];
