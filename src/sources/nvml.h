/* What the NVML source offers besides the generic ops table: the quiet checks that
 * `greenops idle` makes before it trusts a GPU's power as idle. `index` is the domain's
 * index (NVML's device index); `s` must come from gops_source_nvml.open. */
#ifndef GOPS_SRC_NVML_H
#define GOPS_SRC_NVML_H

#include "sources/source.h"

extern const struct gops_source_ops gops_source_nvml;

/* Number of processes holding a compute context on the GPU. GOPS_ENOTSUP where the
 * library or the GPU cannot tell, GOPS_ELOST when the GPU is gone, -EIO otherwise. */
int gops_nvml_compute_processes(struct gops_source *s, int index, unsigned *count);

/* Percent of the last sample period (1/6 s to 1 s) during which a kernel ran. */
int gops_nvml_utilization(struct gops_source *s, int index, unsigned *gpu_pct);

#endif
