/* Arrival schedules for serve-bench: every arrival time is computed before the first
 * request is sent, from a seed, as an offset from the run's start; the client then sends on
 * absolute CLOCK_MONOTONIC deadlines, so a slow moment never shifts later arrivals. */
#ifndef GOPS_LOADGEN_SCHEDULE_H
#define GOPS_LOADGEN_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

enum lg_arrival {
	LG_ARRIVAL_POISSON,  /* exponential gaps of mean 1/rate */
	LG_ARRIVAL_GAMMA,    /* gamma gaps of shape burstiness and mean 1/rate */
	LG_ARRIVAL_CONSTANT, /* gaps of exactly 1/rate */
	LG_ARRIVAL_INF,      /* every request at once */
	LG_ARRIVAL_TRACE,    /* the dataset's own timestamps */
};
const char *lg_arrival_name(enum lg_arrival a);

struct lg_schedule_spec {
	enum lg_arrival kind;
	double rate;       /* requests per second (not for INF and TRACE) */
	double burstiness; /* GAMMA: the shape; 1 is Poisson */
	size_t n;          /* number of arrivals; 0 with duration_s (TRACE: 0 = all of it) */
	double duration_s; /* arrivals while the offset is below this (when n is 0) */
	size_t max_n;      /* with duration_s: refuse schedules longer than this */
	unsigned long seed;
	const double *trace_s; /* TRACE: timestamps in seconds, non-decreasing */
	size_t n_trace;
};

/* Fills *offsets (malloc'd, nanoseconds from the run's start, non-decreasing, the first 0)
 * and *n. Returns 0, -EINVAL with a message in err, or -ENOMEM. */
int lg_schedule_build(const struct lg_schedule_spec *s, int64_t **offsets, size_t *n, char *err,
                      size_t errlen);

/* The schedule's own rate: (n - 1) arrivals over the span from the first to the last
 * offset (NAN for fewer than two arrivals or a zero span). */
double lg_schedule_rate(const int64_t *offsets, size_t n);

#endif
