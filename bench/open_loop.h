/* What the reference clients of the capacity benchmark (curl_bare, raw_bare) share: the
 * clock, their own CPU time, and the Poisson schedule on absolute times from a seed. */
#ifndef BENCH_OPEN_LOOP_H
#define BENCH_OPEN_LOOP_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

static inline int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

static inline int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* n arrival offsets in ns from the start, exponential gaps of mean 1/rate. */
static inline int64_t *poisson_schedule(size_t n, double rate, unsigned seed)
{
	int64_t *sched = malloc(n * sizeof *sched);
	if (!sched)
		return NULL;
	srand(seed);
	double t = 0;
	for (size_t i = 0; i < n; i++) {
		t += -log((rand() + 1.0) / (RAND_MAX + 2.0)) / rate;
		sched[i] = (int64_t)(t * 1e9);
	}
	return sched;
}

#endif
