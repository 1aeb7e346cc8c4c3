/* The meter: energy of spans and windows from synthetic power samples and counter readings,
 * overlap rules, counters that never move, lost devices; and the control-line protocol. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "meter/control.h"
#include "meter/monitor_internal.h"
#include "base/util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S  1000000000LL
#define MS 1000000LL

static const struct gops_source_ops test_ops = {.name = "test"};

static struct gops_monitor *fake_monitor(size_t n_dom)
{
	struct gops_monitor *m = calloc(1, sizeof *m);
	m->n_dom = n_dom;
	m->dom = calloc(n_dom, sizeof *m->dom);
	m->ops[0] = &test_ops;
	m->n_src = 1;
	m->run_units = NAN;
	pthread_mutex_init(&m->lock, NULL);
	for (size_t i = 0; i < n_dom; i++) {
		series_init(&m->dom[i].power, sizeof(struct power_sample));
		series_init(&m->dom[i].anchors, sizeof(struct anchor));
		snprintf(m->dom[i].info.name, sizeof m->dom[i].info.name, "d%zu", i);
	}
	return m;
}

static void free_monitor(struct gops_monitor *m)
{
	for (size_t i = 0; i < m->n_dom; i++) {
		series_release(&m->dom[i].power);
		series_release(&m->dom[i].anchors);
	}
	if (m->have_result)
		meter_result_release(&m->result);
	for (size_t i = 0; i < m->n_win; i++)
		free(m->win[i].name);
	free(m->win);
	for (size_t i = 0; i < m->n_tags; i++)
		free(m->tags[i].key), free(m->tags[i].value);
	free(m->tags);
	free(m->dom);
	free(m);
}

/* True power: 300 W for [0,2) s, 100 W for [2,3) s; sampled every 100 ms at `bias` x truth. */
static double truth_power(int64_t t)
{
	return t < 2 * S ? 300 : 100;
}

static double truth_energy(int64_t t)
{
	double s = (double)t / S;
	return s < 2 ? 300 * s : 600 + 100 * (s - 2);
}

/* Appends a power sample with its running integral, as the sampler does. */
static void push_power(struct dom_state *d, int64_t t, double w)
{
	size_t n = series_len(&d->power);
	double cum = 0;
	if (n) {
		const struct power_sample *last = series_at(&d->power, n - 1);
		cum = last->cum_j + (double)(t - last->t_ns) / S * (last->watts + w) / 2;
	}
	struct power_sample s = {t, w, cum, NAN, NAN};
	series_push(&d->power, &s);
}

/* A domain result's warnings (a load whose instant power and counter disagree gets one). */
static void free_warnings(struct gops_domain_result *r)
{
	for (size_t i = 0; i < r->n_warnings; i++)
		free(r->warnings[i]);
	free(r->warnings);
}

static void fill_power(struct dom_state *d, double bias, int64_t t0, int64_t t1)
{
	for (int64_t t = t0; t <= t1; t += S / 100) /* 10 ms: sharp steps */
		push_power(d, t, truth_power(t) * bias);
}

static void add_anchor(struct dom_state *d, int64_t t)
{
	struct anchor a = {t, 0, 1e6 + truth_energy(t)};
	series_push(&d->anchors, &a);
}

static void test_integrated_only(void **state)
{
	(void)state;
	struct gops_monitor *m = fake_monitor(1);
	fill_power(&m->dom[0], 1.0, 0, 3 * S);
	struct gops_domain_result r;
	meter_domain(m, 0, 0, 3 * S, &r);
	assert_int_equal(r.method, GOPS_METHOD_INTEGRATED);
	/* The step at 2 s is smeared over one 10 ms interval: 1 J of error at most. */
	assert_true(fabs(r.energy_j - 700) < 1.01);
	assert_true(r.uncertainty_j >= fabs(r.energy_j - 700));
	assert_true(fabs(r.peak_power_w - 300) < 1e-9);
	free_warnings(&r);
	free_monitor(m);
}

