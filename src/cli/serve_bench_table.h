/* serve-bench's comparison table, one row per rate, printed from the runs' JSON (the shape
 * `serve-bench --json` writes and the database keeps per rate), so that `serve-bench` and
 * `greenops show` of a stored sweep print the same table. */
#ifndef GOPS_CLI_SERVE_BENCH_TABLE_H
#define GOPS_CLI_SERVE_BENCH_TABLE_H

#include <jansson.h>
#include <stdio.h>

/* RUNS is an array of run objects. A goodput column appears when any run has one (--slo). */
void serve_bench_table_print(FILE *f, json_t *runs);

#endif
