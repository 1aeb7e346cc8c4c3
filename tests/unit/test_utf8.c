/* Unit tests of gops_utf8_repair: well-formed text passes unchanged, and every byte of an
 * ill-formed sequence (stray continuation, overlong form, surrogate, beyond U+10FFFF, cut
 * short by the end of the string) becomes U+FFFD, so that jansson accepts the result. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/util.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define R "\xef\xbf\xbd"

static void expect(const char *in, const char *want)
{
	char *got = gops_utf8_repair(in);
	if (strcmp(got, want))
		fail_msg("repairing '%s' gave '%s', expected '%s'", in, got, want);
	json_t *j = json_string(got);
	assert_non_null(j); /* jansson's own check agrees */
	json_decref(j);
	free(got);
}

static void test_well_formed_unchanged(void **state)
{
	(void)state;
	const char *good[] = {"",
	                      "ascii",
	                      "caf\xc3\xa9",
	                      "\xe2\x82\xac",
	                      "\xed\x9f\xbf",
	                      "\xee\x80\x80",
	                      "\xf0\x9f\x98\x80",
	                      "\xf4\x8f\xbf\xbf",
	                      "\xc2\x80"};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		expect(good[i], good[i]);
	char *n = gops_utf8_repair(NULL);
	assert_string_equal(n, "");
	free(n);
}

static void test_ill_formed_replaced(void **state)
{
	(void)state;
	expect("caf\xe9", "caf" R);          /* Latin-1 */
	expect("\x80x", R "x");              /* stray continuation */
	expect("\xc0\xaf", R R);             /* overlong '/' */
	expect("\xe0\x80\xaf", R R R);       /* overlong, three bytes */
	expect("\xed\xa0\x80", R R R);       /* surrogate U+D800 */
	expect("\xf4\x90\x80\x80", R R R R); /* U+110000 */
	expect("\xf5\x80", R R);             /* no such lead byte */
	expect("\xf0\x9f\x98", R R R);       /* cut short by the end */
	expect("\xe2\x82"
	       "a\xe2\x82\xac",
	       R R "a\xe2\x82\xac"); /* cut short, then whole */
	expect("\xff\xfe", R R);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_well_formed_unchanged),
	    cmocka_unit_test(test_ill_formed_replaced),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
