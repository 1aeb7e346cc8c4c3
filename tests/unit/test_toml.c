/* Unit tests of the configuration file's TOML reader (src/cli/toml.c): every value type it
 * takes, tables, comments and line ends as TOML has them, and each malformed or unsupported
 * input refused with the line at fault and a message naming the key. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cli/toml.h"

#include <errno.h>
#include <math.h>
#include <string.h>

static void parse_ok(const char *text, struct toml_doc *d)
{
	unsigned line;
	char err[256];
	if (toml_parse(text, strlen(text), d, &line, err, sizeof err) != 0)
		fail_msg("refused at line %u: %s\n---\n%s", line, err, text);
}

static const struct toml_entry *get(const struct toml_doc *d, const char *table, const char *key)
{
	for (size_t i = 0; i < d->n; i++)
		if (!strcmp(d->v[i].table, table) && !strcmp(d->v[i].key, key))
			return &d->v[i];
	fail_msg("no %s.%s", table, key);
	return NULL;
}

/* TEXT is refused at line LINE with a message containing WANT. */
static void refused_n(const char *text, size_t len, unsigned want_line, const char *want)
{
	struct toml_doc d;
	unsigned line;
	char err[256];
	int rc = toml_parse(text, len, &d, &line, err, sizeof err);
	if (rc != -EINVAL)
		fail_msg("accepted:\n%s", text);
	if (line != want_line || !strstr(err, want))
		fail_msg("refused at line %u with '%s', expected line %u and '%s'\n---\n%s", line, err,
		         want_line, want, text);
	assert_int_equal(d.n, 0);
	assert_null(d.v);
}

static void refused(const char *text, unsigned want_line, const char *want)
{
	refused_n(text, strlen(text), want_line, want);
}

static void test_values(void **state)
{
	(void)state;
	struct toml_doc d;
	parse_ok("# a comment\n"
	         "database = \"/tmp/a b.db\"   # after a value\n"
	         "literal = 'C:\\no\\escapes'\n"
	         "\n"
	         "[cost]\n"
	         "carbon_intensity = 1_000\n"
	         "pue = 1.25\n"
	         "neg = -3e-2\n"
	         "plus = +7\n"
	         "zero = 0\n"
	         "flag = true\n"
	         "off=false\n"
	         "[measure]\n"
	         "sources = [\"nvml\", 'perf']\n"
	         "empty = []\n"
	         "multi = [\n"
	         "  \"a\",  # the first\n"
	         "  \"b\",\n"
	         "]\n"
	         "after = \"x\"\n",
	         &d);
	assert_int_equal(d.n, 13);
	const struct toml_entry *e = get(&d, "", "database");
	assert_int_equal(e->type, TOML_STRING);
	assert_string_equal(e->str, "/tmp/a b.db");
	assert_int_equal(e->line, 2);
	assert_string_equal(get(&d, "", "literal")->str, "C:\\no\\escapes");
	e = get(&d, "cost", "carbon_intensity");
	assert_int_equal(e->type, TOML_NUMBER);
	assert_true(e->integer);
	assert_true(e->num == 1000);
	e = get(&d, "cost", "pue");
	assert_false(e->integer);
	assert_true(e->num == 1.25);
	assert_true(get(&d, "cost", "neg")->num == -3e-2);
	assert_true(get(&d, "cost", "plus")->num == 7);
	assert_true(get(&d, "cost", "zero")->num == 0);
	assert_int_equal(get(&d, "cost", "flag")->type, TOML_BOOL);
	assert_true(get(&d, "cost", "flag")->boolean);
	assert_false(get(&d, "cost", "off")->boolean);
	e = get(&d, "measure", "sources");
	assert_int_equal(e->type, TOML_ARRAY);
	assert_int_equal(e->n_items, 2);
	assert_string_equal(e->items[0], "nvml");
	assert_string_equal(e->items[1], "perf");
	assert_int_equal(get(&d, "measure", "empty")->n_items, 0);
	e = get(&d, "measure", "multi");
	assert_int_equal(e->n_items, 2);
	assert_int_equal(e->line, 16);
	assert_string_equal(e->items[1], "b");
	assert_int_equal(get(&d, "measure", "after")->line, 20); /* lines counted inside the array */
	toml_doc_release(&d);
}