static void test_counter_scales_biased_power(void **state)
{
	(void)state;
	struct gops_monitor *m = fake_monitor(1);
	struct dom_state *d = &m->dom[0];
	fill_power(d, 1.10, 0, 3 * S); /* instant power reads 10% high */
	add_anchor(d, 0);
	add_anchor(d, 1 * S);
	add_anchor(d, 3 * S);
	struct gops_domain_result r;
	meter_domain(m, 0, 0, 3 * S, &r);
	assert_int_equal(r.method, GOPS_METHOD_COUNTER);
	assert_true(fabs(r.energy_j - 700) < 1e-6);           /* the counter's difference */
	assert_true(fabs(r.integrated_energy_j - 770) < 1.2); /* instant power alone: 10% high */
	free_warnings(&r);
	/* A window between readings is distributed by the power shape, then scaled. */
	meter_domain(m, 0, 1 * S, 2 * S, &r);
	assert_true(fabs(r.energy_j - 300) < 2.0);
	free_warnings(&r);
	meter_domain(m, 0, 2 * S, 3 * S, &r);
	assert_true(fabs(r.energy_j - 100) < 2.0);
	free_warnings(&r);
	free_monitor(m);
}

/* Past the last counter reading, integrated power is scaled by a stretch between readings a
 * second or more apart and well dated: not by the first edge's two readings, 53 ms apart and
 * one of them dated only to within 50 ms (15 J over 53 ms of 150 W would read as 1.9x, within
 * the sanity bounds), nor by two 90 ms apart dated to a few ms. */
static void test_live_scale_needs_sure_dates(void **state)
{
	(void)state;
	struct gops_monitor *m = fake_monitor(1);
	struct dom_state *d = &m->dom[0];
	for (int64_t t = 0; t <= 4 * S; t += S / 100)
		push_power(d, t, 150);
	struct anchor a0 = {S / 10, 50 * MS, 1000}, a1 = {S / 10 + 53 * MS, 3 * MS, 1015};
	series_push(&d->anchors, &a0);
	series_push(&d->anchors, &a1);
	double e = meter_energy_at(d, 3 * S) - meter_energy_at(d, a1.t_ns);
	assert_true(fabs(e - 150 * (3.0 - 0.153)) < 1e-6);
	struct anchor a2 = {a1.t_ns + 90 * MS, 2 * MS, 1030};
	series_push(&d->anchors, &a2);
	e = meter_energy_at(d, 3 * S) - meter_energy_at(d, a2.t_ns);
	assert_true(fabs(e - 150 * (3.0 - 0.243)) < 1e-6);
	/* A reading 2 s on, dated to a few ms, scales it: 300 J read as 330 J. */
	struct anchor a3 = {a2.t_ns + 2 * S, 3 * MS, 1030 + 330};
	series_push(&d->anchors, &a3);
	e = meter_energy_at(d, 4 * S) - meter_energy_at(d, a3.t_ns);
	assert_true(fabs(e - 1.1 * 150 * (4.0 - 2.243)) < 1e-6);
	free_monitor(m);
}

static void test_windows_add_up(void **state)
{
	(void)state;
	struct gops_monitor *m = fake_monitor(1);
	struct dom_state *d = &m->dom[0];
	fill_power(d, 0.93, 0, 3 * S);
	add_anchor(d, 0);
	add_anchor(d, 3 * S);
	double sum = 0;
	for (int64_t t = 0; t < 3 * S; t += S / 7) {
		int64_t e = t + S / 7 > 3 * S ? 3 * S : t + S / 7;
		sum += meter_energy_at(d, e) - meter_energy_at(d, t);
	}
	assert_true(fabs(sum - 700) < 1e-6);
	free_monitor(m);
}

