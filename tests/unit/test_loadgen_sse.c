/* Unit tests of serve-bench's event-stream parser and OpenAI chunk reader: events split at
 * every byte, CRLF/CR/LF, comments, multi-line data, [DONE], error events, and the fast
 * reader checked against jansson. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "loadgen/sse.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct got {
	int n;
	char data[16][256];
	char event[16][32];
};

static int collect(void *ctx, const char *event, const char *data, size_t len)
{
	struct got *g = ctx;
	/* data is not NUL-terminated: it may point into the fed bytes. */
	assert_null(memchr(data, 0, len));
	if (g->n < 16) {
		snprintf(g->data[g->n], sizeof g->data[0], "%.*s", (int)len, data);
		snprintf(g->event[g->n], sizeof g->event[0], "%s", event);
	}
	g->n++;
	return 0;
}

/* Feeds the stream cut in pieces of `step` bytes (0: every possible single cut point). */
static void feed_all(const char *s, size_t step, struct got *g)
{
	struct lg_sse p;
	memset(g, 0, sizeof *g);
	lg_sse_init(&p, 4096, collect, g);
	size_t n = strlen(s);
	for (size_t i = 0; i < n; i += step)
		assert_int_equal(lg_sse_feed(&p, s + i, i + step <= n ? step : n - i), 0);
	lg_sse_release(&p);
}

static const char stream[] = ": comment line\r\n"
                             "data: {\"a\":1}\r\n\r\n"
                             "event: message\n"
                             "data: line one\n"
                             "data: line two\n\n"
                             "id: 7\rdata:nospace\r\r"
                             "data: [DONE]\n\n";

static void test_events_any_split(void **state)
{
	(void)state;
	for (size_t step = 1; step <= sizeof stream; step++) {
		struct got g;
		feed_all(stream, step, &g);
		assert_int_equal(g.n, 4);
		assert_string_equal(g.data[0], "{\"a\":1}");
		assert_string_equal(g.data[1], "line one\nline two");
		assert_string_equal(g.event[1], "message");
		assert_string_equal(g.event[2], "");
		assert_string_equal(g.data[2], "nospace");
		assert_string_equal(g.data[3], "[DONE]");
	}
}

static void test_split_crlf_between_reads(void **state)
{
	(void)state;
	struct got g;
	struct lg_sse p;
	memset(&g, 0, sizeof g);
	lg_sse_init(&p, 4096, collect, &g);
	/* CR at the end of one read, LF at the start of the next: one line end, not two. */
	assert_int_equal(lg_sse_feed(&p, "data: x\r", 8), 0);
	assert_int_equal(lg_sse_feed(&p, "\ndata: y\r", 9), 0);
	assert_int_equal(lg_sse_feed(&p, "\n\r\n", 3), 0);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.data[0], "x\ny");
	assert_false(lg_sse_pending(&p));
	assert_int_equal(lg_sse_feed(&p, "data: half", 10), 0);
	assert_true(lg_sse_pending(&p));
	lg_sse_release(&p);
}

static void test_oversized_event(void **state)
{
	(void)state;
	struct got g;
	struct lg_sse p;
	memset(&g, 0, sizeof g);
	lg_sse_init(&p, 64, collect, &g);
	char big[200];
	memset(big, 'x', sizeof big);
	assert_int_equal(lg_sse_feed(&p, "data: ", 6), 0);
	assert_int_equal(lg_sse_feed(&p, big, sizeof big), -E2BIG);
	lg_sse_release(&p);
}

static int stop_at_second(void *ctx, const char *event, const char *data, size_t len)
{
	int *n = ctx;
	return ++*n == 2 ? 42 : 0;
}

static void test_callback_stops(void **state)
{
	(void)state;
	int n = 0;
	struct lg_sse p;
	lg_sse_init(&p, 4096, stop_at_second, &n);
	const char *s = "data: 1\n\ndata: 2\n\ndata: 3\n\n";
	assert_int_equal(lg_sse_feed(&p, s, strlen(s)), 42);
	assert_int_equal(n, 2);
	lg_sse_release(&p);
}

