/* libFuzzer entry point for serve-bench's dataset reader (JSONL prompts, ShareGPT-style
 * conversations as JSONL or one JSON array, single or multi-turn): any file gives a dataset
 * or one error line naming the file, never a crash, a leak or undefined behaviour; every
 * request body built from a dataset that reads is one JSON object, and so is every
 * multi-turn body joined from a session's turns. The bytes reach the
 * reader as a file (a memfd), as a dataset does. Built and run by bench/fuzz.sh dataset. */
#include "loadgen/dataset.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("dataset", MFD_CLOEXEC);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	char path[64], err[512];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	struct lg_body_opts o = {.endpoint = size && data[0] & 1 ? LG_ENDPOINT_CHAT : LG_ENDPOINT_COMPLETIONS,
	                         .model = "m",
	                         .output_len = 16,
	                         .ignore_eos = size && data[0] & 2};
	/* The next bits pick the format, multi-turn sessions, the length filters and the order. */
	unsigned f = size ? data[0] : 0;
	struct lg_dataset_opts dopt = {.format = (enum lg_ds_format)((f >> 2) % 3),
	                               .multi_turn = f & 0x10,
	                               .output_len = f & 0x20 ? 8 : 0,
	                               .min_len = f & 0x40 ? 4 : 0,
	                               .max_len = f & 0x40 ? 64 : 0,
	                               .shuffle = f & 0x80,
	                               .seed = size};
	struct lg_dataset d;
	if (lg_dataset_load(&d, path, &dopt, &o, err, sizeof err) != 0) {
		if (!strstr(err, path) || strchr(err, '\n'))
			__builtin_trap(); /* one line, naming the file */
	} else {
		for (size_t i = 0; i < d.n; i++) {
			json_t *j = json_loadb(d.items[i].body, d.items[i].body_len, 0, NULL);
			if (!json_is_object(j))
				__builtin_trap(); /* a body the server could not read */
			json_decref(j);
		}
		/* Every turn of a session joins into one JSON object, with an answer in between. */
		for (size_t i = 0; d.convs && i < d.n; i++) {
			char *b = NULL;
			size_t len = 0;
			FILE *m = open_memstream(&b, &len);
			if (!m)
				break;
			fwrite(d.head, 1, d.head_len, m);
			for (size_t k = 0; k < d.convs[i].n; k++) {
				const struct lg_turn *t = &d.turns[d.convs[i].first + k];
				if (k)
					fputs(",{\"role\":\"assistant\",\"content\":\"a\\u00e9\"},", m);
				fwrite(t->msgs, 1, t->msgs_len, m);
				if (k + 1 == d.convs[i].n)
					fwrite(t->tail, 1, t->tail_len, m);
			}
			fclose(m);
			json_t *j = json_loadb(b, len, 0, NULL);
			if (!json_is_object(j))
				__builtin_trap();
			json_decref(j);
			free(b);
		}
		lg_dataset_release(&d);
	}
	close(fd);
	return 0;
}
