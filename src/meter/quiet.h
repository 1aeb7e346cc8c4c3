/* What `greenops idle` checks before it trusts power as idle: CPU load from /proc/stat,
 * compute processes on the GPUs (NVML), and power that has settled (a sliding window's
 * standard deviation). Each piece is small and testable alone. */
#ifndef GOPS_QUIET_H
#define GOPS_QUIET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sources/sysfs.h"

/* CPU load: struct gops_cpu_times and gops_cpu_load() in sources/sysfs.h (steal, which is
 * not this machine's work, counts neither as busy nor as idle). */

/* --- settled power ------------------------------------------------------------------- */

/* Power readings of the last span_s seconds. */
struct gops_power_window {
	double span_s;
	size_t n, cap, first;
	double *t, *w;
};
void gops_power_window_init(struct gops_power_window *pw, double span_s);
/* Adds a reading at t_s (seconds, increasing); readings older than span_s fall out. A reading
 * at the same time as the last one is ignored. */
void gops_power_window_push(struct gops_power_window *pw, double t_s, double watts);
void gops_power_window_clear(struct gops_power_window *pw);
/* Mean, standard deviation and the time the readings cover (last - first). false when fewer
 * than two readings. */
bool gops_power_window_stats(const struct gops_power_window *pw, double *mean, double *sd, double *covered_s);
void gops_power_window_release(struct gops_power_window *pw);

/* --- GPU compute processes ----------------------------------------------------------- */

struct gops_gpu_check;
/* Opens the GPU source (NVML) on its own (the monitor holds another reference) and asks it
 * through its ops table. -ENOENT when there is no NVML: nothing to check. */
int gops_gpu_check_open(struct gops_gpu_check **out, char *err, size_t errlen);
size_t gops_gpu_check_count(const struct gops_gpu_check *c);
const char *gops_gpu_check_name(const struct gops_gpu_check *c, size_t i);
/* Compute processes on GPU i; GOPS_ENOTSUP (-95) where NVML cannot tell. */
int gops_gpu_check_procs(struct gops_gpu_check *c, size_t i, unsigned *n);
void gops_gpu_check_close(struct gops_gpu_check *c);

#endif
