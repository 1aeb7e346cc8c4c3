/* The perf source's pieces that its unit test reaches: the power PMU's sysfs description and
 * the syscall seam tests replace to fake the kernel. Included by perf.c and its test only. */
#ifndef GOPS_SOURCES_PERF_H
#define GOPS_SOURCES_PERF_H

#include "sources/source.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

#endif
