/* Unit tests of serve-bench's datasets: JSONL prompts and messages, output lengths,
 * timestamps, malformed lines named by number, synthetic prompts of the asked length, and
 * ShareGPT-style conversations (single turn, multi-turn, filters, order, malformed entries
 * named by number and line, the token estimator). */
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
	assert_int_equal(lg_dataset_load(&d, path, NULL, &o, err, sizeof err), 0);
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
	int rc = lg_dataset_load(&d, path, NULL, &o, err, sizeof err);
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
	assert_int_equal(lg_dataset_load(&d, "/nonexistent/x.jsonl", NULL, &o, err, sizeof err), -ENOENT);
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

/* A ShareGPT-style array: single-turn requests take the first question and the first answer's
 * estimated length; conversations without an answer or too short are skipped and counted. */
static const char sharegpt[] =
    "[\n"
    " {\"id\": \"a\", \"conversations\": [{\"from\": \"human\", \"value\": \"What is a heat pump for?\"},\n"
    "   {\"from\": \"gpt\", \"value\": \"It moves heat from the outside air inside.\"}]},\n"
    " {\"id\": \"b\", \"conversations\": [{\"from\": \"human\", \"value\": \"never answered here\"}]},\n"
    " {\"id\": \"c\", \"conversations\": [{\"from\": \"system\", \"value\": \"Be brief.\"},\n"
    "   {\"from\": \"human\", \"value\": \"Name a prime over ten.\"}, {\"from\": \"gpt\", \"value\": "
    "\"Eleven.\"},\n"
    "   {\"from\": \"human\", \"value\": \"And the next one?\"}, {\"from\": \"gpt\", \"value\": \"Thirteen "
    "is next.\"}]},\n"
    " {\"id\": \"d\", \"conversations\": [{\"from\": \"human\", \"value\": \"hi\"}, {\"from\": \"gpt\", "
    "\"value\": \"Hello there, how can I help?\"}]}\n"
    "]\n";

static const char *prompt_of(json_t *b)
{
	json_t *m = json_object_get(b, "messages");
	if (m)
		return json_string_value(
		    json_object_get(json_array_get(m, json_array_size(m) - 1), "content"));
	return json_string_value(json_object_get(b, "prompt"));
}

static void test_sharegpt_single(void **state)
{
	(void)state;
	struct lg_body_opts o = {.endpoint = LG_ENDPOINT_COMPLETIONS, .model = "m", .output_len = 99};
	struct lg_dataset_opts dopt = {.min_len = 2};
	struct lg_dataset d;
	write_tmp(sharegpt);
	assert_int_equal(lg_dataset_load(&d, path, &dopt, &o, err, sizeof err), 0);
	assert_int_equal(d.format, LG_DS_SHAREGPT);
	assert_int_equal(d.entries, 4);
	assert_int_equal(d.n, 2);
	assert_int_equal(d.skipped_short, 1); /* b: one turn */
	assert_int_equal(d.skipped_len, 1);   /* d: a prompt of 1 estimated token (c answers in 2) */
	assert_true(d.lengths_estimated);
	assert_false(d.has_timestamps);
	json_t *b = body(&d.items[0]);
	assert_string_equal(prompt_of(b), "What is a heat pump for?");
	/* 42 characters: 11 tokens, estimated */
	assert_int_equal(json_integer_value(json_object_get(b, "max_tokens")), 11);
	assert_true(d.items[0].output_estimated);
	json_decref(b);
	b = body(&d.items[1]); /* the first question, not the system message */
	assert_string_equal(prompt_of(b), "Name a prime over ten.");
	assert_int_equal(json_integer_value(json_object_get(b, "max_tokens")), 2); /* "Eleven." */
	json_decref(b);
	lg_dataset_release(&d);

	/* --output-len overrides the answers, and then short answers are not skipped; no
	 * minimum keeps "hi"; a maximum of prompt + answer drops the long one. */
	dopt = (struct lg_dataset_opts){.output_len = 7, .max_len = 12};
	assert_int_equal(lg_dataset_load(&d, path, &dopt, &o, err, sizeof err), 0);
	assert_int_equal(d.n, 1);
	assert_int_equal(d.skipped_len, 2); /* a and c: 6 + 7 > 12 */
	assert_false(d.lengths_estimated);
	b = body(&d.items[0]);
	assert_string_equal(prompt_of(b), "hi");
	assert_int_equal(json_integer_value(json_object_get(b, "max_tokens")), 7);
	json_decref(b);
	lg_dataset_release(&d);

	/* Chat: the question as the one user message. */
	o.endpoint = LG_ENDPOINT_CHAT;
	assert_int_equal(lg_dataset_load(&d, path, NULL, &o, err, sizeof err), 0);
	unlink(path);
	assert_int_equal(d.n, 3);
	b = body(&d.items[0]);
	json_t *m = json_object_get(b, "messages");
	assert_int_equal(json_array_size(m), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(m, 0), "role")), "user");
	json_decref(b);
	lg_dataset_release(&d);
}

