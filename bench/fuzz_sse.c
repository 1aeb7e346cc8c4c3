/* libFuzzer entry point for the server-sent event parser and the OpenAI chunk reader: the
 * bytes (after a first one that sets the size of the pieces they arrive in) are a response
 * stream; every event's data goes through the fast, allocation-free chunk reader and through
 * jansson: what jansson reads, the fast reader must read, and say the same of.
 * Built and run by bench/fuzz.sh sse. */
#include "loadgen/sse.h"

#include <jansson.h>

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_event(void *ctx, const char *event, const char *data, size_t len)
{
	struct lg_chunk a, b;
	int ra = lg_chunk_parse(data, len, &a), rb = lg_chunk_parse_jansson(data, len, &b);
	/* Whatever jansson reads, the fast reader reads the same way. It may take more: it does
	 * not check what strings hold (bytes that are not UTF-8, an unpaired surrogate escape),
	 * which jansson refuses; a chunk's text is only counted, never kept. */
	if (memchr(data, 0, len))
		return 0; /* jansson ends the text at a NUL byte, the fast reader refuses it */
	json_t *dup = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
	json_decref(dup);
	if (!dup)
		return 0; /* a key given twice: jansson keeps the last, the fast reader the first */
	if (rb == 0 && ra != 0)
		__builtin_trap();
	if (rb == 0 && (a.has_choices != b.has_choices || a.finished != b.finished ||
	                a.has_usage != b.has_usage || a.prompt_tokens != b.prompt_tokens ||
	                a.completion_tokens != b.completion_tokens || a.is_error != b.is_error))
		__builtin_trap(); /* they disagree on what the chunk says */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	size_t piece = 1 + data[0] % 64, events = 0;
	struct lg_sse s;
	lg_sse_init(&s, 4096, on_event, &events);
	const char *p = (const char *)data + 1;
	size_t left = size - 1;
	while (left) {
		size_t n = left < piece ? left : piece;
		if (lg_sse_feed(&s, p, n) != 0)
			break; /* an oversized event ends the stream, as it ends a request */
		p += n, left -= n;
	}
	lg_sse_pending(&s);
	lg_sse_release(&s);
	return 0;
}
