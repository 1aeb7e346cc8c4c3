/* Incremental parser of a server-sent event stream (the WHATWG event-stream format) and of
 * the OpenAI streaming chunks it carries. Bytes arrive in arbitrary pieces; events come out
 * whole. Nothing here allocates per event: one capped buffer per stream is reused. */
#ifndef GOPS_LOADGEN_SSE_H
#define GOPS_LOADGEN_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A growable byte buffer with a hard cap (curl's dynbuf idea): a stream that would grow
 * past the cap is malformed, never a reason to eat the machine's memory. */
struct lg_buf {
	char *p;
	size_t len, cap, max;
};
void lg_buf_init(struct lg_buf *b, size_t max);
/* 0, or -E2BIG when the cap would be exceeded, -ENOMEM. Keeps the content NUL-terminated. */
int lg_buf_add(struct lg_buf *b, const void *data, size_t n);
void lg_buf_reset(struct lg_buf *b);
void lg_buf_release(struct lg_buf *b);

/* Called for every dispatched event; data is the data lines joined with '\n', len bytes,
 * not NUL-terminated (it may point into the fed bytes); event is the `event:` field ("" when
 * none). Returns 0 to go on, non-zero to stop the parser (that value is returned by
 * lg_sse_feed). */
typedef int (*lg_sse_event_fn)(void *ctx, const char *event, const char *data, size_t len);

struct lg_sse {
	struct lg_buf line; /* the current, unfinished line */
	struct lg_buf data; /* data lines of the current event */
	const char *direct; /* its only data line so far, still in the piece being fed */
	size_t direct_len;
	char event[32]; /* the event type of the current event */
	bool have_data;
	bool last_cr; /* the previous piece ended in CR: a following LF belongs to it */
	bool bom_checked;
	lg_sse_event_fn fn;
	void *ctx;
};

/* max_event: cap on one line and on one event's data, in bytes. */
void lg_sse_init(struct lg_sse *s, size_t max_event, lg_sse_event_fn fn, void *ctx);
/* Resets the state for a new stream, keeping the buffers. */
void lg_sse_reset(struct lg_sse *s);
/* Feeds bytes. Returns 0, the callback's non-zero value, or -E2BIG for an oversized event. */
int lg_sse_feed(struct lg_sse *s, const char *p, size_t n);
/* The stream ended: dispatches nothing (an unterminated event is incomplete, as the spec
 * says), but reports whether bytes of an unfinished event were pending. */
bool lg_sse_pending(const struct lg_sse *s);
void lg_sse_release(struct lg_sse *s);

/* What one OpenAI streaming chunk says, for completions and chat completions alike. */
struct lg_chunk {
	bool has_choices;      /* choices[] is present and non-empty */
	size_t text_len;       /* length (escaped form) of choices[0].text or delta.content(+reasoning) */
	bool finished;         /* choices[0].finish_reason is a string */
	bool has_usage;        /* a non-null usage object */
	int64_t prompt_tokens; /* -1 when absent */
	int64_t completion_tokens;
	bool is_error;     /* a top-level "error" member, or "object":"error" */
	char err_msg[160]; /* error.message (or the error string), truncated; "" none */
};

/* Parses one chunk with a validating, allocation-free JSON reader that keeps only the
 * members above. Returns 0, or -EINVAL when the text is not one JSON object. */
int lg_chunk_parse(const char *s, size_t n, struct lg_chunk *out);
/* The same with jansson: the reference the fast reader is tested against. */
int lg_chunk_parse_jansson(const char *s, size_t n, struct lg_chunk *out);
/* Both, also appending the answer's text (choices[0].text or delta.content, not reasoning) to
 * content in its escaped JSON form, so that the pieces of a stream joined are the body of one
 * JSON string. Return -E2BIG (or -ENOMEM) when content cannot take it. */
int lg_chunk_parse_text(const char *s, size_t n, struct lg_chunk *out, struct lg_buf *content);
int lg_chunk_parse_jansson_text(const char *s, size_t n, struct lg_chunk *out, struct lg_buf *content);

#endif
