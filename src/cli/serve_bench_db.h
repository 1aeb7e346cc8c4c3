/* Stores a serve-bench sweep in the results database: one run for the invocation, one bench
 * run per rate with its metrics and energy, and every request's timings and tokens. */
#ifndef GOPS_CLI_SERVE_BENCH_DB_H
#define GOPS_CLI_SERVE_BENCH_DB_H

#include "loadgen/bench.h"

#include <greenops/greenops.h>
#include <jansson.h>

/* j is the sweep's JSON (its "runs" array is stored beside each rate). mon may be NULL.
 * Prints its own one-line error; returns the run id, or < 0 on failure. */
long long serve_bench_store(const char *db_path, int argc, char **argv, const struct lg_bench *b, json_t *j,
                            const gops_monitor *mon, int exit_status);

/* Loads this host's stored idle baselines into o (for --idle stored, and the default). The
 * values live in *vals and *names until serve_bench_idle_release(). Returns 0, or < 0 after a
 * one-line error (--idle stored with nothing stored). */
int serve_bench_load_idle(const char *db_path, struct gops_options *o, struct gops_idle_value **vals,
                          char ***names, size_t *n);
void serve_bench_idle_release(struct gops_idle_value *vals, char **names, size_t n);

#endif
