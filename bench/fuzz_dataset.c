/* libFuzzer entry point for serve-bench's dataset reader (JSONL prompts): any file gives a
 * dataset or one error line naming the file, never a crash, a leak or undefined behaviour;
 * every request body built from a dataset that reads is one JSON object. The bytes reach the
 * reader as a file (a memfd), as a dataset does. Built and run by bench/fuzz.sh dataset. */
#include "loadgen/dataset.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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
	struct lg_dataset d;
	if (lg_dataset_load(&d, path, &o, err, sizeof err) != 0) {
		if (!strstr(err, path) || strchr(err, '\n'))
			__builtin_trap(); /* one line, naming the file */
	} else {
		for (size_t i = 0; i < d.n; i++) {
			json_t *j = json_loadb(d.items[i].body, d.items[i].body_len, 0, NULL);
			if (!json_is_object(j))
				__builtin_trap(); /* a body the server could not read */
			json_decref(j);
		}
		lg_dataset_release(&d);
	}
	close(fd);
	return 0;
}