static void test_escapes_and_line_ends(void **state)
{
	(void)state;
	struct toml_doc d;
	parse_ok("a = \"q\\\"b\\\\t\\tn\\n\"\r\nb = \"\\u00e9\\U0001F600\"\r\n\t[ t ]\t# x\r\nc = 1", &d);
	assert_string_equal(get(&d, "", "a")->str, "q\"b\\t\tn\n");
	assert_string_equal(get(&d, "", "b")->str, "\xc3\xa9\xf0\x9f\x98\x80");
	assert_int_equal(get(&d, "t", "c")->line, 4);
	toml_doc_release(&d);
	parse_ok("", &d); /* empty: nothing */
	assert_int_equal(d.n, 0);
	toml_doc_release(&d);
	parse_ok("\xEF\xBB\xBFk = 1\n", &d); /* a byte order mark */
	assert_int_equal(d.n, 1);
	toml_doc_release(&d);
}

static void test_malformed(void **state)
{
	(void)state;
	refused("a = 1\nb 2\n", 2, "key 'b': expected '=' after the key");
	refused("a =\n", 1, "key 'a': no value after '='");
	refused("a = # nothing\n", 1, "key 'a': no value after '='");
	refused("a = EUR\n", 1, "key 'a': 'EUR' is not a value");
	refused("a = \"open\n", 1, "key 'a': the string is not closed on its line");
	refused("a = \"x\" y\n", 1, "key 'a': unexpected 'y' after the value");
	refused("a = 1 2\n", 1, "unexpected '2'");
	refused("a = 1\na = 2\n", 2, "key 'a': defined twice (first on line 1)");
	refused("[t]\n[t]\n", 2, "table [t] appears twice");
	refused("[t\n", 1, "expected ']'");
	refused("[]\n", 1, "expected a table name");
	refused("= 3\n", 1, "expected 'key = value'");
	refused("a = [\"x\" \"y\"]\n", 1, "expected ',' or ']'");
	refused("a = [\"x\",\n", 2, "the array is not closed");
	refused("a = [1, 2]\n", 1, "key 'a': an array here holds strings only");
	refused("a = \"\\q\"\n", 1, "unknown escape '\\q'");
	refused("a = \"\\u12\"\n", 1, "\\u needs 4 hexadecimal digits");
	refused("a = \"\\uD800\"\n", 1, "not a Unicode scalar value");
	refused("a = \"tab\x01\"\n", 1, "a control character in a string");
	refused_n("a = 1\nb = 2\0\n", 14, 2, "a NUL byte");
	refused("[c]\nx = 0123\n", 2, "key 'c.x': '0123' is not a value");
	refused("x = 1__0\n", 1, "'1__0' is not a value");
	refused("x = 1.\n", 1, "'1.' is not a value");
	refused("x = .5\n", 1, "'.5' is not a value");
	refused("x = 1e\n", 1, "'1e' is not a value");
	refused("x = truex\n", 1, "'truex' is not a value");
	refused("x = 1e999\n", 1, "out of range");
}

static void test_unsupported(void **state)
{
	(void)state;
	refused("a.b = 1\n", 1, "key 'a': dotted keys are not supported");
	refused("\"a\" = 1\n", 1, "quoted keys are not supported");
	refused("[a.b]\n", 1, "dotted table names");
	refused("[[a]]\n", 1, "arrays of tables");
	refused("a = {b = 1}\n", 1, "inline tables are not supported");
	refused("a = \"\"\"x\"\"\"\n", 1, "multi-line strings are not supported");
	refused("a = 1979-05-27\n", 1, "'1979-05-27' is not a value");
	refused("a = 0x10\n", 1, "'0x10' is not a value");
	refused("a = inf\n", 1, "'inf' is not a value");
	refused("a = nan\n", 1, "'nan' is not a value");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_values),
	    cmocka_unit_test(test_escapes_and_line_ends),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_unsupported),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
