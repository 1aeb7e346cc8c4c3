/* Unit tests of the optimum search: grouping repeated runs by x, mean and sample standard
 * deviation per group, the lowest mean, and the first x from which a larger x gains nothing
 * (within the lowest group's spread, or within 2% when that is larger or unknown). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "analysis/optimum.h"

#include <errno.h>
#include <math.h>

#define NEAR(a, b) assert_true(fabs((a) - (b)) < 1e-12)

/* Energy per sample by batch size, three runs each, given out of order:
 *   batch 1: 10, 11, 12 (mean 11, sd 1)       batch 8: 5.0, 5.2, 5.4 (mean 5.2, sd 0.2)
 *   batch 32: 4.0, 4.4, 4.2 (mean 4.2, sd 0.2) batch 64: 4.1, 4.3, 3.9 (mean 4.1, sd 0.2)
 *   batch 128: 4.15, 4.25, 4.05 (mean 4.15)
 * Lowest: 64 (4.1). Tolerance: sd 0.2 > 2% of 4.1 (0.082), so the spread rule; the first batch
 * within 4.1 + 0.2 = 4.3 is 32 (4.2). */
static void test_spread_rule(void **state)
{
	(void)state;
	double x[] = {64, 1, 32, 8, 128, 1, 64, 32, 8, 128, 1, 8, 32, 64, 128};
	double y[] = {4.1, 10, 4.0, 5.0, 4.15, 11, 4.3, 4.4, 5.2, 4.25, 12, 5.4, 4.2, 3.9, 4.05};
	struct an_optimum o;
	assert_int_equal(an_optimum(x, y, 15, &o), 0);
	assert_int_equal(o.n, 15);
	assert_int_equal(o.n_groups, 5);
	assert_true(o.groups[0].x == 1 && o.groups[4].x == 128);
	NEAR(o.groups[0].mean, 11);
	NEAR(o.groups[0].sd, 1);
	assert_true(o.groups[0].min == 10 && o.groups[0].max == 12);
	assert_int_equal(o.groups[1].n, 3);
	assert_true(o.groups[o.best].x == 64);
	NEAR(o.groups[o.best].mean, 4.1);
	NEAR(o.groups[o.best].sd, 0.2);
	assert_int_equal(o.rule, AN_TOL_SPREAD);
	NEAR(o.tolerance, 0.2);
	assert_true(o.groups[o.plateau].x == 32);
	an_optimum_release(&o);
}

/* Single runs: no spread, so within 2% of the lowest. Lowest 100 at x = 16; x = 8 (101.5) is
 * within 2 J, x = 4 (103) is not: the plateau starts at 8. */
static void test_two_percent_rule_without_repeats(void **state)
{
	(void)state;
	double x[] = {1, 2, 4, 8, 16, 32}, y[] = {200, 150, 103, 101.5, 100, 100.5};
	struct an_optimum o;
	assert_int_equal(an_optimum(x, y, 6, &o), 0);
	assert_true(isnan(o.groups[0].sd));
	assert_true(o.groups[o.best].x == 16);
	assert_int_equal(o.rule, AN_TOL_PERCENT);
	NEAR(o.tolerance, 2.0);
	assert_true(o.groups[o.plateau].x == 8);
	an_optimum_release(&o);
}

/* A curve that still falls at its last point: the plateau is the lowest point itself. */
static void test_still_falling(void **state)
{
	(void)state;
	double x[] = {1, 2, 4}, y[] = {9, 6, 3};
	struct an_optimum o;
	assert_int_equal(an_optimum(x, y, 3, &o), 0);
	assert_int_equal(o.best, 2);
	assert_int_equal(o.plateau, 2);
	an_optimum_release(&o);
	assert_int_equal(an_optimum(x, y, 0, &o), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_spread_rule),
	    cmocka_unit_test(test_two_percent_rule_without_repeats),
	    cmocka_unit_test(test_still_falling),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
