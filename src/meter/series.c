/* The append-only sample series (series.h). */
#include "meter/series.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int series_init(struct series *s, size_t elem)
{
	s->chunks = calloc(SERIES_MAX_CHUNKS, sizeof *s->chunks);
	if (!s->chunks)
		return -ENOMEM;
	s->elem = elem;
	atomic_store(&s->n, 0);
	s->chunks[0] = malloc(SERIES_CHUNK * elem);
	return s->chunks[0] ? 0 : -ENOMEM;
}

void series_release(struct series *s)
{
	if (!s->chunks)
		return;
	for (size_t i = 0; i < SERIES_MAX_CHUNKS && s->chunks[i]; i++)
		free(s->chunks[i]);
	free(s->chunks);
	s->chunks = NULL;
}

int series_push(struct series *s, const void *v)
{
	size_t n = atomic_load_explicit(&s->n, memory_order_relaxed);
	size_t c = n / SERIES_CHUNK;
	if (c >= SERIES_MAX_CHUNKS)
		return -ENOSPC;
	if (!s->chunks[c] && !(s->chunks[c] = malloc(SERIES_CHUNK * s->elem)))
		return -ENOMEM;
	memcpy((char *)s->chunks[c] + (n % SERIES_CHUNK) * s->elem, v, s->elem);
	atomic_store_explicit(&s->n, n + 1, memory_order_release);
	return 0;
}

void *series_at(const struct series *s, size_t i)
{
	return (char *)s->chunks[i / SERIES_CHUNK] + (i % SERIES_CHUNK) * s->elem;
}

size_t series_len(const struct series *s)
{
	return atomic_load_explicit(&((struct series *)s)->n, memory_order_acquire);
}

void series_clear(struct series *s)
{
	atomic_store(&s->n, 0);
}