/* JSONL conversations, detected by "conversations"; OpenAI "messages" when sharegpt is asked. */
static void test_sharegpt_jsonl(void **state)
{
	(void)state;
	struct lg_body_opts o = {.endpoint = LG_ENDPOINT_CHAT, .model = "m", .output_len = 99};
	struct lg_dataset d;
	write_tmp("{\"conversations\": [{\"from\": \"user\", \"value\": \"first question\"}, {\"from\": "
	          "\"assistant\", \"value\": \"12345678\"}]}\n"
	          "\n"
	          "{\"conversations\": [{\"from\": \"human\", \"value\": \"second question\"}, {\"from\": "
	          "\"gpt\", \"value\": \"123456789\"}]}\n");
	assert_int_equal(lg_dataset_load(&d, path, NULL, &o, err, sizeof err), 0);
	unlink(path);
	assert_int_equal(d.format, LG_DS_SHAREGPT);
	assert_int_equal(d.n, 2);
	assert_int_equal(d.items[0].output_len, 2);
	assert_int_equal(d.items[1].output_len, 3);
	lg_dataset_release(&d);

	const char *msgs = "{\"messages\": [{\"role\": \"user\", \"content\": \"what now\"}, {\"role\": "
	                   "\"assistant\", \"content\": \"1234\"}]}\n";
	write_tmp(msgs);
	assert_int_equal(lg_dataset_load(&d, path, NULL, &o, err, sizeof err), 0);
	assert_int_equal(d.format, LG_DS_JSONL); /* sent as it is */
	json_t *b = body(&d.items[0]);
	assert_int_equal(json_array_size(json_object_get(b, "messages")), 2);
	assert_int_equal(json_integer_value(json_object_get(b, "max_tokens")), 99);
	json_decref(b);
	lg_dataset_release(&d);
	struct lg_dataset_opts dopt = {.format = LG_DS_SHAREGPT};
	assert_int_equal(lg_dataset_load(&d, path, &dopt, &o, err, sizeof err), 0);
	unlink(path);
	b = body(&d.items[0]);
	assert_int_equal(json_array_size(json_object_get(b, "messages")), 1);
	assert_string_equal(prompt_of(b), "what now");
	assert_int_equal(json_integer_value(json_object_get(b, "max_tokens")), 1);
	json_decref(b);
	lg_dataset_release(&d);
}