static void both(const char *json, struct lg_chunk *fast, struct lg_chunk *ref)
{
	int a = lg_chunk_parse(json, strlen(json), fast), b = lg_chunk_parse_jansson(json, strlen(json), ref);
	if (a != b)
		fail_msg("fast reader says %d, jansson %d for: %s", a, b, json);
	if (a)
		return;
	assert_int_equal(fast->has_choices, ref->has_choices);
	assert_int_equal(fast->text_len > 0, ref->text_len > 0);
	assert_int_equal(fast->finished, ref->finished);
	assert_int_equal(fast->has_usage, ref->has_usage);
	assert_int_equal(fast->prompt_tokens, ref->prompt_tokens);
	assert_int_equal(fast->completion_tokens, ref->completion_tokens);
	assert_int_equal(fast->is_error, ref->is_error);
	assert_int_equal(fast->err_msg[0] != 0, ref->err_msg[0] != 0);
}

static void test_chunks_match_jansson(void **state)
{
	(void)state;
	static const char *const cases[] = {
	    "{\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"choices\":[{\"index\":0,\"text\":\" hi\","
	    "\"logprobs\":null,\"finish_reason\":null}]}",
	    "{\"choices\":[{\"index\":0,\"text\":\"\",\"finish_reason\":\"length\"}],\"usage\":null}",
	    "{\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":16,\"total_tokens\":28}}",
	    "{\"object\":\"chat.completion.chunk\",\"choices\":[{\"delta\":{\"role\":\"assistant\","
	    "\"content\":\"\"}}]}",
	    "{\"choices\":[{\"delta\":{\"content\":\"w\\u00e9\\\"rd\\n\"},\"finish_reason\":null}]}",
	    "{\"choices\":[{\"delta\":{\"reasoning_content\":\"think\"}}]}",
	    "{\"error\":{\"message\":\"boom\",\"type\":\"server_error\",\"code\":500}}",
	    "{\"error\":\"plain\"}",
	    "{\"object\":\"error\",\"message\":\"vllm style\",\"type\":\"BadRequestError\",\"code\":400}",
	    "{\"error\":null,\"choices\":[{\"text\":\"x\"}]}",
	    " { \"choices\" : [ { \"text\" : \"a\" } , { \"text\" : \"b\" } ] , \"n\" : -1.5e3 , \"t\" : "
	    "true } ",
	    "{\"choices\":[{\"text\":\"x\"}],\"usage\":{\"completion_tokens\":3.5}}",
	    "{\"nested\":{\"choices\":[{\"text\":\"ignored\"}],\"usage\":{\"completion_tokens\":9}}}",
	    "{}",
	    "[1,2]",
	    "{\"a\":}",
	    "{\"a\":1,}",
	    "{\"a\":\"unterminated}",
	    "{\"a\":tru}",
	    "{\"a\":01}",
	    "{\"a\":\"bad \\x escape\"}",
	    "{\"a\":1} trailing",
	    "",
	    "{\"a\":[1,2,{\"b\":[null,false]}]}",
	    "{\"choices\":[],\"usage\":{\"prompt_tokens\":3000000000,\"completion_tokens\":5000000000}}",
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct lg_chunk a, b;
		both(cases[i], &a, &b);
	}
	struct lg_chunk c;
	assert_int_equal(lg_chunk_parse(cases[2], strlen(cases[2]), &c), 0);
	assert_int_equal(c.completion_tokens, 16);
	assert_int_equal(c.prompt_tokens, 12);
	assert_int_equal(lg_chunk_parse(cases[6], strlen(cases[6]), &c), 0);
	assert_string_equal(c.err_msg, "boom");
	assert_int_equal(lg_chunk_parse(cases[8], strlen(cases[8]), &c), 0);
	assert_true(c.is_error);
	assert_string_equal(c.err_msg, "vllm style");
	assert_int_equal(lg_chunk_parse(cases[12], strlen(cases[12]), &c), 0);
	assert_false(c.has_usage);
	assert_false(c.has_choices);
	/* Counts beyond 32 bits are kept whole; one beyond 64 bits is not kept at all (jansson
	 * refuses the whole event there; a count cut short would be a wrong figure). */
	const char *wide = cases[sizeof cases / sizeof cases[0] - 1];
	assert_int_equal(lg_chunk_parse(wide, strlen(wide), &c), 0);
	assert_true(c.completion_tokens == 5000000000LL && c.prompt_tokens == 3000000000LL);
	const char *huge = "{\"usage\":{\"completion_tokens\":99999999999999999999}}";
	assert_int_equal(lg_chunk_parse(huge, strlen(huge), &c), 0);
	assert_int_equal(c.completion_tokens, -1);
}

/* Strings built from pieces (plain bytes, UTF-8, every escape, and now and then a control
 * byte or a bad escape), at every offset against the reader's eight-byte words and right at
 * the end of the text: the fast reader accepts exactly what jansson accepts, and measures the
 * escaped text exactly. */
