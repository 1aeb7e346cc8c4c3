/* Cost of serve-bench's per-response parsing alone (the event-stream parser and the chunk
 * reader, exactly as the client calls them), on the capacity benchmark's canned 16-token
 * response: fed whole (one read per response) and one event per feed.
 * Usage: sse_bench [RESPONSES] [fast|jansson]   Prints ns per response for both. */
#include "loadgen/sse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int use_jansson;
static long tokens_seen;

static int on_event(void *ctx, const char *event, const char *data, size_t len)
{
	(void)ctx;
	(void)event;
	if (len == 6 && memcmp(data, "[DONE]", 6) == 0)
		return 0;
	struct lg_chunk c;
	if (use_jansson ? lg_chunk_parse_jansson(data, len, &c) : lg_chunk_parse(data, len, &c))
		return 1;
	if (c.has_choices && c.text_len > 0)
		tokens_seen++;
	return 0;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 200000;
	use_jansson = argc > 2 && strcmp(argv[2], "jansson") == 0;
	enum { TOKENS = 16 };
	char *all = malloc((TOKENS + 2) * 512);
	size_t off[TOKENS + 3], len = 0;
	for (int i = 0; i < TOKENS; i++) {
		off[i] = len;
		len += (size_t)sprintf(
		    all + len,
		    "data: {\"id\":\"cmpl-bench\",\"object\":\"text_completion\",\"created\":1700000000,"
		    "\"model\":\"bench\",\"choices\":[{\"index\":0,\"text\":\" token%d\",\"logprobs\":null,"
		    "\"finish_reason\":%s,\"stop_reason\":null}]}\n\n",
		    i, i == TOKENS - 1 ? "\"length\"" : "null");
	}
	off[TOKENS] = len;
	len += (size_t)sprintf(all + len,
	                       "data: {\"id\":\"cmpl-bench\",\"object\":\"text_completion\",\"created\":"
	                       "1700000000,\"model\":\"bench\",\"choices\":[],\"usage\":{\"prompt_"
	                       "tokens\":8,\"total_tokens\":24,\"completion_tokens\":16}}\n\n");
	off[TOKENS + 1] = len;
	len += (size_t)sprintf(all + len, "data: [DONE]\n\n");
	off[TOKENS + 2] = len;
	struct lg_sse s;
	lg_sse_init(&s, 1 << 20, on_event, NULL);
	for (int mode = 0; mode < 2; mode++) {
		tokens_seen = 0;
		double t0 = now_s();
		for (long r = 0; r < n; r++) {
			lg_sse_reset(&s);
			if (mode == 0) {
				if (lg_sse_feed(&s, all, len))
					return 1;
			} else {
				for (int e = 0; e < TOKENS + 2; e++)
					if (lg_sse_feed(&s, all + off[e], off[e + 1] - off[e]))
						return 1;
			}
		}
		double dt = now_s() - t0;
		if (tokens_seen != n * TOKENS) {
			fprintf(stderr, "sse_bench: %ld tokens seen, %ld expected\n", tokens_seen,
			        n * TOKENS);
			return 1;
		}
		printf("%s: %.0f ns per response (%zu bytes, %d events)\n",
		       mode ? "one event per feed" : "whole response", dt / (double)n * 1e9, len, TOKENS + 2);
	}
	lg_sse_release(&s);
	return 0;
}
