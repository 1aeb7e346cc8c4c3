/* Internals of the CPU, memory and board sources (powercap, perf, hwmon, estimate) that
 * their unit tests reach: counter unwrapping, sysfs/procfs parsing, the estimator's model,
 * and the perf syscall seam. Nothing outside the sources in src/sources/ and their tests needs this. */
#ifndef GOPS_SRC_SENSORS_H
#define GOPS_SRC_SENSORS_H

#include "sources/source.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- counter unwrapping (powercap, hwmon) ---- */

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

/* ---- powercap ---- */

/* The note for an energy_uj that cannot be read for lack of permission. */
void gops_powercap_access_note(char *buf, size_t len, const char *path);
/* Splits a powercap zone directory name ("intel-rapl:1", "intel-rapl-mmio:0:2").
 * Returns 0 with *mmio, *zone and *sub (-1 for a top-level zone), or -EINVAL. */
int gops_powercap_parse_zone(const char *dirname, bool *mmio, int *zone, int *sub);

/* ---- perf ---- */

#define GOPS_PERF_MAX_EVENTS 16
#define GOPS_PERF_MAX_CPUS   64

struct gops_perf_event {
	char name[48];   /* "energy-pkg" */
	uint64_t config; /* from "event=0x02" */
	double scale;    /* joules per count, from .scale */
};

struct gops_perf_pmu {
	int type;
	size_t n_cpus;
	int cpus[GOPS_PERF_MAX_CPUS]; /* one CPU per package, from cpumask */
	int pkg[GOPS_PERF_MAX_CPUS];  /* the package of each of those CPUs */
	size_t n_events;
	struct gops_perf_event ev[GOPS_PERF_MAX_EVENTS];
};

/* Reads the power PMU's type, cpumask and energy-* events (with .scale and .unit) under
 * /sys/bus/event_source/devices/power. Events that cannot be used leave a note.
 * Returns 0, -ENOENT without the PMU, or -EINVAL with err naming the malformed file. */
int gops_perf_parse_pmu(struct gops_perf_pmu *p, struct gops_notes *notes, char *err, size_t errlen);
/* "event=0x02" -> 2. Returns 0 or -EINVAL. */
int gops_perf_parse_config(const char *text, uint64_t *config);
/* A CPU list such as "0", "0,28" or "0-3,8". Returns 0 or -EINVAL. */
int gops_cpulist_parse(const char *text, int *cpus, size_t cap, size_t *n);
/* Maps an event name and a package to a domain name and kind; false for unknown events. */
bool gops_perf_domain_name(const char *event, int pkg, char *name, size_t len, enum gops_kind *kind);
/* The note for perf events refused by the kernel (EACCES/EPERM). */
void gops_perf_access_note(char *buf, size_t len, int paranoid);

/* The syscall edge of the perf source; tests replace it to fake the kernel. */
struct gops_perf_sys {
	int (*open)(int type, uint64_t config, int cpu); /* fd or negative errno */
	int (*read)(int fd, uint64_t *count);            /* 0 or negative errno */
	void (*close)(int fd);
};
/* NULL restores the real syscalls. */
void gops_perf_set_sys(const struct gops_perf_sys *sys);

/* ---- hwmon ---- */

/* Turns a driver name and a sensor label into a domain name: "<driver>-<label>" with
 * characters other than [A-Za-z0-9_.-] replaced by '_'. */
void gops_hwmon_domain_name(char *buf, size_t len, const char *driver, const char *label);
/* Whether a hwmon driver name belongs to a GPU (amdgpu, discrete i915/xe). */
bool gops_hwmon_is_gpu(const char *driver);

/* ---- estimator ---- */

struct gops_cpu_times {
	uint64_t busy;  /* user + nice + system + irq + softirq, in ticks */
	uint64_t total; /* busy + idle + iowait (steal excluded: not ours) */
};
/* Parses the aggregate "cpu " line at the start of /proc/stat. Returns 0 or -EINVAL. */
int gops_estimate_parse_stat(const char *text, struct gops_cpu_times *t);
/* Load in [0,1] between two snapshots; -1 when no tick elapsed. */
double gops_estimate_load(const struct gops_cpu_times *a, const struct gops_cpu_times *b);
/* The CPU model: power at `load` for a CPU whose full-load power is tdp_w. */
double gops_estimate_cpu_power(double tdp_w, double load);
/* Fraction of full-load power drawn at zero load. */
#define GOPS_ESTIMATE_IDLE_FRACTION 0.21
/* Watts per thread when the CPU model is unknown. */
#define GOPS_ESTIMATE_W_PER_THREAD 3.5
/* Watts per GB of installed memory. */
#define GOPS_ESTIMATE_W_PER_GB 0.375

enum gops_tdp_origin { GOPS_TDP_ENV, GOPS_TDP_TABLE, GOPS_TDP_DEFAULT };
/* Chooses the full-load CPU power for the threads this machine shows: GREENOPS_CPU_TDP
 * (env_value, may be NULL), else the table entry matching cpuinfo's model name (scaled to the
 * threads visible), else the per-thread default. `why` says which, for labels and notes.
 * Returns 0, or -EINVAL when env_value is set but not a positive number. */
int gops_estimate_tdp(const char *cpuinfo, const char *env_value, double *tdp_w, enum gops_tdp_origin *origin,
                      char *why, size_t whylen);
/* Number of "processor" entries in /proc/cpuinfo text (at least 1). */
long gops_estimate_threads(const char *cpuinfo);
/* RAM power from /proc/meminfo text; -EINVAL without MemTotal. */
int gops_estimate_ram(const char *meminfo, double *watts, double *gb);

#endif