static void test_counter_only_linear(void **state)
{
	(void)state;
	struct gops_monitor *m = fake_monitor(1);
	struct dom_state *d = &m->dom[0];
	for (int64_t t = 0; t <= 4 * S; t += S / 10) {
		struct anchor a = {t, 0, 50.0 * t / S};
		series_push(&d->anchors, &a);
	}
	struct gops_domain_result r;
	meter_domain(m, 0, S / 4, 3 * S + S / 4, &r);
	assert_int_equal(r.method, GOPS_METHOD_COUNTER);
	assert_true(fabs(r.energy_j - 150) < 1e-6);
	assert_true(fabs(r.peak_power_w - 50) < 1e-6);
	free_warnings(&r);
	free_monitor(m);
}

/* Instant power that reads low (or misses a spike) must not give a peak below the mean that
 * the counter proves was drawn. */
static void test_peak_not_below_mean(void **state)
{
	(void)state;
	struct gops_monitor *m = fake_monitor(1);
	struct dom_state *d = &m->dom[0];
	fill_power(d, 0.90, 0, 3 * S); /* instant power reads 10% low */
	add_anchor(d, 0);
	add_anchor(d, 1 * S);
	add_anchor(d, 2 * S);
	add_anchor(d, 3 * S);
	struct gops_domain_result r;
	meter_domain(m, 0, 0, 2 * S, &r);
	assert_true(fabs(r.avg_power_w - 300) < 1e-6);
	assert_true(r.peak_power_w >= r.avg_power_w);
	free_warnings(&r);
	meter_domain(m, 0, 0, 3 * S, &r);
	assert_true(r.peak_power_w >= 300 - 1e-9);
	free_warnings(&r);
	free_monitor(m);
}

static void test_summed_and_stuck(void **state)
{
	(void)state;
	struct gops_monitor *m = fake_monitor(4);
	strcpy(m->dom[0].info.name, "psys");
	strcpy(m->dom[1].info.name, "package-0");
	strcpy(m->dom[1].info.parent, "psys");
	strcpy(m->dom[2].info.name, "core-0");
	strcpy(m->dom[2].info.parent, "package-0");
	strcpy(m->dom[3].info.name, "gpu0");
	for (size_t i = 0; i < 4; i++)
		for (int64_t t = 0; t <= 2 * S; t += S / 10) {
			/* psys is stuck at zero, like the GPU machine's perf energy-psys */
			struct anchor a = {t, 0, i == 0 ? 0 : (double)(10 * (i + 1)) * t / S};
			series_push(&m->dom[i].anchors, &a);
		}
	m->t_start = 0;
	m->t_end = 2 * S;
	assert_int_equal(meter_compute(m), 0);
	const struct gops_result *r = &m->result;
	assert_int_equal(r->domains[0].method, GOPS_METHOD_NONE);
	assert_true(isnan(r->domains[0].energy_j));
	assert_false(r->domains[0].summed);
	assert_true(r->domains[1].summed);  /* psys not measured: the package counts */
	assert_false(r->domains[2].summed); /* inside the package */
	assert_true(r->domains[3].summed);
	assert_true(fabs(r->energy_j - (40 + 80)) < 1e-6);
	free_monitor(m);
}

static void test_lost_domain(void **state)
{
	(void)state;
	struct gops_monitor *m = fake_monitor(1);
	struct dom_state *d = &m->dom[0];
	fill_power(d, 1.0, 0, S);
	d->lost_at_ns = S;
	struct gops_domain_result r;
	meter_domain(m, 0, 0, 3 * S, &r);
	assert_true(fabs(r.energy_j - 300) < 1e-6);
	free_warnings(&r);
	free_monitor(m);
}

