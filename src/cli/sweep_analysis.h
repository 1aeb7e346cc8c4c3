/* What `greenops analyze --sweep` says about a sweep, and what `greenops report` draws: the
 * per-configuration statistics, the cheapest configuration (under constraints), the optimum of
 * each parameter per group of the others, and correlations of parameters and model features
 * with energy. Built once as JSON; printed as text by analyze. */
#ifndef GOPS_CLI_SWEEP_ANALYSIS_H
#define GOPS_CLI_SWEEP_ANALYSIS_H

#include "analysis/stats.h"
#include "sweep/stats.h"

#include <jansson.h>
#include <stdio.h>

struct sweep_analysis_opts {
	const struct sweep_constraint *constraints;
	size_t n_constraints;
	const enum an_method *methods;
	size_t n_methods;
};

/* The analysis as one JSON object (see docs/SWEEP.md). */
json_t *sweep_analysis_json(const struct sweep_data *d, const struct sweep_analysis_opts *o);
/* The same for people. */
void sweep_analysis_print(FILE *f, const struct sweep_data *d, json_t *analysis);

/* Energy with an SI prefix and three significant digits: "1.23 mJ", "456 J". */
const char *sweep_fmt_energy(double j, char *buf, size_t len);

/* `greenops analyze --sweep ID ...` (called by cmd_analyze when --sweep is given). */
int cmd_analyze_sweep(int argc, char **argv);

#endif
