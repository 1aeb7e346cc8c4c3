/* What several sources share, so that no source calls into another: turning a raw counter
 * that wraps into joules since open, reading a counter file and unwrapping it in one step (with
 * the message that names the file), and CPU times from /proc/stat. */
#ifndef GOPS_SOURCES_SYSFS_H
#define GOPS_SOURCES_SYSFS_H

#include <stddef.h>
#include <stdint.h>

/* A raw counter that wraps at `range` raw units, turned into joules since open. */
struct gops_unwrap {
	uint64_t last;      /* last raw value */
	int64_t last_ns;    /* when it was read */
	uint64_t range;     /* raw units before wrap-around; 0 = does not wrap */
	double unit_j;      /* joules per raw unit */
	double max_power_w; /* highest plausible power; 0 unknown */
	double total_j;     /* joules since open */
};
void gops_unwrap_init(struct gops_unwrap *u, uint64_t raw, int64_t t_ns, uint64_t range, double unit_j,
                      double max_power_w);
/* Adds the step to `raw` read at t_ns. A smaller value than the last is a wrap when the
 * energy it implies is plausible (at most twice max power over the gap plus 50 ms of max
 * power, and under half the range); otherwise the counter was reset: nothing is added, the
 * new value becomes the base, and GOPS_READ_DISCONTINUITY is returned. A larger value whose
 * step exceeds the same allowance (on a counter that wraps) is added but returns
 * GOPS_READ_TOO_FAST: the counter wrapped more than once between the reads. */
int gops_unwrap_step(struct gops_unwrap *u, uint64_t raw, int64_t t_ns);

/* Adds a fresh reading of the counter named `what` ("'/sys/.../energy_uj'", "perf event X"),
 * read now, and gives the joules since open. Returns gops_unwrap_step's result; a reset
 * or missed wraps leave one line in err naming `what`. */
int gops_unwrap_add(struct gops_unwrap *u, uint64_t raw, const char *what, double *joules, char *err,
                    size_t errlen);

/* Reads one unsigned number from a sysfs file; on failure err says which file and why
 * ("not a number", or the errno's text). Returns 0 or a negative errno. */
int gops_sysfs_read_u64(const char *path, uint64_t *v, char *err, size_t errlen);

/* Reads the microjoule counter file at `path` and unwraps it (powercap, hwmon). */
int gops_sysfs_counter_read(struct gops_unwrap *u, const char *path, double *joules, char *err,
                            size_t errlen);

/* CPU time from the aggregate "cpu" line of /proc/stat, in ticks summed over every CPU.
 * busy = user + nice + system + irq + softirq; total = busy + idle + iowait. Steal is in
 * neither: it is time another guest ran on this machine's CPUs, which says nothing about the
 * load (or the power) of the work here. Guest time is already inside user. */
struct gops_cpu_times {
	uint64_t busy, total;
};
/* Parses the "cpu " line at the start of /proc/stat text. Returns 0 or -EINVAL. */
int gops_cpu_times_parse(const char *text, struct gops_cpu_times *t);
/* Reads /proc/stat (under GREENOPS_PROC_ROOT); err names the file on failure. */
int gops_cpu_times_read(struct gops_cpu_times *t, char *err, size_t errlen);
/* Busy share between two readings, 0..1; -1 when no tick elapsed between them. */
double gops_cpu_load(const struct gops_cpu_times *a, const struct gops_cpu_times *b);

#endif
