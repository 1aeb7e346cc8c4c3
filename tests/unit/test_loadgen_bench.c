/* Unit tests of serve-bench's sweep arithmetic behind the energy seam: rate lists, energy per
 * request and per token from fake windows, the saturation rules, and JSON with missing energy
 * as null (never 0). No network: the runs are built by hand. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "loadgen/bench.h"
#include "loadgen/setup.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static char err[256];

static void test_parse_rates(void **state)
{
	(void)state;
	struct lg_rate *r;
	size_t n;
	assert_int_equal(lg_parse_rates("0.5,10,inf,trace", &r, &n, err, sizeof err), 0);
	assert_int_equal(n, 4);
	assert_true(r[0].rate == 0.5 && r[0].kind == LG_ARRIVAL_POISSON);
	assert_true(isinf(r[2].rate) && r[2].kind == LG_ARRIVAL_INF);
	assert_int_equal(r[3].kind, LG_ARRIVAL_TRACE);
	char label[16];
	lg_rate_label(&r[0], label, sizeof label);
	assert_string_equal(label, "0.5");
	free(r);
	const char *bad[] = {"abc", "0", "-1", "5,,x", "", "1e999"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(lg_parse_rates(bad[i], &r, &n, err, sizeof err), -EINVAL);
		assert_null(r);
	}
}

/* Fake monitor: window "rate=R" holds 100 J per request-rate step, its steady window half. */
struct fake {
	const char *names[8];
	double joules[8];
	size_t n;
};

static int f_begin(void *ctx, const char *w, int64_t t)
{
	return 0;
}

static int f_end(void *ctx, const char *w, int64_t t, double units)
{
	return 0;
}

static int f_get(void *ctx, const char *w, struct lg_energy_value *out)
{
	struct fake *f = ctx;
	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < f->n; i++)
		if (!strcmp(f->names[i], w)) {
			out->valid = true;
			out->energy_j = f->joules[i];
			out->dynamic_energy_j = f->joules[i] / 2;
			return 0;
		}
	return -ENOENT;
}

static const struct lg_energy_ops fake_ops = {f_begin, f_end, f_get, NULL};

static void add_run(struct lg_bench *b, double rate, size_t completed, long long tokens, bool keeps_up)
{
	struct lg_bench_run *r = &b->runs[b->n_runs++];
	r->rate = (struct lg_rate){.kind = LG_ARRIVAL_POISSON, .rate = rate};
	snprintf(r->window, sizeof r->window, "rate=%g", rate);
	snprintf(r->steady_window, sizeof r->steady_window, "rate=%g:steady", rate);
	r->sum.completed = completed;
	r->sum.total_output_tokens = tokens;
	r->sum.request_throughput = rate * 0.9;
	r->sum.steady_valid = true;
	r->sum.steady_completed = completed / 2;
	r->sum.steady_output_tokens = (double)tokens / 2;
	r->keeps_up = keeps_up;
}

static void test_energy_and_saturation(void **state)
{
	(void)state;
	struct lg_bench b = {0};
	b.runs = calloc(4, sizeof *b.runs);
	/* Energy per request 10, 6, 4, 3.95 J: the last step lowers it by ~1%, under 2%. */
	add_run(&b, 1, 10, 160, true);
	add_run(&b, 2, 20, 320, true);
	add_run(&b, 8, 80, 1280, false);
	add_run(&b, 4, 40, 640, true); /* sweeps may list rates in any order */
	struct fake f = {.names = {"rate=1", "rate=2", "rate=4", "rate=8", "rate=1:steady", "rate=2:steady",
	                           "rate=4:steady"},
	                 .joules = {100, 120, 160, 316, 50, 60, 80},
	                 .n = 7};
	lg_bench_fill_energy(&b, &fake_ops, &f, NULL);
	const struct lg_bench_run *r1 = &b.runs[0];
	assert_true(fabs(lg_run_energy_per_request(r1, false, false) - 10) < 1e-9);
	assert_true(fabs(lg_run_energy_per_token(r1, false, false) - 100.0 / 160) < 1e-9);
	assert_true(fabs(lg_run_energy_per_request(r1, false, true) - 5) < 1e-9);
	assert_true(fabs(lg_run_energy_per_request(r1, true, false) - 10) < 1e-9); /* 50 J / 5 */
	/* rate=8 has no steady window energy: NAN, never 0, and the sweep falls back to runs. */
	assert_true(isnan(lg_run_energy_per_request(&b.runs[2], true, false)));
	struct lg_saturation s;
	lg_bench_saturation(&b, &s);
	assert_false(s.energy_from_steady);
	assert_true(s.energy_floor_at == 8);
	assert_true(s.energy_min_at == 8);
	assert_true(s.throughput_saturated_at == 8);
	assert_true(fabs(s.max_request_throughput - 7.2) < 1e-9);
	lg_bench_release(&b);
}

