/* Stores a serve-bench sweep in the results database: one run for the invocation, one bench
 * run per rate with its metrics and energy, and every request's timings and tokens. */
#ifndef GOPS_CLI_SERVE_BENCH_DB_H
#define GOPS_CLI_SERVE_BENCH_DB_H

#include "loadgen/bench.h"
#include "store/db.h"

#include <greenops/greenops.h>
#include <jansson.h>

/* The database and the run of one serve-bench. */
struct serve_bench_db {
	struct gops_db *db;
	int64_t run_id;
};
/* Opens the database and stores the invocation as a `running` run before anything is sent,
 * so a serve-bench that is killed leaves a run that `greenops runs` shows as `lost`. Prints
 * its own one-line error; returns 0 or < 0. */
int serve_bench_db_begin(struct serve_bench_db *s, const char *db_path, int argc, char **argv);
/* Stores the sweep into the run begun (j is its JSON, whose "runs" array is stored beside
 * each rate; mon may be NULL), and closes the database. bench_ids, when not NULL, gets each
 * rate's bench run id (b->n_runs of them). Prints its own one-line error; returns the run id,
 * or < 0 on failure. */
long long serve_bench_db_finish(struct serve_bench_db *s, const struct lg_bench *b, json_t *j,
                                const gops_monitor *mon, int exit_status, int64_t *bench_ids);

/* Loads this host's stored idle baselines into o (for --idle stored, and the default). The
 * values live in *vals and *names until serve_bench_idle_release(). Returns 0, or < 0 after a
 * one-line error (--idle stored with nothing stored). */
int serve_bench_load_idle(struct gops_db *db, struct gops_options *o, struct gops_idle_value **vals,
                          char ***names, size_t *n);
void serve_bench_idle_release(struct gops_idle_value *vals, char **names, size_t n);

#endif
