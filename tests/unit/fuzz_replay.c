/* Replays a fuzz target's corpus and findings (tests/fixtures/fuzz/TARGET/corpus and regress)
 * through its libFuzzer entry point, one TAP line per input: every input that once crashed
 * stays a test, in the normal build and under ASan. FUZZ_DIR names the target's folder. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(void)
{
	static const char *const sub[] = {"corpus", "regress"};
	int n = 0;
	for (size_t s = 0; s < 2; s++) {
		char dir[512];
		snprintf(dir, sizeof dir, "%s/%s", FUZZ_DIR, sub[s]);
		struct dirent **names;
		int k = scandir(dir, &names, NULL, alphasort);
		if (k < 0) {
			/* A target with no finding yet has no regress folder (git keeps no empty one). */
			if (s == 1 && errno == ENOENT)
				continue;
			printf("not ok %d - cannot read %s\n", ++n, dir);
			continue;
		}
		for (int i = 0; i < k; i++) {
			char path[1024];
			snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
			FILE *f = names[i]->d_name[0] == '.' ? NULL : fopen(path, "rb");
			free(names[i]);
			if (!f)
				continue;
			fseek(f, 0, SEEK_END);
			long len = ftell(f);
			rewind(f);
			uint8_t *buf = malloc(len > 0 ? (size_t)len : 1);
			size_t got = fread(buf, 1, (size_t)len, f);
			fclose(f);
			LLVMFuzzerTestOneInput(buf, got); /* a crash fails the program, and the test */
			free(buf);
			printf("ok %d - %s\n", ++n, path);
		}
		free(names);
	}
	printf("1..%d\n", n);
	return n ? 0 : 1;
}
