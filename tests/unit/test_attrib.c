/* The split of a shared GPU's measured energy (meter/attrib.c): ticks in, joules out, against
 * an energy curve known exactly (constant power). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "meter/attrib.h"

#include <math.h>
#include <string.h>

#define S 1000000000LL

/* A GPU drawing a constant power: energy at t (s from 0) = watts x t. */
static double energy_at(const void *ctx, int64_t t)
{
	return *(const double *)ctx * (double)t / 1e9;
}

static struct share_tick tick(int64_t t, enum share_basis b)
{
	struct share_tick k;
	memset(&k, 0, sizeof k);
	k.t_ns = t;
	k.basis = (uint8_t)b;
	return k;
}

static void add(struct share_tick *k, uint32_t pid, int instance, bool command, float w)
{
	k->p[k->n++] = (struct share_proc){pid, (int16_t)instance, command, w};
}

/* 300 W for 4 s, idle 50 W: 200 J idle unattributed, 1000 J dynamic split 60:20:20. */
static void test_sm_split_with_idle(void **state)
{
	double w = 300;
	struct share_tick t[4];
	for (int i = 0; i < 4; i++) {
		t[i] = tick((i + 1) * S, SHARE_SM);
		add(&t[i], 10, -1, true, 60);
		add(&t[i], 20, -1, false, 20);
		add(&t[i], 30, -1, false, 20);
	}
	struct share_result r;
	share_split(t, 4, 0, 4 * S, 50, energy_at, &w, NAN, &r);
	assert_float_equal(r.unattributed_j, 200, 1e-9);
	assert_float_equal(r.command_j, 600, 1e-9);
	assert_float_equal(r.others_j, 400, 1e-9);
	assert_float_equal(r.total_j, 1200, 1e-9);
	assert_int_equal(r.n, 3);
	assert_float_equal(r.per[1].energy_j, 200, 1e-9);
	assert_float_equal(r.missing_s, 0, 0);
}

/* Without a baseline the whole energy is split; the stretch after the last tick takes its
 * shares; a tick past the end does not describe the end. */
static void test_no_idle_and_the_end(void **state)
{
	double w = 100;
	struct share_tick t[3] = {tick(1 * S, SHARE_SM), tick(2 * S, SHARE_SM), tick(4 * S, SHARE_SM)};
	add(&t[0], 1, -1, true, 50), add(&t[0], 2, -1, false, 50);
	add(&t[1], 1, -1, true, 25), add(&t[1], 2, -1, false, 75);
	add(&t[2], 1, -1, true, 0), add(&t[2], 2, -1, false, 100); /* after the end: ignored */
	struct share_result r;
	share_split(t, 3, 0, 3 * S, NAN, energy_at, &w, NAN, &r);
	/* [0,1]: 50/50; [1,2]: 25/75; [2,3] takes the tick at 2: 25/75 */
	assert_float_equal(r.command_j, 50 + 25 + 25, 1e-9);
	assert_float_equal(r.others_j, 50 + 75 + 75, 1e-9);
	assert_float_equal(r.unattributed_j, 0, 1e-9);
}

/* No process, missing samples and zero activity go to unattributed; the sole user gets all
 * the dynamic energy; a start inside an interval counts only the part after it. */
static void test_unattributed_cases(void **state)
{
	double w = 100;
	struct share_tick t[4] = {tick(1 * S, SHARE_IDLE), tick(2 * S, SHARE_MISSING), tick(3 * S, SHARE_SM),
	                          tick(4 * S, SHARE_SOLE)};
	add(&t[1], 1, -1, true, 0), add(&t[1], 2, -1, false, 0);
	add(&t[2], 1, -1, true, 0), add(&t[2], 2, -1, false, 0);
	add(&t[3], 1, -1, true, 1);
	struct share_result r;
	share_split(t, 4, S / 2, 4 * S, NAN, energy_at, &w, NAN, &r);
	assert_float_equal(r.unattributed_j, 50 + 100 + 100, 1e-9);
	assert_float_equal(r.command_j, 100, 1e-9);
	assert_float_equal(r.others_j, 0, 1e-9);
	assert_float_equal(r.missing_s, 1, 1e-12);
}

/* MIG: weights are slices per process of the instance; per-instance totals; scaling to the
 * domain's measured energy keeps the proportions. */
static void test_mig_and_scale(void **state)
{
	double w = 100;
	struct share_tick t = tick(2 * S, SHARE_SLICES);
	add(&t, 1, 0, true, 3);
	add(&t, 2, 1, false, 1); /* two processes share instance 1 (2 slices) */
	add(&t, 3, 1, false, 1);
	struct share_result r;
	share_split(&t, 1, 0, 2 * S, NAN, energy_at, &w, 400, &r);
	assert_float_equal(r.total_j, 400, 1e-9);
	assert_float_equal(r.command_j, 240, 1e-9);
	assert_float_equal(r.instance_j[0], 240, 1e-9);
	assert_float_equal(r.instance_j[1], 160, 1e-9);
	assert_float_equal(r.instance_j[2], 0, 0);
}

/* No tick inside the span: nothing is known, everything unattributed. */
static void test_no_tick(void **state)
{
	double w = 100;
	struct share_result r;
	share_split(NULL, 0, 0, S, 50, energy_at, &w, NAN, &r);
	assert_float_equal(r.unattributed_j, 100, 1e-9);
	assert_float_equal(r.command_j + r.others_j, 0, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sm_split_with_idle),
	    cmocka_unit_test(test_no_idle_and_the_end),
	    cmocka_unit_test(test_unattributed_cases),
	    cmocka_unit_test(test_mig_and_scale),
	    cmocka_unit_test(test_no_tick),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
