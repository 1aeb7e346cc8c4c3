/* Unit tests of serve-bench's datasets: JSONL prompts and messages, output lengths,
 * timestamps, malformed lines named by number, and synthetic prompts of the asked length. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "loadgen/dataset.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char err[512];
static char path[64];

static const char *write_tmp(const char *text)
{
	snprintf(path, sizeof path, "/tmp/test_loadgen_dataset_XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static json_t *body(const struct lg_item *it)
{
	json_t *j = json_loads(it->body, 0, NULL);
	assert_non_null(j);
	assert_int_equal(strlen(it->body), it->body_len);
	return j;
}

static void test_jsonl(void **state)
{
	(void)state;
	struct lg_body_opts o = {
	    .endpoint = LG_ENDPOINT_CHAT, .model = "m", .output_len = 32, .ignore_eos = true};
	struct lg_dataset d;
	write_tmp("{\"prompt\": \"hello there world\", \"output_len\": 7, \"timestamp\": 1.5}\n"
	          "\n"
	          "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"timestamp\": 2}\r\n");
	assert_int_equal(lg_dataset_load(&d, path, &o, err, sizeof err), 0);
	unlink(path);
	assert_int_equal(d.n, 2);
	assert_true(d.has_timestamps);
	assert_true(d.items[0].timestamp == 1.5);
	assert_int_equal(d.items[0].input_words, 3);
	json_t *b = body(&d.items[0]);
	assert_string_equal(json_string_value(json_object_get(b, "model")), "m");
	assert_int_equal(json_integer_value(json_object_get(b, "max_tokens")), 7);
	assert_true(json_is_true(json_object_get(b, "stream")));
	assert_true(json_is_true(json_object_get(json_object_get(b, "stream_options"), "include_usage")));
	assert_true(json_is_true(json_object_get(b, "ignore_eos")));
	json_t *m = json_array_get(json_object_get(b, "messages"), 0);
	assert_string_equal(json_string_value(json_object_get(m, "content")), "hello there world");
	json_decref(b);
	b = body(&d.items[1]);
	assert_int_equal(json_integer_value(json_object_get(b, "max_tokens")), 32);
	assert_int_equal(json_array_size(json_object_get(b, "messages")), 1);
	json_decref(b);
	lg_dataset_release(&d);
}

static void expect_error(const char *text, enum lg_endpoint e, const char *needle)
{
	struct lg_body_opts o = {.endpoint = e, .model = "m", .output_len = 16};
	struct lg_dataset d;
	write_tmp(text);
	int rc = lg_dataset_load(&d, path, &o, err, sizeof err);
	unlink(path);
	assert_int_equal(rc, -EINVAL);
	if (!strstr(err, needle))
		fail_msg("'%s' not in '%s'", needle, err);
	assert_null(d.items);
}

static void test_malformed_lines(void **state)
{
	(void)state;
	expect_error("{\"prompt\": \"a\"}\n{\"prompt\": \"b\"\n", LG_ENDPOINT_COMPLETIONS,
	             "line 2: not JSON");
	expect_error("{\"prompt\": \"a\"}\n\n[1]\n", LG_ENDPOINT_COMPLETIONS, "line 3: not a JSON object");
	expect_error("{\"text\": \"a\"}\n", LG_ENDPOINT_COMPLETIONS,
	             "line 1: needs a 'prompt' or a 'messages'");
	expect_error("{\"prompt\": 5}\n", LG_ENDPOINT_COMPLETIONS, "'prompt' must be a string");
	expect_error("{\"prompt\": \"a\", \"output_len\": 0}\n", LG_ENDPOINT_COMPLETIONS, "'output_len'");
	expect_error("{\"messages\": [{\"role\":\"user\",\"content\":\"x\"}]}\n", LG_ENDPOINT_COMPLETIONS,
	             "needs --endpoint chat");
	expect_error("{\"messages\": []}\n", LG_ENDPOINT_CHAT, "non-empty array");
	expect_error("{\"prompt\": \"a\", \"timestamp\": 1}\n{\"prompt\": \"b\"}\n", LG_ENDPOINT_COMPLETIONS,
	             "line 2: 'timestamp' must be on every line");
	expect_error("\n\n", LG_ENDPOINT_COMPLETIONS, "holds no request");
	struct lg_body_opts o = {.model = "m"};
	struct lg_dataset d;
	assert_int_equal(lg_dataset_load(&d, "/nonexistent/x.jsonl", &o, err, sizeof err), -ENOENT);
	assert_non_null(strstr(err, "cannot open '/nonexistent/x.jsonl'"));
}

static void test_synthetic(void **state)
{
	(void)state;
	struct lg_body_opts o = {.endpoint = LG_ENDPOINT_COMPLETIONS, .model = "m"};
	struct lg_dataset d, d2;
	assert_int_equal(lg_dataset_synthetic(&d, 50, 100, 20, 0.5, 3, &o, err, sizeof err), 0);
	assert_int_equal(lg_dataset_synthetic(&d2, 50, 100, 20, 0.5, 3, &o, err, sizeof err), 0);
	assert_int_equal(d.n, 50);
	bool varied = false;
	for (size_t i = 0; i < d.n; i++) {
		assert_string_equal(d.items[i].body, d2.items[i].body); /* the seed decides */
		assert_true(d.items[i].input_words >= 50 && d.items[i].input_words <= 150);
		assert_true(d.items[i].output_len >= 10 && d.items[i].output_len <= 30);
		varied |= d.items[i].output_len != d.items[0].output_len;
		json_t *b = body(&d.items[i]);
		const char *p = json_string_value(json_object_get(b, "prompt"));
		int words = 1;
		for (const char *c = p; *c; c++)
			words += *c == ' ';
		assert_int_equal(words, d.items[i].input_words);
		assert_int_equal(json_integer_value(json_object_get(b, "max_tokens")), d.items[i].output_len);
		assert_null(json_object_get(b, "ignore_eos"));
		json_decref(b);
	}
	assert_true(varied);
	lg_dataset_release(&d);
	lg_dataset_release(&d2);
	assert_int_equal(lg_dataset_synthetic(&d, 5, 0, 20, 0, 3, &o, err, sizeof err), -EINVAL);
	assert_int_equal(lg_dataset_synthetic(&d, 5, 10, 20, 1.5, 3, &o, err, sizeof err), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_jsonl),
	    cmocka_unit_test(test_malformed_lines),
	    cmocka_unit_test(test_synthetic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
