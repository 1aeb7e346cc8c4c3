/* Unit tests of serve-bench's arrival schedules: exact constant gaps, Poisson and gamma gaps
 * with the right mean and spread, reproducibility from the seed, duration, inf and trace. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "loadgen/schedule.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static char err[256];

static int64_t *build(struct lg_schedule_spec s, size_t *n)
{
	int64_t *v = NULL;
	assert_int_equal(lg_schedule_build(&s, &v, n, err, sizeof err), 0);
	assert_non_null(v);
	assert_int_equal(v[0], 0);
	for (size_t i = 1; i < *n; i++)
		assert_true(v[i] >= v[i - 1]);
	return v;
}

static void gap_stats(const int64_t *v, size_t n, double *mean, double *cv)
{
	double s = 0, s2 = 0;
	for (size_t i = 1; i < n; i++) {
		double g = (double)(v[i] - v[i - 1]) / 1e9;
		s += g, s2 += g * g;
	}
	double m = s / (n - 1), var = s2 / (n - 1) - m * m;
	*mean = m;
	*cv = sqrt(var) / m;
}

static void test_constant(void **state)
{
	(void)state;
	size_t n;
	int64_t *v = build((struct lg_schedule_spec){.kind = LG_ARRIVAL_CONSTANT, .rate = 3, .n = 10}, &n);
	assert_int_equal(n, 10);
	assert_int_equal(v[1], 333333333);
	assert_int_equal(v[9], 3000000000);
	assert_true(fabs(lg_schedule_rate(v, n) - 3) < 1e-6);
	free(v);
}

static void test_poisson_mean_and_seed(void **state)
{
	(void)state;
	size_t n, n2, n3;
	struct lg_schedule_spec s = {.kind = LG_ARRIVAL_POISSON, .rate = 50, .n = 20000, .seed = 7};
	int64_t *a = build(s, &n), *b = build(s, &n2);
	s.seed = 8;
	int64_t *c = build(s, &n3);
	assert_int_equal(n, 20000);
	assert_memory_equal(a, b, n * sizeof *a);
	assert_true(memcmp(a, c, n * sizeof *a) != 0);
	double mean, cv;
	gap_stats(a, n, &mean, &cv);
	assert_true(fabs(mean - 0.02) < 0.02 * 0.03);
	assert_true(fabs(cv - 1) < 0.05); /* exponential gaps: sd = mean */
	free(a), free(b), free(c);
}

static void test_gamma_burstiness(void **state)
{
	(void)state;
	size_t n;
	int64_t *v = build(
	    (struct lg_schedule_spec){
	        .kind = LG_ARRIVAL_GAMMA, .rate = 10, .burstiness = 4, .n = 20000, .seed = 1},
	    &n);
	double mean, cv;
	gap_stats(v, n, &mean, &cv);
	assert_true(fabs(mean - 0.1) < 0.1 * 0.03);
	assert_true(fabs(cv - 0.5) < 0.03); /* shape 4: cv = 1/sqrt(4) */
	free(v);
	v = build(
	    (struct lg_schedule_spec){
	        .kind = LG_ARRIVAL_GAMMA, .rate = 10, .burstiness = 0.25, .n = 20000, .seed = 1},
	    &n);
	gap_stats(v, n, &mean, &cv);
	assert_true(fabs(cv - 2) < 0.15); /* burstier than Poisson */
	free(v);
}

static void test_duration_and_inf(void **state)
{
	(void)state;
	size_t n;
	int64_t *v = build(
	    (struct lg_schedule_spec){.kind = LG_ARRIVAL_POISSON, .rate = 1000, .duration_s = 5, .seed = 3},
	    &n);
	assert_true(v[n - 1] < 5000000000LL);
	assert_true(n > 4700 && n < 5300);
	free(v);
	v = build((struct lg_schedule_spec){.kind = LG_ARRIVAL_INF, .n = 50}, &n);
	assert_int_equal(n, 50);
	assert_int_equal(v[49], 0);
	assert_true(isnan(lg_schedule_rate(v, n)));
	free(v);
}

