/* Reads an ONNX model the way `greenops macs` does (weight payloads skipped) or with
 * protobuf-c unpacking everything, and prints the time taken and the peak memory, for
 * bench/macs_large.sh.   macs_read FILE strip|plain|count */
#include "model/macs.h"
#include "model/onnx_read.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: macs_read FILE strip|plain|count\n");
		return 2;
	}
	char err[1024];
	double t0 = now_s();
	int rc;
	unsigned long long skipped = 0;
	if (!strcmp(argv[2], "count")) {
		struct gops_macs_result r;
		rc = gops_macs_count(argv[1], NULL, &r, err, sizeof err);
		skipped = r.stripped_bytes;
		gops_macs_result_release(&r);
	} else {
		struct onnx_file f;
		rc = onnx_file_read(&f, argv[1], strcmp(argv[2], "plain") ? 0 : ONNX_READ_NO_STRIP, err,
		                    sizeof err);
		skipped = f.stripped_bytes;
		if (!rc)
			onnx_file_release(&f);
	}
	double dt = now_s() - t0;
	if (rc) {
		fprintf(stderr, "macs_read: %s\n", err);
		return 1;
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("%s %.4f s %.1f MB peak, %llu payload bytes skipped\n", argv[2], dt, ru.ru_maxrss / 1024.0,
	       skipped);
	return 0;
}
