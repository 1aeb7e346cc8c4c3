/* Unit tests of the correlation statistics against published SciPy results (values from
 * SciPy's own documentation examples and test suite, cross-checked there against R), exact
 * null distributions for tiny n, a brute-force count of Kendall's pairs, and the edge cases:
 * too few pairs, constant columns, perfect correlation, ties. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "analysis/stats.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* |a - b| within rel relative to b (or abs near zero). */
#define CLOSE(a, b, rel)                                                                                     \
	do {                                                                                                 \
		double a_ = (a), b_ = (b);                                                                   \
		if (!(fabs(a_ - b_) <= (rel)*fmax(fabs(b_), 1e-300)))                                        \
			fail_msg("%s = %.17g, expected %.17g", #a, a_, b_);                                  \
	} while (0)

#define N(v) (sizeof(v) / sizeof((v)[0]))

/* The 97.5% quantile of the standard normal distribution. */
#define Z975 1.959963984540054

static struct an_corr corr(enum an_method m, const double *x, const double *y, size_t n)
{
	struct an_corr c;
	assert_int_equal(an_correlate(m, x, y, n, 0.95, &c), 0);
	return c;
}

/* scipy.stats.pearsonr documentation example:
 *   pearsonr([1,2,3,4,5,6,7], [10,9,2.5,6,4,3,2])
 *   -> PearsonRResult(statistic=-0.828503883588428, pvalue=0.021280260007523286)
 * The interval: tanh(atanh(r) -+ 1.959963984540054 / sqrt(7 - 3)) by hand, which is also what
 * SciPy's res.confidence_interval() gives ([-0.9739, -0.2006] to 4 places). */
static void test_pearson_scipy_example(void **state)
{
	(void)state;
	double x[] = {1, 2, 3, 4, 5, 6, 7}, y[] = {10, 9, 2.5, 6, 4, 3, 2};
	struct an_corr c = corr(AN_PEARSON, x, y, N(x));
	CLOSE(c.rho, -0.828503883588428, 1e-13);
	CLOSE(c.p_value, 0.021280260007523286, 1e-11);
	assert_int_equal(c.n, 7);
	assert_int_equal(c.undefined, AN_DEFINED);
	double z = atanh(-0.828503883588428);
	CLOSE(c.ci_low, tanh(z - Z975 / 2), 1e-12);
	CLOSE(c.ci_high, tanh(z + Z975 / 2), 1e-12);
	CLOSE(c.ci_low, -0.9739, 1e-4);
	CLOSE(c.ci_high, -0.2006, 1e-3);
}

/* The same pairs scaled to 1e200 and 1e-200: the sums of squares overflow (underflow) a
 * double, and GSL's correlation came back a finite 0 with p = 1; Pearson's r does not depend
 * on scale, so the figures must be the unscaled ones. */
static void test_pearson_extreme_scales(void **state)
{
	(void)state;
	const double scales[] = {1e200, 1e-200, 1e300};
	for (size_t k = 0; k < N(scales); k++) {
		double x[] = {1, 2, 3, 4, 5, 6, 7}, y[] = {10, 9, 2.5, 6, 4, 3, 2};
		for (size_t i = 0; i < N(x); i++)
			x[i] *= scales[k], y[i] *= k == 2 ? 1e-300 : 1;
		struct an_corr c = corr(AN_PEARSON, x, y, N(x));
		assert_int_equal(c.undefined, AN_DEFINED);
		CLOSE(c.rho, -0.828503883588428, 1e-12);
		CLOSE(c.p_value, 0.021280260007523286, 1e-10);
	}
	/* Finite values whose spread is beyond double range stay undefined, never 0. */
	double x[] = {-1.5e308, 1.5e308, 0, 1e308}, y[] = {1, 2, 3, 4};
	struct an_corr c = corr(AN_PEARSON, x, y, N(x));
	assert_true(c.undefined == AN_DEFINED ? fabs(c.rho) > 0 : isnan(c.rho));
}

/* scipy.stats.spearmanr documentation example, with a tie in y:
 *   spearmanr([1,2,3,4,5], [5,6,7,8,7]) -> statistic=0.8207826816681233,
 *   pvalue=0.08858700531354381 (0.08858700531354405 in another SciPy version: 1e-15 apart). */
static void test_spearman_scipy_example_with_ties(void **state)
{
	(void)state;
	double x[] = {1, 2, 3, 4, 5}, y[] = {5, 6, 7, 8, 7};
	struct an_corr c = corr(AN_SPEARMAN, x, y, N(x));
	CLOSE(c.rho, 0.8207826816681233, 1e-13);
	CLOSE(c.p_value, 0.08858700531354381, 1e-11);
	/* Interval: Fisher z with variance 1.06/(n-3) (Fieller, Hartley & Pearson 1957). */
	double z = atanh(0.8207826816681233), se = sqrt(1.06 / 2);
	CLOSE(c.ci_low, tanh(z - Z975 * se), 1e-12);
	CLOSE(c.ci_high, tanh(z + Z975 * se), 1e-12);
}

/* Spearman is Pearson of average ranks: y = [10,9,2.5,6,4,3,2] ranks to [7,6,2,5,4,3,1]
 * (by hand), so rho is Pearson's r of those ranks against 1..7. 1 - 6*sum(d^2)/(n(n^2-1)) with
 * d = [-6,-4,1,-1,1,3,6], sum d^2 = 100: rho = 1 - 600/336 = -0.7857142857142857. */
static void test_spearman_is_pearson_of_ranks(void **state)
{
	(void)state;
	double x[] = {1, 2, 3, 4, 5, 6, 7}, y[] = {10, 9, 2.5, 6, 4, 3, 2};
	double ry[] = {7, 6, 2, 5, 4, 3, 1};
	struct an_corr s = corr(AN_SPEARMAN, x, y, N(x)), p = corr(AN_PEARSON, x, ry, N(x));
	CLOSE(s.rho, 1 - 600.0 / 336, 1e-13);
	CLOSE(s.rho, p.rho, 1e-13);
	CLOSE(s.p_value, p.p_value, 1e-12);
}

/* scipy.stats.kendalltau documentation example and test suite (ties, so SciPy's default is the
 * asymptotic method; the test suite cross-checks with R cor.test(..., exact=FALSE)):
 *   kendalltau([12,2,1,12,2], [1,4,7,1,0]) -> (-0.47140452079103173, 0.28274545993277478) */
static void test_kendall_scipy_example_with_ties(void **state)
{
	(void)state;
	double x[] = {12, 2, 1, 12, 2}, y[] = {1, 4, 7, 1, 0};
	struct an_corr c = corr(AN_KENDALL, x, y, N(x));
	CLOSE(c.rho, -0.47140452079103173, 1e-13);
	CLOSE(c.p_value, 0.28274545993277478, 1e-11);
	/* Interval: Fisher z with variance 0.437/(n-4). */
	double z = atanh(-0.47140452079103173), se = sqrt(0.437 / 1);
	CLOSE(c.ci_low, tanh(z - Z975 * se), 1e-12);
	CLOSE(c.ci_high, tanh(z + Z975 * se), 1e-12);
}

/* SciPy's test suite: kendalltau(arange(9), arange(9), method='asymptotic') gives
 * (1.0, 0.00017455009626808976), asserted there to rtol 1e-6. By hand: no ties, so
 * var(con - dis) = n(n-1)(2n+5)/18 = 92, con - dis = 36, p = erfc(36 / sqrt(92) / sqrt(2)). */
static void test_kendall_asymptotic_without_ties(void **state)
{
	(void)state;
	double x[9];
	for (int i = 0; i < 9; i++)
		x[i] = i;
	struct an_corr c = corr(AN_KENDALL, x, x, 9);
	CLOSE(c.rho, 1.0, 1e-15);
	CLOSE(c.p_value, 0.00017455009626808976, 1e-6);
	CLOSE(c.p_value, erfc(36 / sqrt(92.0) / sqrt(2.0)), 1e-13);
	/* rho = 1: the interval collapses onto 1, it is not NaN. */
	CLOSE(c.ci_low, 1.0, 1e-15);
	CLOSE(c.ci_high, 1.0, 1e-15);
}

/* Kendall (1970), as used in SciPy's test suite: tau-b = 0.85895569 for these tied rankings. */
static void test_kendall_tau_b_with_many_ties(void **state)
{
	(void)state;
	double x[] = {1, 2, 2, 4, 4, 6, 6, 8, 9, 9}, y[] = {1, 2, 4, 4, 4, 4, 8, 8, 8, 10};
	struct an_corr c = corr(AN_KENDALL, x, y, N(x));
	CLOSE(c.rho, 0.85895569, 1e-8);
	/* tau-b of [1,1,2] with itself is 1 (SciPy's test suite), not tau-a's 2/3. */
	double a[] = {1, 1, 2};
	c = corr(AN_KENDALL, a, a, 3);
	CLOSE(c.rho, 1.0, 1e-15);
}

/* Exact null distributions of r under independent normals: for n = 3 the density of r is
 * 1/(pi sqrt(1-r^2)), so P(|R| >= r) = 2 acos(r)/pi; for n = 4, r is uniform on [-1, 1], so
 * P(|R| >= r) = 1 - r. The t-distribution p-value must reproduce both. */
static void test_t_pvalue_exact_small_n(void **state)
{
	(void)state;
	double rs[] = {0, 0.1, 0.4, 0.626, 0.973, 0.999};
	for (size_t i = 0; i < N(rs); i++) {
		CLOSE(an_t_pvalue(rs[i], 4), 1 - rs[i], 1e-10);
		CLOSE(an_t_pvalue(-rs[i], 4), 1 - rs[i], 1e-10);
		CLOSE(an_t_pvalue(rs[i], 3), 2 * acos(rs[i]) / M_PI, 1e-10);
	}
	assert_true(an_t_pvalue(1.0, 10) == 0);
	assert_true(isnan(an_t_pvalue(0.5, 2)));
}

/* Deterministic pseudo-random values with many ties (few distinct values). */
static uint64_t lcg = 88172645463325252ull;
static double tied_value(int levels)
{
	lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
	return (double)((lcg >> 33) % (uint64_t)levels);
}

/* The O(n log n) counts against a direct O(n^2) count over every pair. */
static void test_kendall_counts_against_brute_force(void **state)
{
	(void)state;
	for (int round = 0; round < 20; round++) {
		size_t n = 3 + (size_t)round * 7;
		double x[200], y[200];
		for (size_t i = 0; i < n; i++) {
			x[i] = tied_value(round % 5 + 2);
			y[i] = round % 3 ? tied_value(round % 7 + 2) : x[i] * 0.5 + tied_value(3);
		}
		int64_t tot = 0, xtie = 0, ytie = 0, ntie = 0, dis = 0, con = 0;
		for (size_t i = 0; i < n; i++)
			for (size_t j = i + 1; j < n; j++) {
				tot++;
				double dx = x[i] - x[j], dy = y[i] - y[j];
				xtie += dx == 0;
				ytie += dy == 0;
				ntie += dx == 0 && dy == 0;
				dis += dx * dy < 0;
				con += dx * dy > 0;
			}
		double x0 = 0, y0 = 0;
		for (size_t i = 0; i < n; i++) { /* sum over values of t(t-1)(t-2), t = its count */
			size_t tx = 0, ty = 0;
			bool firstx = true, firsty = true;
			for (size_t j = 0; j < n; j++) {
				tx += x[j] == x[i];
				ty += y[j] == y[i];
				if (j < i && x[j] == x[i])
					firstx = false;
				if (j < i && y[j] == y[i])
					firsty = false;
			}
			if (firstx)
				x0 += (double)tx * (tx - 1) * ((double)tx - 2);
			if (firsty)
				y0 += (double)ty * (ty - 1) * ((double)ty - 2);
		}
		struct an_kendall_counts c;
		assert_int_equal(an_kendall_count(x, y, n, &c), 0);
		assert_int_equal(c.tot, tot);
		assert_int_equal(c.xtie, xtie);
		assert_int_equal(c.ytie, ytie);
		assert_int_equal(c.ntie, ntie);
		assert_int_equal(c.dis, dis);
		assert_int_equal(c.tot - c.xtie - c.ytie + c.ntie - c.dis, con);
		CLOSE(c.x0 + 1, x0 + 1, 1e-15);
		CLOSE(c.y0 + 1, y0 + 1, 1e-15);
		/* tau-b = (con - dis) / sqrt((tot - xtie)(tot - ytie)) */
		if (xtie < tot && ytie < tot) {
			struct an_corr k = corr(AN_KENDALL, x, y, n);
			CLOSE(k.rho + 2,
			      (double)(con - dis) / sqrt((double)(tot - xtie) * (double)(tot - ytie)) + 2,
			      1e-14);
		}
	}
}

static void test_too_few_pairs(void **state)
{
	(void)state;
	double x[] = {1, 2}, y[] = {3, 1};
	for (int m = 0; m < AN_N_METHODS; m++) {
		struct an_corr c = corr((enum an_method)m, x, y, 2);
		assert_int_equal(c.undefined, AN_TOO_FEW);
		assert_true(isnan(c.rho) && isnan(c.p_value) && isnan(c.ci_low) && isnan(c.ci_high));
		c = corr((enum an_method)m, x, y, 0);
		assert_int_equal(c.undefined, AN_TOO_FEW);
	}
}

/* A constant column has no correlation: NAN with a reason, never 0 (SciPy returns nan). */
static void test_constant_column_is_undefined(void **state)
{
	(void)state;
	double x[] = {1, 2, 3, 4, 5}, k[] = {7, 7, 7, 7, 7};
	for (int m = 0; m < AN_N_METHODS; m++) {
		struct an_corr c = corr((enum an_method)m, x, k, 5);
		assert_int_equal(c.undefined, AN_CONSTANT_Y);
		assert_true(isnan(c.rho));
		assert_true(isnan(c.p_value));
		c = corr((enum an_method)m, k, x, 5);
		assert_int_equal(c.undefined, AN_CONSTANT_X);
		assert_true(isnan(c.rho));
	}
}

/* Intervals need n > 3 (Pearson, Spearman) or n > 4 (Kendall); below that they are NAN while
 * rho and p are still given. */
static void test_interval_needs_enough_pairs(void **state)
{
	(void)state;
	double x[] = {1, 2, 3, 4}, y[] = {2, 1, 4, 3};
	struct an_corr c = corr(AN_PEARSON, x, y, 3);
	assert_false(isnan(c.rho));
	assert_true(isnan(c.ci_low) && isnan(c.ci_high));
	c = corr(AN_PEARSON, x, y, 4);
	assert_false(isnan(c.ci_low));
	c = corr(AN_KENDALL, x, y, 4);
	assert_false(isnan(c.rho));
	assert_false(isnan(c.p_value));
	assert_true(isnan(c.ci_low));
}

static void test_perfect_and_negative(void **state)
{
	(void)state;
	double x[] = {1, 2, 3, 4, 5, 6}, y[] = {60, 50, 40, 30, 20, 10};
	for (int m = 0; m < AN_N_METHODS; m++) {
		struct an_corr c = corr((enum an_method)m, x, y, 6);
		CLOSE(c.rho, -1.0, 1e-15);
		assert_true(c.p_value < 0.01);
		assert_true(c.ci_low <= c.rho && c.rho <= c.ci_high);
	}
	struct an_corr c = corr(AN_PEARSON, x, y, 6);
	assert_true(c.p_value == 0);
}

static void test_confidence_level_and_bad_arguments(void **state)
{
	(void)state;
	double x[] = {1, 2, 3, 4, 5, 6, 7}, y[] = {10, 9, 2.5, 6, 4, 3, 2};
	struct an_corr c95 = corr(AN_PEARSON, x, y, 7), c90;
	assert_int_equal(an_correlate(AN_PEARSON, x, y, 7, 0.90, &c90), 0);
	/* 95% quantile of the standard normal: 1.6448536269514722. */
	double z = atanh(c95.rho);
	CLOSE(c90.ci_low, tanh(z - 1.6448536269514722 / 2), 1e-12);
	assert_true(c90.ci_low > c95.ci_low && c90.ci_high < c95.ci_high);
	assert_int_equal(an_correlate(AN_PEARSON, x, y, 7, 1.0, &c90), -EINVAL);
	assert_int_equal(an_correlate(AN_PEARSON, x, y, 7, 0, &c90), -EINVAL);
	assert_int_equal(an_correlate((enum an_method)9, x, y, 7, 0.95, &c90), -EINVAL);
	enum an_method m;
	assert_int_equal(an_method_parse("kendall", &m), 0);
	assert_int_equal(m, AN_KENDALL);
	assert_int_equal(an_method_parse("Kendall", &m), -EINVAL);
	assert_string_equal(an_method_name(AN_SPEARMAN), "spearman");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pearson_scipy_example),
	    cmocka_unit_test(test_pearson_extreme_scales),
	    cmocka_unit_test(test_spearman_scipy_example_with_ties),
	    cmocka_unit_test(test_spearman_is_pearson_of_ranks),
	    cmocka_unit_test(test_kendall_scipy_example_with_ties),
	    cmocka_unit_test(test_kendall_asymptotic_without_ties),
	    cmocka_unit_test(test_kendall_tau_b_with_many_ties),
	    cmocka_unit_test(test_t_pvalue_exact_small_n),
	    cmocka_unit_test(test_kendall_counts_against_brute_force),
	    cmocka_unit_test(test_too_few_pairs),
	    cmocka_unit_test(test_constant_column_is_undefined),
	    cmocka_unit_test(test_interval_needs_enough_pairs),
	    cmocka_unit_test(test_perfect_and_negative),
	    cmocka_unit_test(test_confidence_level_and_bad_arguments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
