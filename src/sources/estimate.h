/* The estimator's model, which its unit test reaches: CPU power from load and a full-load
 * figure, the TDP table, RAM power from installed memory. Included by estimate.c and its test
 * only. */
#ifndef GOPS_SOURCES_ESTIMATE_H
#define GOPS_SOURCES_ESTIMATE_H

#include "sources/source.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The CPU model: power at `load` for a CPU whose full-load power is tdp_w. */
double gops_estimate_cpu_power(double tdp_w, double load);
/* Fraction of full-load power drawn at zero load. */
#define GOPS_ESTIMATE_IDLE_FRACTION 0.21
/* Watts per thread when the CPU model is unknown. */
#define GOPS_ESTIMATE_W_PER_THREAD 3.5
/* Watts per GB of installed memory. */
#define GOPS_ESTIMATE_W_PER_GB 0.375

enum gops_tdp_origin { GOPS_TDP_GIVEN, GOPS_TDP_TABLE, GOPS_TDP_DEFAULT };
/* Chooses the full-load CPU power for the threads this machine shows: given_w when positive
 * (the caller's --cpu-tdp), else the table entry matching cpuinfo's model name (scaled to the
 * threads visible), else the per-thread default. `why` says which, for labels and notes. */
void gops_estimate_tdp(const char *cpuinfo, double given_w, double *tdp_w, enum gops_tdp_origin *origin,
                       char *why, size_t whylen);
/* Number of "processor" entries in /proc/cpuinfo text (at least 1). */
long gops_estimate_threads(const char *cpuinfo);
/* RAM power from /proc/meminfo text; -EINVAL without MemTotal. */
int gops_estimate_ram(const char *meminfo, double *watts, double *gb);

#endif
