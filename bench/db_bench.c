/* How fast the results database takes what a run produces: power samples queued one by one
 * (committed in batches by the writer thread), and a run_finish carrying many windows (a
 * training loop that marks every batch). Prints one line per figure. */
#include "store/db.h"
#include "base/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: db-bench DB N_SAMPLES N_WINDOWS\n");
		return 2;
	}
	long n_samples = atol(argv[2]), n_windows = atol(argv[3]);
	char err[512];
	struct gops_db *db;
	if (gops_db_open(&db, argv[1], 0, err, sizeof err)) {
		fprintf(stderr, "db-bench: %s\n", err);
		return 1;
	}
	struct gops_db_run_info in;
	gops_db_run_info_init(&in);
	int64_t id;
	if (gops_db_run_begin(db, &in, &id))
		return fprintf(stderr, "db-bench: %s\n", gops_db_error(db)), 1;

	int64_t t0 = gops_now_ns();
	for (long i = 0; i < n_samples; i++)
		gops_db_add_sample(db, id, i * 0.1, i % 2 ? "gpu0" : "package-0", 100 + i % 50, i * 10.0);
	int64_t t1 = gops_now_ns();
	if (gops_db_flush(db))
		return fprintf(stderr, "db-bench: %s\n", gops_db_error(db)), 1;
	int64_t t2 = gops_now_ns();
	printf("samples: %ld queued in %.3f s (%.0f/s for the caller), committed after %.3f s (%.0f/s)\n",
	       n_samples, (t1 - t0) / 1e9, n_samples / ((t1 - t0) / 1e9), (t2 - t0) / 1e9,
	       n_samples / ((t2 - t0) / 1e9));

	struct gops_domain_result d[2] = {
	    {.name = "gpu0", .source = "nvml", .kind = "gpu", .method = GOPS_METHOD_COUNTER, .summed = true},
	    {.name = "package-0",
	     .source = "powercap",
	     .kind = "package",
	     .method = GOPS_METHOD_COUNTER,
	     .summed = true},
	};
	for (int k = 0; k < 2; k++) {
		d[k].energy_j = 10, d[k].dynamic_energy_j = NAN, d[k].idle_power_w = NAN,
		d[k].avg_power_w = 100;
		d[k].peak_power_w = 120, d[k].uncertainty_j = 0.1, d[k].integrated_energy_j = 10;
	}
	struct gops_window_result *w = calloc((size_t)n_windows, sizeof *w);
	for (long i = 0; i < n_windows; i++)
		w[i] = (struct gops_window_result){.name = (char *)"batch",
		                                   .start_s = i * 0.001,
		                                   .end_s = (i + 1) * 0.001,
		                                   .units = 64,
		                                   .energy_j = 0.2,
		                                   .dynamic_energy_j = NAN,
		                                   .energy_per_unit_j = 0.2 / 64,
		                                   .uncertainty_j = 0.01,
		                                   .n_domains = 2,
		                                   .domains = d};
	struct gops_result r = {.duration_s = n_windows * 0.001,
	                        .energy_j = 20,
	                        .dynamic_energy_j = NAN,
	                        .uncertainty_j = 0.2,
	                        .units = NAN,
	                        .energy_per_unit_j = NAN,
	                        .idle_source = "none",
	                        .n_domains = 2,
	                        .domains = d,
	                        .n_windows = (size_t)n_windows,
	                        .windows = w};
	t0 = gops_now_ns();
	if (gops_db_run_finish(db, id, &r, 0, 0, GOPS_RUN_COMPLETED))
		return fprintf(stderr, "db-bench: %s\n", gops_db_error(db)), 1;
	t1 = gops_now_ns();
	printf("run_finish: %ld windows x 2 domains in %.3f s (%.0f windows/s)\n", n_windows, (t1 - t0) / 1e9,
	       n_windows / ((t1 - t0) / 1e9));
	free(w);
	if (gops_db_close(db, err, sizeof err))
		return fprintf(stderr, "db-bench: %s\n", err), 1;
	struct stat sb;
	if (stat(argv[1], &sb) == 0)
		printf("file: %.1f MB (%.0f bytes per sample and window row)\n", sb.st_size / 1e6,
		       (double)sb.st_size / (double)(n_samples + n_windows * 3));
	return 0;
}