static void test_json_without_energy(void **state)
{
	(void)state;
	struct lg_bench b = {0};
	b.runs = calloc(2, sizeof *b.runs);
	add_run(&b, 5, 50, 800, true);
	b.runs[1].rate = (struct lg_rate){.kind = LG_ARRIVAL_INF, .rate = INFINITY};
	b.n_runs = 2;
	lg_bench_fill_energy(&b, NULL, NULL, "no energy sensor was found");
	struct lg_bench_opts o = {.shape = LG_ARRIVAL_POISSON};
	json_t *j = lg_bench_json(&b, &o);
	assert_non_null(j);
	json_t *r0 = json_array_get(json_object_get(j, "runs"), 0);
	assert_true(json_is_null(json_object_get(r0, "energy_j")));
	assert_true(json_is_null(json_object_get(r0, "energy_per_request_j")));
	assert_true(json_is_null(json_object_get(json_object_get(r0, "steady_state"), "energy_j")));
	assert_true(json_real_value(json_object_get(r0, "rate")) == 5);
	json_t *r1 = json_array_get(json_object_get(j, "runs"), 1);
	assert_string_equal(json_string_value(json_object_get(r1, "rate")), "inf");
	assert_string_equal(json_string_value(json_object_get(j, "energy_note")),
	                    "no energy sensor was found");
	char *text = json_dumps(j, 0);
	assert_non_null(text); /* every value is encodable: no NaN slipped through */
	free(text);
	json_decref(j);
	lg_bench_release(&b);
}

static void check_join(const char *base, const char *path, const char *want)
{
	char *u = lg_url_join(base, path);
	assert_non_null(u);
	assert_string_equal(u, want);
	free(u);
}

static void test_url_and_prewarm(void **state)
{
	(void)state;
	check_join("http://h:8000", "/v1/completions", "http://h:8000/v1/completions");
	check_join("http://h:8000//", "/v1/completions", "http://h:8000/v1/completions");
	check_join("http://h:8000/v1", "/v1/chat/completions", "http://h:8000/v1/chat/completions");
	check_join("http://h:8000/v1/", "/v1/models", "http://h:8000/v1/models");
	check_join("http://h:8000/api", "/v1/models", "http://h:8000/api/v1/models");
	struct lg_rate low[] = {{LG_ARRIVAL_POISSON, 100}, {LG_ARRIVAL_INF, INFINITY}};
	assert_int_equal(lg_prewarm_count(low, 2), 0); /* inf is no rate to size a pool by */
	struct lg_rate mid[] = {{LG_ARRIVAL_POISSON, 1600}, {LG_ARRIVAL_POISSON, 20}};
	assert_int_equal(lg_prewarm_count(mid, 2), 16);
	struct lg_rate high[] = {{LG_ARRIVAL_POISSON, 1e6}};
	assert_int_equal(lg_prewarm_count(high, 1), 512);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_rates),
	    cmocka_unit_test(test_energy_and_saturation),
	    cmocka_unit_test(test_json_without_energy),
	    cmocka_unit_test(test_url_and_prewarm),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
