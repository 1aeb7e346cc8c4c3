/* Unit tests of serve-bench's metrics on hand-built records: TTFT, TPOT and E2EL from the
 * scheduled arrival, ITL from chunk gaps, numpy-style percentiles, goodput, failure reasons,
 * rates, queueing and the steady-state window's counts. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "loadgen/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MS         1000000LL
#define NEAR(a, b) assert_true(fabs((a) - (b)) < 1e-6)

static void test_dist_percentiles(void **state)
{
	(void)state;
	double v[] = {4, 1, 3, 2, 10};
	double pct[] = {25, 95};
	struct lg_dist d;
	lg_dist_compute(&d, v, 5, pct, 2);
	NEAR(d.mean, 4);
	NEAR(d.median, 3);
	NEAR(d.p90, 7.6); /* numpy: 4 + 0.6 * (10 - 4) */
	NEAR(d.p99, 9.76);
	NEAR(d.pct[0], 2);
	NEAR(d.pct[1], 8.8);
	lg_dist_compute(&d, v, 0, pct, 2);
	assert_true(isnan(d.median));
}

/* Request i: scheduled at i*100 ms, started 1 ms later, first token 40 ms after schedule,
 * then `tok` tokens 10 ms apart in as many chunks. */
static void fill(struct lg_run *r, size_t i, int tok, bool usage)
{
	struct lg_record *x = &r->rec[i];
	int64_t t = 1000 * MS + (int64_t)i * 100 * MS;
	x->t_sched = x->t_admit = t;
	x->t_start = x->t_sent = t + 1 * MS;
	x->t_first = t + 40 * MS;
	x->t_end = x->t_first + (tok - 1) * 10 * MS;
	x->output_tokens = tok;
	x->chunks = tok;
	x->prompt_tokens = usage ? 8 : -1;
	x->usage = usage;
	x->status = LG_OK;
	x->itl_off = (uint32_t)r->n_itl;
	x->itl_n = (uint32_t)(tok - 1);
	for (int k = 0; k < tok - 1; k++)
		r->itl_us[r->n_itl++] = 10000;
}

static void make_run(struct lg_run *r, size_t n)
{
	memset(r, 0, sizeof *r);
	r->rec = calloc(n, sizeof *r->rec);
	r->n = n;
	r->itl_us = calloc(n * 64, sizeof *r->itl_us);
	r->cap_itl = n * 64;
}

static void test_latencies_and_throughput(void **state)
{
	(void)state;
	struct lg_run r;
	make_run(&r, 10);
	for (size_t i = 0; i < 10; i++)
		fill(&r, i, 16, true);
	r.rec[3].status = LG_FAILED;
	r.rec[3].err = LG_ERR_HTTP;
	r.rec[3].http_status = 500;
	r.rec[3].error = strdup("HTTP 500: boom");
	r.rec[7].status = LG_FAILED;
	r.rec[7].err = LG_ERR_EVENT;
	r.rec[7].error = strdup("error event: x");
	struct lg_slo slo = {.ttft_ms = 50, .tpot_ms = NAN, .e2el_ms = NAN};
	struct lg_summary s;
	assert_int_equal(lg_summarize(&r, NULL, 0, &slo, &s), 0);
	assert_int_equal(s.completed, 8);
	assert_int_equal(s.failed, 2);
	assert_int_equal(s.n_reasons, 2);
	assert_string_equal(s.reasons[0].label, "http 500");
	assert_string_equal(s.reasons[0].example, "HTTP 500: boom");
	assert_string_equal(s.reasons[1].label, "error event");
	NEAR(s.ttft.median, 40);
	NEAR(s.tpot.median, 10); /* (190 - 40) / 15 */
	NEAR(s.e2el.median, 190);
	NEAR(s.itl.median, 10);
	assert_int_equal(s.itl.n, 8 * 15);
	assert_int_equal(s.total_output_tokens, 8 * 16);
	assert_int_equal(s.total_input_tokens, 8 * 8);
	assert_false(s.output_tokens_approximate);
	NEAR(s.duration_s, 0.9 + 0.19); /* first schedule to the last end */
	NEAR(s.request_throughput, 8 / 1.09);
	NEAR(s.schedule_rate, 10);
	NEAR(s.achieved_rate, 10);
	NEAR(s.lateness.median, 1);
	NEAR(s.queue.p99, 0);
	assert_true(s.slo_set);
	assert_int_equal(s.good, 8);
	NEAR(s.goodput, 8 / 1.09);
	lg_run_release(&r);
}

static void test_slo_queue_and_approximate_tokens(void **state)
{
	(void)state;
	struct lg_run r;
	make_run(&r, 4);
	for (size_t i = 0; i < 4; i++)
		fill(&r, i, 5, i != 2);
	/* Request 1 waited 30 ms for a --max-concurrency slot: later TTFT, queueing reported. */
	r.rec[1].t_admit = r.rec[1].t_sched + 30 * MS;
	r.rec[1].t_start = r.rec[1].t_admit + 2 * MS;
	r.rec[1].t_first += 30 * MS;
	r.rec[1].t_end += 30 * MS;
	struct lg_slo slo = {.ttft_ms = 60, .tpot_ms = 11, .e2el_ms = NAN};
	struct lg_summary s;
	assert_int_equal(lg_summarize(&r, NULL, 0, &slo, &s), 0);
	assert_int_equal(s.good, 3);
	NEAR(s.slo_attainment, 0.75);
	NEAR(s.queue.median, 0);
	NEAR(s.queue.mean, 7.5);
	NEAR(s.lateness.mean, 1.25);
	assert_true(s.output_tokens_approximate);
	assert_int_equal(s.total_input_tokens, -1);
	lg_run_release(&r);
}

static void test_warmup_and_steady_window(void **state)
{
	(void)state;
	struct lg_run r;
	make_run(&r, 12);
	for (size_t i = 0; i < 12; i++)
		fill(&r, i, 16, true);
	r.n_warmup = 2;
	r.rec[0].warmup = r.rec[1].warmup = true;
	/* Window from 1.25 s to 1.55 s: requests 2..4 end at 1.39, 1.49, 1.59 s. */
	r.steady_begin = 1250 * MS;
	r.steady_end = 1550 * MS;
	struct lg_summary s;
	assert_int_equal(lg_summarize(&r, NULL, 0, NULL, &s), 0);
	assert_int_equal(s.num_requests, 10);
	assert_int_equal(s.completed, 10);
	assert_false(s.slo_set);
	assert_true(s.steady_valid);
	NEAR(s.steady_begin_s, 0.05);
	NEAR(s.steady_end_s, 0.35);
	assert_int_equal(s.steady_completed, 2);
	/* Token times inside [1.25, 1.55]: every chunk is one token 10 ms apart; count them. */
	double want = 0;
	for (size_t i = 0; i < 12; i++)
		for (int k = 0; k < 16; k++) {
			int64_t t = r.rec[i].t_first + k * 10 * MS;
			want += t >= r.steady_begin && t <= r.steady_end;
		}
	NEAR(s.steady_output_tokens, want);
	assert_true(want > 20);
	lg_run_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dist_percentiles),
	    cmocka_unit_test(test_latencies_and_throughput),
	    cmocka_unit_test(test_slo_queue_and_approximate_tokens),
	    cmocka_unit_test(test_warmup_and_steady_window),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
