/* Crash-test helper for tests/e2e/db.sh: stores N finished runs through db.h, then begins
 * one more and streams power samples into it without end, so that a SIGKILL lands while
 * the writer thread is committing. Prints "stored ID..." and then "streaming". */
#include "store/db.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int die(struct gops_db *db, const char *what)
{
	fprintf(stderr, "db-writer: %s: %s\n", what, gops_db_error(db));
	return 1;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: db-writer DB N_RUNS TAG\n");
		return 2;
	}
	char err[512];
	struct gops_db *db;
	if (gops_db_open(&db, argv[1], 0, err, sizeof err)) {
		fprintf(stderr, "db-writer: %s\n", err);
		return 1;
	}
	int n = atoi(argv[2]);
	struct gops_tag tag = {(char *)"batch", argv[3]};
	const char *cmd[] = {"db-writer", argv[3]};
	struct gops_db_run_info in;
	gops_db_run_info_init(&in);
	in.argc = 2;
	in.argv = cmd;
	in.tags = &tag;
	in.n_tags = 1;
	printf("stored");
	for (int i = 0; i < n; i++) {
		int64_t id;
		if (gops_db_run_begin(db, &in, &id))
			return die(db, "run_begin");
		struct gops_domain_result d = {.name = "gpu0",
		                               .source = "nvml",
		                               .kind = "gpu",
		                               .method = GOPS_METHOD_COUNTER,
		                               .summed = true,
		                               .energy_j = 100 + i,
		                               .dynamic_energy_j = NAN,
		                               .idle_power_w = NAN,
		                               .avg_power_w = 50,
		                               .peak_power_w = 60,
		                               .uncertainty_j = 1,
		                               .integrated_energy_j = NAN};
		struct gops_window_result w = {.name = (char *)"epoch",
		                               .start_s = 0,
		                               .end_s = 1,
		                               .units = 10,
		                               .energy_j = 50,
		                               .dynamic_energy_j = NAN,
		                               .energy_per_unit_j = 5,
		                               .uncertainty_j = 1,
		                               .n_domains = 1,
		                               .domains = &d};
		struct gops_result r = {.duration_s = 2,
		                        .energy_j = 100 + i,
		                        .dynamic_energy_j = NAN,
		                        .uncertainty_j = 1,
		                        .units = NAN,
		                        .energy_per_unit_j = NAN,
		                        .idle_source = "none",
		                        .n_domains = 1,
		                        .domains = &d,
		                        .n_windows = 1,
		                        .windows = &w};
		for (int k = 0; k < 50; k++)
			gops_db_add_sample(db, id, k * 0.1, "gpu0", 50, k * 5.0);
		if (gops_db_run_finish(db, id, &r, 0, 0, GOPS_RUN_COMPLETED))
			return die(db, "run_finish");
		printf(" %lld", (long long)id);
	}
	int64_t id;
	if (gops_db_run_begin(db, &in, &id))
		return die(db, "run_begin");
	for (int k = 0; k < 5000; k++)
		gops_db_add_sample(db, id, k * 0.001, "gpu0", 50, NAN);
	if (gops_db_flush(db))
		return die(db, "flush");
	printf("\nstreaming %lld\n", (long long)id);
	fflush(stdout);
	for (long k = 5000;; k++)
		if (gops_db_add_sample(db, id, k * 0.001, "gpu0", 50, NAN))
			return die(db, "add_sample");
}