/* Multi-turn: each question is a turn; joining head, turns and answers gives the bodies. */
static void test_sharegpt_multi(void **state)
{
	(void)state;
	struct lg_body_opts o = {
	    .endpoint = LG_ENDPOINT_CHAT, .model = "m\"x", .output_len = 5, .ignore_eos = true};
	struct lg_dataset_opts dopt = {.multi_turn = true};
	struct lg_dataset d;
	write_tmp(sharegpt);
	assert_int_equal(lg_dataset_load(&d, path, &dopt, &o, err, sizeof err), 0);
	assert_int_equal(d.n, 3); /* b has one turn only */
	assert_non_null(d.convs);
	assert_int_equal(d.convs[0].n, 1);
	assert_int_equal(d.convs[1].n, 2);
	assert_int_equal(d.n_turns, 4);
	const struct lg_conv *c = &d.convs[1];
	/* Turn 2 of c, with an answer of the server's in between. */
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	fwrite(d.head, 1, d.head_len, f);
	fwrite(d.turns[c->first].msgs, 1, d.turns[c->first].msgs_len, f);
	fputs(",{\"role\":\"assistant\",\"content\":\"SERVER\"},", f);
	fwrite(d.turns[c->first + 1].msgs, 1, d.turns[c->first + 1].msgs_len, f);
	fwrite(d.turns[c->first + 1].tail, 1, d.turns[c->first + 1].tail_len, f);
	fclose(f);
	json_t *b = json_loads(text, 0, NULL);
	assert_non_null(b);
	free(text);
	assert_string_equal(json_string_value(json_object_get(b, "model")), "m\"x");
	json_t *m = json_object_get(b, "messages");
	assert_int_equal(json_array_size(m), 4);
	assert_string_equal(json_string_value(json_object_get(json_array_get(m, 0), "role")), "system");
	assert_string_equal(json_string_value(json_object_get(json_array_get(m, 1), "content")),
	                    "Name a prime over ten.");
	assert_string_equal(json_string_value(json_object_get(json_array_get(m, 2), "content")), "SERVER");
	assert_string_equal(json_string_value(json_object_get(json_array_get(m, 3), "content")),
	                    "And the next one?");
	/* "Thirteen is next.": 17 characters, 5 tokens */
	assert_int_equal(json_integer_value(json_object_get(b, "max_tokens")), 5);
	assert_true(json_is_true(json_object_get(b, "ignore_eos")));
	assert_true(json_is_true(json_object_get(b, "stream")));
	json_decref(b);
	/* The first turn is an item, as a single request would be. */
	b = body(&d.items[1]);
	assert_int_equal(json_array_size(json_object_get(b, "messages")), 2);
	assert_int_equal(json_integer_value(json_object_get(b, "max_tokens")), 2);
	json_decref(b);
	lg_dataset_release(&d);
	/* Multi-turn needs chat. */
	o.endpoint = LG_ENDPOINT_COMPLETIONS;
	assert_int_equal(lg_dataset_load(&d, path, &dopt, &o, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "--endpoint chat"));
	unlink(path);
}

static void test_sharegpt_order(void **state)
{
	(void)state;
	char text[8192] = "[";
	for (int i = 0; i < 30; i++)
		snprintf(text + strlen(text), sizeof text - strlen(text),
		         "%s{\"conversations\":[{\"from\":\"human\",\"value\":\"question %02d\"},"
		         "{\"from\":\"gpt\",\"value\":\"answer\"}]}",
		         i ? "," : "", i);
	strcat(text, "]");
	struct lg_body_opts o = {.endpoint = LG_ENDPOINT_COMPLETIONS, .model = "m"};
	struct lg_dataset_opts dopt = {.shuffle = true, .seed = 1};
	struct lg_dataset a, b, c, f;
	write_tmp(text);
	assert_int_equal(lg_dataset_load(&a, path, &dopt, &o, err, sizeof err), 0);
	assert_int_equal(lg_dataset_load(&b, path, &dopt, &o, err, sizeof err), 0);
	dopt.seed = 2;
	assert_int_equal(lg_dataset_load(&c, path, &dopt, &o, err, sizeof err), 0);
	assert_int_equal(lg_dataset_load(&f, path, NULL, &o, err, sizeof err), 0);
	unlink(path);
	bool same_ab = true, same_ac = true, in_order = true;
	for (size_t i = 0; i < 30; i++) {
		same_ab &= !strcmp(a.items[i].body, b.items[i].body);
		same_ac &= !strcmp(a.items[i].body, c.items[i].body);
		char want[32];
		snprintf(want, sizeof want, "question %02zu", i);
		in_order &= strstr(f.items[i].body, want) != NULL;
	}
	assert_true(same_ab);
	assert_false(same_ac);
	assert_true(in_order);
	lg_dataset_release(&a), lg_dataset_release(&b), lg_dataset_release(&c), lg_dataset_release(&f);
}

