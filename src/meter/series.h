/* Append-only series of fixed-size samples, written by one thread at a time (the sampler, or
 * the caller while the sampler is stopped) and readable concurrently up to the published
 * count. Chunks are allocated once per SERIES_CHUNK samples; the chunk table up front, so a
 * reader never sees it move. Knows nothing of what the samples are. */
#ifndef GOPS_METER_SERIES_H
#define GOPS_METER_SERIES_H

#include <stdatomic.h>
#include <stddef.h>

#define SERIES_CHUNK      4096
#define SERIES_MAX_CHUNKS 16384

struct series {
	void **chunks;
	size_t elem;
	_Atomic size_t n;
};

int series_init(struct series *s, size_t elem);
void series_release(struct series *s);
/* Appends a copy of *v; -ENOSPC past SERIES_MAX_CHUNKS chunks, -ENOMEM. */
int series_push(struct series *s, const void *v);
void *series_at(const struct series *s, size_t i);
size_t series_len(const struct series *s);
void series_clear(struct series *s);

#endif
