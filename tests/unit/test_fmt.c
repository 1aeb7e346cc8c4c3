/* The figure formatter: SI prefixes, significant digits, carries into the next prefix,
 * fixed notation without exponents, and what is not a number. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/fmt.h"

#include <math.h>

static void test_si_prefixes(void **state)
{
	(void)state;
	char b[GOPS_FMT_LEN];
	assert_string_equal(gops_fmt_si(b, sizeof b, 3.877e-05, "g", 3), "38.8 µg");
	assert_string_equal(gops_fmt_si(b, sizeof b, 6.94374e-05, "J", 4), "69.44 µJ");
	assert_string_equal(gops_fmt_si(b, sizeof b, 0.0123, "J", 4), "12.30 mJ");
	assert_string_equal(gops_fmt_si(b, sizeof b, 700.04, "J", 4), "700.0 J");
	assert_string_equal(gops_fmt_si(b, sizeof b, 1234.6, "J", 4), "1.235 kJ");
	assert_string_equal(gops_fmt_si(b, sizeof b, 4.3, "W", 4), "4.300 W");
	assert_string_equal(gops_fmt_si(b, sizeof b, -125.66, "W", 4), "-125.7 W");
	assert_string_equal(gops_fmt_si(b, sizeof b, 3.6e9, "J", 3), "3.60 GJ");
}

static void test_si_carry_and_edges(void **state)
{
	(void)state;
	char b[GOPS_FMT_LEN];
	assert_string_equal(gops_fmt_si(b, sizeof b, 999.96, "J", 4), "1.000 kJ");
	assert_string_equal(gops_fmt_si(b, sizeof b, 0.00099999, "J", 3), "1.00 mJ");
	assert_string_equal(gops_fmt_si(b, sizeof b, 0, "J", 4), "0 J");
	assert_string_equal(gops_fmt_si(b, sizeof b, NAN, "J", 4), "-");
	assert_string_equal(gops_fmt_si(b, sizeof b, INFINITY, "J", 4), "-");
	assert_string_equal(gops_fmt_si(b, sizeof b, 1e-15, "J", 2), "0.0010 pJ");
}

static void test_sig_fixed(void **state)
{
	(void)state;
	char b[GOPS_FMT_LEN];
	assert_string_equal(gops_fmt_sig(b, sizeof b, 8.961e-07, 3), "0.000000896");
	assert_string_equal(gops_fmt_sig(b, sizeof b, 1260, 3), "1260");
	assert_string_equal(gops_fmt_sig(b, sizeof b, 0.3, 3), "0.3");
	assert_string_equal(gops_fmt_sig(b, sizeof b, 5, 6), "5");
	assert_string_equal(gops_fmt_si_pm(b, sizeof b, 700.04, 2.31, "J", 4), "700.0 ± 2.3 J");
	assert_string_equal(gops_fmt_si_pm(b, sizeof b, 1.982, 0.5951, "J", 4), "1.982 ± 0.595 J");
	assert_string_equal(gops_fmt_si_pm(b, sizeof b, 0.0123, 0.0004, "J", 4), "12.30 ± 0.40 mJ");
	assert_string_equal(gops_fmt_si_pm(b, sizeof b, 3, NAN, "J", 4), "3.000 J");
	assert_string_equal(gops_fmt_si_pm(b, sizeof b, 14424.32, 1.51, "J", 4), "14.4243 ± 0.0015 kJ");
	assert_string_equal(gops_fmt_sig(b, sizeof b, 0, 3), "0");
	assert_string_equal(gops_fmt_energy(b, sizeof b, 1.08), "1.080 J (300.0 µWh)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_si_prefixes),
	    cmocka_unit_test(test_si_carry_and_edges),
	    cmocka_unit_test(test_sig_fixed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