static void test_strings_match_jansson(void **state)
{
	(void)state;
	static const char *const good[] = {"a",    "Z",   " ",   "0",   "\xc3\xa9", "\\\"",
	                                   "\\\\", "\\/", "\\n", "\\t", "\\u00e9",  "\\uD83D\\uDE00",
	                                   "~",    "{",   "]"};
	static const char *const bad[] = {"\x01", "\x1f", "\n", "\\x", "\\u12", "\""};
	uint64_t seed = 12345;
	for (int k = 0; k < 20000; k++) {
		char text[160] = "", json[256];
		size_t pieces = (size_t)(k % 23);
		bool valid = true;
		for (size_t i = 0; i < pieces; i++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			unsigned r = (unsigned)(seed >> 33);
			const char *piece = good[r % (sizeof good / sizeof good[0])];
			if (r % 97 == 0) {
				piece = bad[(r / 97) % (sizeof bad / sizeof bad[0])];
				valid = false;
			}
			if (strlen(text) + strlen(piece) < sizeof text)
				strcat(text, piece);
		}
		/* The offset of the string moves with k; at the end there is nothing after it but
		 * the closing brackets. */
		snprintf(json, sizeof json, "{\"%.*s\":1,\"choices\":[{\"text\":\"%s\"}]}", k % 9, "pppppppp",
		         text);
		struct lg_chunk a, b;
		both(json, &a, &b);
		if (valid) {
			assert_int_equal(lg_chunk_parse(json, strlen(json), &a), 0);
			assert_int_equal(a.text_len, strlen(text));
		}
		/* The same string cut short at every length: never accepted. */
		size_t n = strlen(json);
		assert_int_equal(lg_chunk_parse(json, n - 3 - (size_t)(k % 4), &a), -EINVAL);
	}
}

static void test_deep_nesting_rejected(void **state)
{
	(void)state;
	char s[400] = "{\"a\":";
	for (int i = 0; i < 100; i++)
		strcat(s, "[");
	struct lg_chunk c;
	assert_int_equal(lg_chunk_parse(s, strlen(s), &c), -EINVAL);
}

/* The answer's text, kept for a multi-turn session's next turn: content and completion text,
 * never reasoning, in escaped form that both readers agree on once decoded; a full buffer is
 * an error. */
static void test_answer_text(void **state)
{
	(void)state;
	const char *ev[] = {
	    "{\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}",
	    "{\"choices\":[{\"delta\":{\"content\":\"He said "
	    "\\\"hi\\\"\\n\",\"reasoning_content\":\"hmm\"}}]}",
	    "{\"choices\":[{\"delta\":{\"reasoning\":\"no\"}}]}",
	    "{\"choices\":[{\"text\":\" caf\\u00e9 \\/\"}]}",
	    "{\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}",
	};
	for (int jansson = 0; jansson < 2; jansson++) {
		struct lg_buf b;
		lg_buf_init(&b, 1024);
		for (size_t i = 0; i < sizeof ev / sizeof ev[0]; i++) {
			struct lg_chunk c;
			int rc = jansson ? lg_chunk_parse_jansson_text(ev[i], strlen(ev[i]), &c, &b)
			                 : lg_chunk_parse_text(ev[i], strlen(ev[i]), &c, &b);
			assert_int_equal(rc, 0);
		}
		char *quoted = malloc(b.len + 3);
		quoted[0] = '"';
		memcpy(quoted + 1, b.p, b.len);
		memcpy(quoted + 1 + b.len, "\"", 2);
		json_t *s = json_loads(quoted, JSON_DECODE_ANY, NULL);
		assert_non_null(s);
		assert_string_equal(json_string_value(s), "He said \"hi\"\n caf\xc3\xa9 /");
		json_decref(s);
		free(quoted);
		lg_buf_release(&b);
		lg_buf_init(&b, 4);
		struct lg_chunk c;
		int rc = jansson ? lg_chunk_parse_jansson_text(ev[1], strlen(ev[1]), &c, &b)
		                 : lg_chunk_parse_text(ev[1], strlen(ev[1]), &c, &b);
		assert_int_equal(rc, -E2BIG);
		lg_buf_release(&b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_events_any_split),      cmocka_unit_test(test_split_crlf_between_reads),
	    cmocka_unit_test(test_oversized_event),       cmocka_unit_test(test_callback_stops),
	    cmocka_unit_test(test_chunks_match_jansson),  cmocka_unit_test(test_strings_match_jansson),
	    cmocka_unit_test(test_deep_nesting_rejected), cmocka_unit_test(test_answer_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
