/* Unit tests of the analysis table: CSV reading (quotes, line breaks inside quotes, CRLF, a
 * byte-order mark, blank lines), the errors that name the file, line and column, missing
 * values, filtering and pairing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "analysis/table.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int parse(struct an_table *t, const char *text)
{
	an_table_init(t, "data.csv", "line");
	return an_table_parse_csv(t, text, strlen(text));
}

static const char *cell(const struct an_table *t, size_t row, size_t col)
{
	return t->cells[row * t->n_cols + col];
}

static void test_quotes_crlf_bom_and_blank_lines(void **state)
{
	(void)state;
	struct an_table t;
	const char *csv = "\xEF\xBB\xBF"
	                  "model,batch,note\r\n"
	                  "resnet,32,\"a, b\"\r\n"
	                  "\r\n"
	                  "\"vgg \"\"16\"\"\",64,\"two\nlines\"\n"
	                  "mobilenet,,\"\"\n"
	                  "last,1,x";
	assert_int_equal(parse(&t, csv), 0);
	assert_int_equal(t.n_cols, 3);
	assert_string_equal(t.names[0], "model");
	assert_int_equal(t.n_rows, 4);
	assert_string_equal(cell(&t, 0, 2), "a, b");
	assert_string_equal(cell(&t, 1, 0), "vgg \"16\"");
	assert_string_equal(cell(&t, 1, 2), "two\nlines");
	assert_string_equal(cell(&t, 2, 1), "");
	assert_string_equal(cell(&t, 3, 2), "x");
	/* Each row remembers the line it started on: the blank line 3 and the line break inside
	 * the quotes on line 4 both count. */
	assert_int_equal(t.row_ref[0], 2);
	assert_int_equal(t.row_ref[1], 4);
	assert_int_equal(t.row_ref[2], 6);
	assert_int_equal(t.row_ref[3], 7);
	an_table_release(&t);
}

static void expect_error(const char *csv, const char *msg)
{
	struct an_table t;
	assert_int_equal(parse(&t, csv), -EINVAL);
	if (!strstr(t.err, msg))
		fail_msg("error '%s' does not say '%s'", t.err, msg);
	an_table_release(&t);
}

static void test_malformed_lines_are_named(void **state)
{
	(void)state;
	expect_error("a,b\n1,2\n3\n", "'data.csv' line 3: 1 field, the header has 2");
	expect_error("a,b\n1,2,3\n", "'data.csv' line 2: 3 fields, the header has 2");
	expect_error("a,b\n1,\"2\n3,4\n", "'data.csv' line 2: the quoted field opened here never ends");
	expect_error("a,b\n1,2\n3,4\"x\n", "'data.csv' line 3, field 2: a quote inside an unquoted field");
	expect_error("a,b\n\"1\"x,2\n", "'data.csv' line 2, field 1: text after the closing quote");
	expect_error("a,a\n1,2\n", "'data.csv' header: column 'a' appears twice (columns 1 and 2)");
	expect_error("a,,c\n1,2,3\n", "'data.csv' header: column 2 has no name");
	expect_error("", "'data.csv' is empty");
	expect_error("\n\n", "'data.csv' is empty");
}

static void test_read_file_errors(void **state)
{
	(void)state;
	struct an_table t;
	an_table_init(&t, "x", "line");
	assert_int_equal(an_table_read_csv(&t, "/nonexistent/data.csv"), -ENOENT);
	assert_string_equal(t.err, "cannot read '/nonexistent/data.csv': No such file or directory");
	an_table_release(&t);

	char path[] = "/tmp/test_stats_table.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char *text = "x,y\n1,2\n3,4\n";
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	an_table_init(&t, path, "line");
	assert_int_equal(an_table_read_csv(&t, path), 0);
	assert_int_equal(t.n_rows, 2);
	assert_string_equal(cell(&t, 1, 1), "4");
	an_table_release(&t);
	unlink(path);
}