static void test_control_lines(void **state)
{
	(void)state;
	struct gops_monitor *m = fake_monitor(1);
	fill_power(&m->dom[0], 1.0, 0, 3 * S);
	assert_int_equal(gops_control_line(m, "begin warm 1", 0), 0);
	assert_int_equal(gops_control_line(m, "end warm 1000000000", 0), 0);
	assert_int_equal(gops_control_line(m, "begin train", 1 * S), 0);
	assert_int_equal(gops_control_line(m, "units 250", 0), 0);
	assert_int_equal(gops_control_line(m, "units 250 train", 0), 0);
	assert_int_equal(gops_control_line(m, "end train", 3 * S), 0);
	assert_int_equal(gops_control_line(m, "units 3", 0), 0); /* no window open: the run */
	assert_int_equal(gops_control_line(m, "tag lr=0.1", 0), 0);
	assert_int_equal(gops_control_line(m, "begin", 0), -EINVAL);
	assert_int_equal(gops_control_line(m, "end nothing-open", 0), -EINVAL);
	assert_int_equal(gops_control_line(m, "units -1", 0), -EINVAL);
	assert_int_equal(gops_control_line(m, "units x", 0), -EINVAL);
	assert_int_equal(gops_control_line(m, "tag novalue", 0), -EINVAL);
	assert_int_equal(gops_control_line(m, "begin a 12x", 0), -EINVAL);
	assert_int_equal(gops_control_line(m, "begin a 1 extra", 0), -EINVAL);
	assert_int_equal(gops_control_line(m, "frobnicate x", 0), -EINVAL);
	m->t_start = 0;
	m->t_end = 3 * S;
	meter_compute(m);
	const struct gops_result *r = &m->result;
	assert_int_equal(r->n_windows, 2);
	assert_string_equal(r->windows[0].name, "warm");
	assert_true(fabs(r->windows[0].energy_j - 300) < 1.0);
	/* The step at 2 s falls inside a 10 ms sample interval: within the reported uncertainty. */
	assert_true(fabs(r->windows[1].energy_j - 400) <= r->windows[1].uncertainty_j + 1e-9);
	assert_true(r->windows[1].uncertainty_j < 2.0);
	assert_true(fabs(r->windows[1].units - 500) < 1e-9);
	assert_true(fabs(r->windows[1].energy_per_unit_j - 0.8) < 0.004);
	assert_true(fabs(r->units - 3) < 1e-9);
	assert_string_equal(r->tags[0].key, "lr");
	free_monitor(m);
}

/* A T_NS outside the span (wall-clock ns by mistake, the future, before the start) is refused
 * and counted, never turned into an empty window. */
static void test_window_stamp_outside_span(void **state)
{
	(void)state;
	struct gops_monitor *m = fake_monitor(1);
	int64_t now = gops_now_ns();
	m->started = true;
	m->t_start = now - S;
	char line[128];
	assert_int_equal(gops_control_line(m, "begin past 1", 0), -ERANGE);
	snprintf(line, sizeof line, "begin future %lld", (long long)(now + 60 * S));
	assert_int_equal(gops_control_line(m, line, 0), -ERANGE);
	snprintf(line, sizeof line, "begin wall %lld", (long long)gops_realtime_ns());
	assert_int_equal(gops_control_line(m, line, 0), -ERANGE);
	snprintf(line, sizeof line, "begin early %lld", (long long)(m->t_start - S / 10));
	assert_int_equal(gops_control_line(m, line, 0), -ERANGE);
	snprintf(line, sizeof line, "begin good %lld", (long long)(m->t_start + S / 2));
	assert_int_equal(gops_control_line(m, line, 0), 0);
	assert_int_equal(gops_control_line(m, "end good 1", 0), -EINVAL); /* counted as malformed */
	assert_int_equal(m->n_win, 1);
	assert_int_equal(m->refused_stamps, 5);
	assert_int_equal(m->notes.n, 1);
	assert_non_null(strstr(m->notes.v[0], "CLOCK_MONOTONIC"));
	gops_notes_release(&m->notes);
	free_monitor(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_integrated_only),     cmocka_unit_test(test_counter_scales_biased_power),
	    cmocka_unit_test(test_windows_add_up),      cmocka_unit_test(test_counter_only_linear),
	    cmocka_unit_test(test_summed_and_stuck),    cmocka_unit_test(test_lost_domain),
	    cmocka_unit_test(test_control_lines),       cmocka_unit_test(test_window_stamp_outside_span),
	    cmocka_unit_test(test_peak_not_below_mean), cmocka_unit_test(test_live_scale_needs_sure_dates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