static void expect_conv_error(const char *text, const char *needle)
{
	struct lg_body_opts o = {.endpoint = LG_ENDPOINT_CHAT, .model = "m", .output_len = 16};
	struct lg_dataset_opts dopt = {.format = LG_DS_SHAREGPT};
	struct lg_dataset d;
	write_tmp(text);
	int rc = lg_dataset_load(&d, path, &dopt, &o, err, sizeof err);
	unlink(path);
	assert_int_equal(rc, -EINVAL);
	if (!strstr(err, needle) || !strstr(err, path) || strchr(err, '\n'))
		fail_msg("'%s' not in '%s' (or the message is not one line naming the file)", needle, err);
	assert_null(d.items);
}

static void test_sharegpt_errors(void **state)
{
	(void)state;
	const char *ok =
	    "{\"conversations\":[{\"from\":\"human\",\"value\":\"q\"},{\"from\":\"gpt\",\"value\":\"a\"}]}";
	char text[1024];
	snprintf(text, sizeof text, "[\n%s,\n%s,\n{\"conversations\": [}\n]", ok, ok);
	expect_conv_error(text, "entry 3 (line 4): not JSON");
	snprintf(text, sizeof text, "[%s,\n\n {\"id\": 1}]", ok);
	expect_conv_error(text, "entry 2 (line 3): needs a 'conversations' or a 'messages' array");
	expect_conv_error("[{\"conversations\": []}]", "entry 1 (line 1): 'conversations' has no turns");
	expect_conv_error("[{\"conversations\": {\"from\": \"human\"}}]", "'conversations' must be an array");
	expect_conv_error("[{\"conversations\": [{\"from\": \"human\", \"value\": 3}]}]",
	                  "turn 1 of 'conversations' needs 'from' and 'value' strings");
	expect_conv_error("[{\"conversations\": [\"hello\"]}]", "turn 1 of 'conversations' needs");
	expect_conv_error("[{\"messages\": [{\"role\": \"user\"}]}]",
	                  "turn 1 of 'messages' needs 'role' and 'content' strings");
	expect_conv_error("[{\"conversations\": [{\"from\": \"robot\", \"value\": \"x\"}]}]",
	                  "unknown role 'robot'");
	snprintf(text, sizeof text, "[%s %s]", ok, ok);
	expect_conv_error(text, "line 1: expected ',' or ']' after entry 1");
	snprintf(text, sizeof text, "[%s]\n[]", ok);
	expect_conv_error(text, "line 2: text after the closing ']'");
	snprintf(text, sizeof text, "[%s,\n 5]", ok);
	expect_conv_error(text, "entry 2 (line 2): not a JSON object");
	snprintf(text, sizeof text, "%s\n{\"conversations\": 1}\n", ok);
	expect_conv_error(text, "line 2: 'conversations' must be an array");
	expect_conv_error("[\n{\"conversations\":[{\"from\":\"human\",\"value\":\"q\"}]}]",
	                  "holds no request: all 1 conversations were skipped");
	expect_conv_error("[]", "holds no request");
	expect_conv_error("[", "not JSON");
}

static void test_estimate(void **state)
{
	(void)state;
	assert_int_equal(lg_estimate_tokens(""), 0);
	assert_int_equal(lg_estimate_tokens("abcd"), 1);
	assert_int_equal(lg_estimate_tokens("abcde"), 2);
	assert_int_equal(lg_estimate_tokens("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"), 1); /* 4 code points */
	assert_int_equal(lg_estimate_tokens("It moves heat from the outside air inside."), 11);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_jsonl),          cmocka_unit_test(test_malformed_lines),
	    cmocka_unit_test(test_synthetic),      cmocka_unit_test(test_sharegpt_single),
	    cmocka_unit_test(test_sharegpt_jsonl), cmocka_unit_test(test_sharegpt_multi),
	    cmocka_unit_test(test_sharegpt_order), cmocka_unit_test(test_sharegpt_errors),
	    cmocka_unit_test(test_estimate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
