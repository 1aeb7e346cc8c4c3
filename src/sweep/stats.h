/* A sweep's results read back for analysis and the report: one record per planned run with
 * its metrics (energy, energy per unit, speed, serve-bench latencies, model features), and per
 * configuration the mean, standard deviation and Student-t interval of energy per unit over its
 * repetitions, beside the runs' own measurement uncertainty. Reads only; prints nothing. */
#ifndef GOPS_SWEEP_STATS_H
#define GOPS_SWEEP_STATS_H

#include "sweep/plan.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

/* The metrics of a run, by index; NAN where a run has none. */
enum sweep_metric {
	SM_ENERGY_PER_UNIT, /* energy per sample (runs) or per completed request (serve-bench) */
	SM_ENERGY,
	SM_DYNAMIC_ENERGY,
	SM_DURATION,
	SM_UNITS,
	SM_UNCERTAINTY,
	SM_UNITS_PER_S,
	SM_AVG_POWER,
	SM_RATE,
	SM_COMPLETED,
	SM_FAILED_REQUESTS,
	SM_ENERGY_PER_TOKEN,
	SM_REQUEST_THROUGHPUT,
	SM_TOKEN_THROUGHPUT,
	SM_TTFT_MEAN,
	SM_TTFT_P50,
	SM_TTFT_P90,
	SM_TTFT_P99,
	SM_TPOT_MEAN,
	SM_TPOT_P99,
	SM_ITL_P99,
	SM_E2EL_MEAN,
	SM_E2EL_P50,
	SM_E2EL_P90,
	SM_E2EL_P99,
	SM_KEEPS_UP, /* 1 when serve-bench kept to its schedule, 0 when the server saturated */
	SM_MACS,
	SM_PARAMS,
	SM_MACS_PER_PARAM,
	SM_N
};
/* Column names as `--subject-to` and the JSON use them (ttft_p99_ms, samples_per_s, ...). */
const char *sweep_metric_name(enum sweep_metric m);
/* By name, also a few aliases (samples_per_s and requests_per_s for units_per_s); -1 none. */
int sweep_metric_parse(const char *name);
/* true for metrics that are inputs (model features) rather than results. */
bool sweep_metric_is_feature(enum sweep_metric m);

struct sweep_run_data {
	size_t position;
	size_t config;
	unsigned rep;
	char state[12];   /* pending, running, ok, failed, skipped */
	char failure[16]; /* "" when none */
	char *message;
	int64_t run_id; /* 0 none */
	double m[SM_N];
	char *estimated; /* non-NULL when any summed domain was estimated: which ones */
};

struct sweep_config_stats {
	size_t config;
	size_t n_runs, n_ok, n_failed, n_skipped;
	char failure[16];                   /* the first failure class seen; "" none */
	char *message;                      /* its message */
	double mean, sd;                    /* of energy per unit over the ok runs; sd NAN below 2 */
	double ci_low, ci_high, ci_rel_pct; /* Student t; rel: half width / mean x 100 */
	double run_uncertainty;             /* mean of each run's own uncertainty per unit */
	double metric_mean[SM_N];           /* every metric's mean over the ok runs */
	bool estimated;                     /* some energy came from the estimate */
};

struct sweep_data {
	int64_t sweep_id;
	struct sweep_plan plan; /* parsed again from the text stored with the sweep */
	char *name, *status, *started_at;
	size_t n_runs;
	struct sweep_run_data *runs;
	size_t n_configs;
	struct sweep_config_stats *configs;
	double confidence;
};

/* Loads sweep `sweep_id` (its plan from the database, every planned run and its results) and
 * computes the per-configuration statistics. -ENOENT when there is no such sweep. */
int sweep_data_load(sqlite3 *conn, int64_t sweep_id, double confidence, struct sweep_data *d, char *err,
                    size_t errlen);
void sweep_data_release(struct sweep_data *d);

/* The per-configuration statistics alone (for --until-ci), with the caller's plan. */
int sweep_stats_load(sqlite3 *conn, int64_t sweep_id, const struct sweep_plan *plan, double confidence,
                     struct sweep_config_stats **out, size_t *n, char *err, size_t errlen);
void sweep_stats_free(struct sweep_config_stats *s, size_t n);

/* Mean, sample standard deviation and two-sided Student-t interval of n values. */
void sweep_mean_ci(const double *v, size_t n, double confidence, double *mean, double *sd, double *lo,
                   double *hi);

/* A constraint "METRIC<=VALUE" (also <, >=, >, ==). */
struct sweep_constraint {
	int metric;
	char op[3];
	double value;
};
/* -EINVAL with a message naming the text when it does not parse. */
int sweep_constraint_parse(const char *text, struct sweep_constraint *c, char *err, size_t errlen);
/* Whether v meets it (NAN never does). */
bool sweep_constraint_met(const struct sweep_constraint *c, double v);

/* The configuration with the lowest mean energy per unit among those whose metric means meet
 * every constraint; -1 when none does. */
ssize_t sweep_cheapest(const struct sweep_data *d, const struct sweep_constraint *c, size_t n_c);

#endif