static void test_numbers_and_missing_values(void **state)
{
	(void)state;
	double v;
	const char *missing[] = {"", "  ", "NA", "n/a", "NaN", "nan", "null", "None"};
	for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
		assert_int_equal(an_parse_number(missing[i], &v), 0);
		assert_true(isnan(v));
	}
	assert_int_equal(an_parse_number(NULL, &v), 0);
	assert_true(isnan(v));
	assert_int_equal(an_parse_number(" 1.5e3 ", &v), 0);
	assert_true(v == 1500);
	assert_int_equal(an_parse_number("-2", &v), 0);
	assert_true(v == -2);
	assert_int_equal(an_parse_number("abc", &v), -EINVAL);
	assert_int_equal(an_parse_number("12abc", &v), -EINVAL);
	assert_int_equal(an_parse_number("inf", &v), -EINVAL);
	assert_int_equal(an_parse_number("1e999", &v), -EINVAL);
}

static void test_column_conversion_names_the_bad_cell(void **state)
{
	(void)state;
	struct an_table t;
	assert_int_equal(parse(&t, "batch,energy_j\n1,10\n2,\n\n4,abc\n"), 0);
	double v[3];
	assert_int_equal(an_table_column(&t, 0, v), 0);
	assert_true(v[0] == 1 && v[1] == 2 && v[2] == 4);
	assert_int_equal(an_table_column(&t, 1, v), -EINVAL);
	assert_string_equal(t.err, "'data.csv' line 5, column 'energy_j': 'abc' is not a finite number");
	an_table_release(&t);
}

static void test_find_and_tag_columns(void **state)
{
	(void)state;
	struct an_table t;
	an_table_init(&t, "results.db", "run");
	const char *names[] = {"run_id", "energy_j", "tag.batch", "tag.energy_j"};
	assert_int_equal(an_table_set_header(&t, 4, names), 0);
	const char *row[] = {"7", "100", "32", "5"};
	assert_int_equal(an_table_add_row(&t, 7, 4, row), 0);
	size_t c;
	assert_int_equal(an_table_find(&t, "batch", &c), 0);
	assert_int_equal(c, 2);
	assert_int_equal(an_table_find(&t, "tag.batch", &c), 0);
	assert_int_equal(c, 2);
	/* A column of the run wins over a tag of the same name. */
	assert_int_equal(an_table_find(&t, "energy_j", &c), 0);
	assert_int_equal(c, 1);
	assert_int_equal(an_table_find(&t, "power", &c), -ENOENT);
	assert_string_equal(t.err,
	                    "'results.db' has no column 'power' (columns: batch, tag.energy_j, run_id, "
	                    "energy_j)");
	const char *bad[] = {"8", "1"};
	assert_int_equal(an_table_add_row(&t, 8, 2, bad), -EINVAL);
	assert_string_equal(t.err, "'results.db' run 8: 2 fields, the header has 4");
	an_table_release(&t);
}

static void test_where_keeps_matching_rows(void **state)
{
	(void)state;
	struct an_table t;
	assert_int_equal(parse(&t, "model,batch,e\nresnet,32,1\nvgg,32.0,2\nresnet,64,3\nresnet,,4\n"), 0);
	assert_int_equal(an_table_where(&t, "batch", "32"), 2); /* 32.0 is 32 as a number */
	assert_int_equal(t.n_rows, 2);
	assert_string_equal(cell(&t, 1, 0), "vgg");
	assert_int_equal(t.row_ref[1], 3);
	assert_int_equal(an_table_where(&t, "model", "resnet"), 1);
	assert_int_equal(t.n_rows, 1);
	assert_string_equal(cell(&t, 0, 2), "1");
	assert_int_equal(an_table_where(&t, "nosuch", "1"), -ENOENT);
	an_table_release(&t);
}

static void test_pairs_drop_missing(void **state)
{
	(void)state;
	double x[] = {1, NAN, 3, 4, 5}, y[] = {10, 20, NAN, 40, 50}, xs[5], ys[5];
	size_t dropped, n = an_pairs(x, y, 5, xs, ys, &dropped);
	assert_int_equal(n, 3);
	assert_int_equal(dropped, 2);
	assert_true(xs[1] == 4 && ys[1] == 40 && xs[2] == 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_quotes_crlf_bom_and_blank_lines),
	    cmocka_unit_test(test_malformed_lines_are_named),
	    cmocka_unit_test(test_read_file_errors),
	    cmocka_unit_test(test_numbers_and_missing_values),
	    cmocka_unit_test(test_column_conversion_names_the_bad_cell),
	    cmocka_unit_test(test_find_and_tag_columns),
	    cmocka_unit_test(test_where_keeps_matching_rows),
	    cmocka_unit_test(test_pairs_drop_missing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
