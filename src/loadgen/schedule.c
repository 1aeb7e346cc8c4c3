/* Arrival schedules: offsets drawn once from GSL's Mersenne Twister, so a seed reproduces
 * the same arrivals on any machine, and constant schedules are computed, not accumulated. */
#include "loadgen/schedule.h"

#include <errno.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

/* Offsets are added to a CLOCK_MONOTONIC start in int64 nanoseconds: a year keeps every sum
 * far from overflow (a trace of wall-clock seconds beside zeros would otherwise wrap it). */
#define SCHEDULE_MAX_SPAN_DAYS 366
#define SCHEDULE_MAX_SPAN_NS   (SCHEDULE_MAX_SPAN_DAYS * 86400.0 * 1e9)

const char *lg_arrival_name(enum lg_arrival a)
{
	switch (a) {
	case LG_ARRIVAL_POISSON:
		return "poisson";
	case LG_ARRIVAL_GAMMA:
		return "gamma";
	case LG_ARRIVAL_CONSTANT:
		return "constant";
	case LG_ARRIVAL_INF:
		return "inf";
	case LG_ARRIVAL_TRACE:
		return "trace";
	}
	return "?";
}

static int push(int64_t **v, size_t *n, size_t *cap, int64_t x)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 1024;
		int64_t *p = realloc(*v, c * sizeof *p);
		if (!p)
			return -ENOMEM;
		*v = p;
		*cap = c;
	}
	(*v)[(*n)++] = x;
	return 0;
}

static int check(const struct lg_schedule_spec *s, char *err, size_t errlen)
{
	bool rated =
	    s->kind == LG_ARRIVAL_POISSON || s->kind == LG_ARRIVAL_GAMMA || s->kind == LG_ARRIVAL_CONSTANT;
	if (rated && !(s->rate > 0 && isfinite(s->rate))) {
		snprintf(err, errlen, "rate '%g' must be a positive number of requests per second", s->rate);
		return -EINVAL;
	}
	if (s->kind == LG_ARRIVAL_GAMMA && !(s->burstiness > 0 && isfinite(s->burstiness))) {
		snprintf(err, errlen, "burstiness '%g' must be a positive number", s->burstiness);
		return -EINVAL;
	}
	if (s->n == 0 && !(s->duration_s > 0) && s->kind != LG_ARRIVAL_TRACE) {
		snprintf(err, errlen, "a schedule needs a number of requests or a positive duration");
		return -EINVAL;
	}
	if (s->duration_s > SCHEDULE_MAX_SPAN_NS / 1e9) {
		snprintf(err, errlen, "duration '%g' s is longer than the %d days a schedule may span",
		         s->duration_s, SCHEDULE_MAX_SPAN_DAYS);
		return -EINVAL;
	}
	if (s->n == 0 && s->kind == LG_ARRIVAL_INF) {
		snprintf(err, errlen, "rate 'inf' needs a number of requests, not a duration");
		return -EINVAL;
	}
	if (s->kind == LG_ARRIVAL_TRACE) {
		if (s->n_trace == 0) {
			snprintf(err, errlen, "trace replay needs timestamps in the dataset");
			return -EINVAL;
		}
		for (size_t i = 0; i < s->n_trace; i++)
			if (!isfinite(s->trace_s[i]) || (i && s->trace_s[i] < s->trace_s[i - 1])) {
				snprintf(err, errlen,
				         "trace timestamp %zu ('%g') is not after the previous one", i + 1,
				         s->trace_s[i]);
				return -EINVAL;
			}
	}
	return 0;
}

int lg_schedule_build(const struct lg_schedule_spec *s, int64_t **offsets, size_t *n_out, char *err,
                      size_t errlen)
{
	*offsets = NULL;
	*n_out = 0;
	int rc = check(s, err, errlen);
	if (rc)
		return rc;
	size_t n = 0, cap = 0, limit = s->n ? s->n : (s->max_n ? s->max_n : (size_t)-1);
	int64_t *v = NULL, dur_ns = s->n || !(s->duration_s > 0) ? INT64_MAX : (int64_t)(s->duration_s * 1e9);
	gsl_rng *rng = NULL;
	if (s->kind == LG_ARRIVAL_POISSON || s->kind == LG_ARRIVAL_GAMMA) {
		rng = gsl_rng_alloc(gsl_rng_mt19937);
		if (!rng)
			return -ENOMEM;
		gsl_rng_set(rng, s->seed);
	}
	double t = 0; /* seconds; accumulated in double, rounded once per arrival */
	for (size_t i = 0;; i++) {
		double off_ns;
		if (s->kind == LG_ARRIVAL_TRACE) {
			if (i >= s->n_trace)
				break;
			off_ns = (s->trace_s[i] - s->trace_s[0]) * 1e9;
		} else if (s->kind == LG_ARRIVAL_INF) {
			off_ns = 0;
		} else if (s->kind == LG_ARRIVAL_CONSTANT) {
			off_ns = (double)i * 1e9 / s->rate;
		} else {
			if (i > 0)
				t += s->kind == LG_ARRIVAL_POISSON
				         ? gsl_ran_exponential(rng, 1.0 / s->rate)
				         : gsl_ran_gamma(rng, s->burstiness, 1.0 / (s->rate * s->burstiness));
			off_ns = t * 1e9;
		}
		if (!(off_ns <= SCHEDULE_MAX_SPAN_NS)) {
			if (dur_ns < INT64_MAX || n >= limit)
				break; /* past the duration (itself within the span) or the count */
			snprintf(err, errlen,
			         "%s %zu comes %.6g s after the first; a schedule may span at most %d days",
			         s->kind == LG_ARRIVAL_TRACE ? "trace timestamp" : "arrival", i + 1,
			         off_ns / 1e9, SCHEDULE_MAX_SPAN_DAYS);
			rc = -EINVAL;
			goto out;
		}
		int64_t off = llround(off_ns);
		if (off >= dur_ns || n >= limit) {
			if (!s->n && n >= limit && off < dur_ns) {
				snprintf(err, errlen,
				         "the schedule would exceed %zu requests; shorten the duration",
				         limit);
				rc = -EINVAL;
				goto out;
			}
			break;
		}
		if ((rc = push(&v, &n, &cap, off)))
			goto out;
	}
	if (n == 0) {
		snprintf(err, errlen, "the schedule has no arrival; raise the duration or the rate");
		rc = -EINVAL;
		goto out;
	}
	*offsets = v;
	*n_out = n;
	v = NULL;
out:
	free(v);
	gsl_rng_free(rng);
	return rc;
}

double lg_schedule_rate(const int64_t *offsets, size_t n)
{
	if (n < 2 || offsets[n - 1] <= offsets[0])
		return NAN;
	return (double)(n - 1) / ((double)(offsets[n - 1] - offsets[0]) / 1e9);
}