static void test_trace(void **state)
{
	(void)state;
	double ts[] = {100.5, 100.5, 101.0, 103.25};
	size_t n;
	int64_t *v =
	    build((struct lg_schedule_spec){.kind = LG_ARRIVAL_TRACE, .trace_s = ts, .n_trace = 4}, &n);
	assert_int_equal(n, 4);
	assert_int_equal(v[1], 0);
	assert_int_equal(v[2], 500000000);
	assert_int_equal(v[3], 2750000000LL);
	free(v);
	v = build((struct lg_schedule_spec){.kind = LG_ARRIVAL_TRACE, .trace_s = ts, .n_trace = 4, .n = 2},
	          &n);
	assert_int_equal(n, 2);
	free(v);
	double bad[] = {1, 3, 2};
	int64_t *w = NULL;
	struct lg_schedule_spec s = {.kind = LG_ARRIVAL_TRACE, .trace_s = bad, .n_trace = 3};
	assert_int_equal(lg_schedule_build(&s, &w, &n, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "timestamp 3"));
	assert_null(w);
}

/* Seconds since 1970 beside a zero: 1e19 ns does not fit an int64, and the client adds the
 * offset to its start time; such a schedule is refused, not wrapped to a negative time. */
static void test_span_beyond_int64(void **state)
{
	(void)state;
	double ts[] = {0, 1e10};
	int64_t *v = NULL;
	size_t n;
	struct lg_schedule_spec s = {.kind = LG_ARRIVAL_TRACE, .trace_s = ts, .n_trace = 2};
	assert_int_equal(lg_schedule_build(&s, &v, &n, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "trace timestamp 2"));
	assert_null(v);
	s = (struct lg_schedule_spec){.kind = LG_ARRIVAL_CONSTANT, .rate = 1e-300, .n = 2};
	assert_int_equal(lg_schedule_build(&s, &v, &n, err, sizeof err), -EINVAL);
	assert_null(v);
	s = (struct lg_schedule_spec){.kind = LG_ARRIVAL_POISSON, .rate = 1, .duration_s = 1e12};
	assert_int_equal(lg_schedule_build(&s, &v, &n, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "duration"));
	/* A long but possible trace still plays. */
	double day[] = {1.7e9, 1.7e9 + 86400};
	v = build((struct lg_schedule_spec){.kind = LG_ARRIVAL_TRACE, .trace_s = day, .n_trace = 2}, &n);
	assert_int_equal(v[1], 86400000000000LL);
	free(v);
}

static void test_bad_specs(void **state)
{
	(void)state;
	int64_t *v = NULL;
	size_t n;
	struct lg_schedule_spec s = {.kind = LG_ARRIVAL_POISSON, .rate = 0, .n = 5};
	assert_int_equal(lg_schedule_build(&s, &v, &n, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "rate"));
	s = (struct lg_schedule_spec){.kind = LG_ARRIVAL_GAMMA, .rate = 1, .burstiness = -1, .n = 5};
	assert_int_equal(lg_schedule_build(&s, &v, &n, err, sizeof err), -EINVAL);
	s = (struct lg_schedule_spec){.kind = LG_ARRIVAL_INF, .duration_s = 3};
	assert_int_equal(lg_schedule_build(&s, &v, &n, err, sizeof err), -EINVAL);
	s = (struct lg_schedule_spec){
	    .kind = LG_ARRIVAL_CONSTANT, .rate = 1000, .duration_s = 10, .max_n = 100};
	assert_int_equal(lg_schedule_build(&s, &v, &n, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "exceed"));
	assert_null(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_constant),
	    cmocka_unit_test(test_poisson_mean_and_seed),
	    cmocka_unit_test(test_gamma_burstiness),
	    cmocka_unit_test(test_duration_and_inf),
	    cmocka_unit_test(test_trace),
	    cmocka_unit_test(test_span_beyond_int64),
	    cmocka_unit_test(test_bad_specs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
