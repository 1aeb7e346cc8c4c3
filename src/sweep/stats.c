/* Reading a sweep's results back (sweep_runs joined with runs, bench_runs and run tags) and
 * the per-configuration statistics of energy per unit. */
#include "sweep/stats.h"

#include "base/util.h"

#include <errno.h>
#include <gsl/gsl_cdf.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const metric_names[SM_N] = {
    [SM_ENERGY_PER_UNIT] = "energy_per_unit_j",
    [SM_ENERGY] = "energy_j",
    [SM_DYNAMIC_ENERGY] = "dynamic_energy_j",
    [SM_DURATION] = "duration_s",
    [SM_UNITS] = "units",
    [SM_UNCERTAINTY] = "uncertainty_j",
    [SM_UNITS_PER_S] = "units_per_s",
    [SM_AVG_POWER] = "avg_power_w",
    [SM_RATE] = "rate",
    [SM_COMPLETED] = "completed",
    [SM_FAILED_REQUESTS] = "failed_requests",
    [SM_ENERGY_PER_TOKEN] = "energy_per_output_token_j",
    [SM_REQUEST_THROUGHPUT] = "request_throughput",
    [SM_TOKEN_THROUGHPUT] = "output_token_throughput",
    [SM_TTFT_MEAN] = "ttft_mean_ms",
    [SM_TTFT_P50] = "ttft_median_ms",
    [SM_TTFT_P90] = "ttft_p90_ms",
    [SM_TTFT_P99] = "ttft_p99_ms",
    [SM_TPOT_MEAN] = "tpot_mean_ms",
    [SM_TPOT_P99] = "tpot_p99_ms",
    [SM_ITL_P99] = "itl_p99_ms",
    [SM_E2EL_MEAN] = "e2el_mean_ms",
    [SM_E2EL_P50] = "e2el_median_ms",
    [SM_E2EL_P90] = "e2el_p90_ms",
    [SM_E2EL_P99] = "e2el_p99_ms",
    [SM_KEEPS_UP] = "keeps_up",
    [SM_MACS] = "macs",
    [SM_PARAMS] = "params",
    [SM_MACS_PER_PARAM] = "macs_per_param",
};

const char *sweep_metric_name(enum sweep_metric m)
{
	return (unsigned)m < SM_N ? metric_names[m] : "?";
}

int sweep_metric_parse(const char *name)
{
	for (int i = 0; i < SM_N; i++)
		if (!strcmp(name, metric_names[i]))
			return i;
	if (!strcmp(name, "samples_per_s") || !strcmp(name, "requests_per_s"))
		return SM_UNITS_PER_S;
	if (!strcmp(name, "energy_per_sample_j") || !strcmp(name, "energy_per_request_j"))
		return SM_ENERGY_PER_UNIT;
	if (!strcmp(name, "ttft_p50_ms"))
		return SM_TTFT_P50;
	if (!strcmp(name, "e2el_p50_ms"))
		return SM_E2EL_P50;
	return -1;
}

bool sweep_metric_is_feature(enum sweep_metric m)
{
	return m == SM_MACS || m == SM_PARAMS || m == SM_MACS_PER_PARAM;
}

void sweep_mean_ci(const double *v, size_t n, double confidence, double *mean, double *sd, double *lo,
                   double *hi)
{
	*mean = *sd = *lo = *hi = NAN;
	if (!n)
		return;
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += v[i];
	*mean = s / (double)n;
	if (n < 2)
		return;
	double ss = 0;
	for (size_t i = 0; i < n; i++)
		ss += (v[i] - *mean) * (v[i] - *mean);
	*sd = sqrt(ss / (double)(n - 1));
	double t = gsl_cdf_tdist_Pinv(0.5 + confidence / 2, (double)(n - 1));
	double half = t * *sd / sqrt((double)n);
	*lo = *mean - half;
	*hi = *mean + half;
}

static double col_num(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

static double jnum(json_t *o, const char *key, const char *sub)
{
	json_t *v = json_object_get(o, key);
	if (sub)
		v = json_object_get(v, sub);
	return json_is_number(v) ? json_number_value(v) : NAN;
}

/* serve-bench's per-rate metrics, from the JSON it stored. */
static void bench_metrics(const char *text, double *m)
{
	json_error_t e;
	json_t *o = text ? json_loads(text, 0, &e) : NULL;
	if (!o)
		return;
	m[SM_TTFT_MEAN] = jnum(o, "ttft_ms", "mean");
	m[SM_TTFT_P50] = jnum(o, "ttft_ms", "median");
	m[SM_TTFT_P90] = jnum(o, "ttft_ms", "p90");
	m[SM_TTFT_P99] = jnum(o, "ttft_ms", "p99");
	m[SM_TPOT_MEAN] = jnum(o, "tpot_ms", "mean");
	m[SM_TPOT_P99] = jnum(o, "tpot_ms", "p99");
	m[SM_ITL_P99] = jnum(o, "itl_ms", "p99");
	m[SM_E2EL_MEAN] = jnum(o, "e2el_ms", "mean");
	m[SM_E2EL_P50] = jnum(o, "e2el_ms", "median");
	m[SM_E2EL_P90] = jnum(o, "e2el_ms", "p90");
	m[SM_E2EL_P99] = jnum(o, "e2el_ms", "p99");
	json_t *k = json_object_get(o, "keeps_up");
	m[SM_KEEPS_UP] = json_is_boolean(k) ? (json_is_true(k) ? 1 : 0) : NAN;
	json_decref(o);
}

static const char runs_sql[] =
    "SELECT sr.position, sr.config, sr.rep, sr.status, COALESCE(sr.failure, ''), sr.message, sr.run_id,\n"
    "  r.energy_j, r.dynamic_energy_j, r.duration_s, r.units, r.energy_per_unit_j, r.uncertainty_j,\n"
    "  b.rate, b.completed, b.failed, b.energy_j, b.dynamic_energy_j, b.duration_s,\n"
    "  b.energy_per_output_token_j, b.request_throughput, b.output_token_throughput, b.metrics,\n"
    "  (SELECT value FROM run_tags WHERE run_id = r.id AND key = 'macs'),\n"
    "  (SELECT value FROM run_tags WHERE run_id = r.id AND key = 'params'),\n"
    "  (SELECT value FROM run_tags WHERE run_id = r.id AND key = 'macs_per_param'),\n"
    "  (SELECT group_concat(domain, ',') FROM run_domains WHERE run_id = r.id AND summed AND\n"
    "     method = 'estimated'), b.energy_per_request_j\n"
    "FROM sweep_runs sr\n"
    "LEFT JOIN runs r ON r.id = sr.run_id\n"
    "LEFT JOIN bench_runs b ON b.id = (SELECT MIN(id) FROM bench_runs WHERE run_id = r.id)\n"
    "WHERE sr.sweep_id = ? ORDER BY sr.position";

static double text_num(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	if (!t)
		return NAN;
	char *end;
	double v = strtod((const char *)t, &end);
	return end != (const char *)t && !*end ? v : NAN;
}

static int load_runs(sqlite3 *conn, int64_t sweep_id, struct sweep_run_data **out, size_t *n_out, char *err,
                     size_t errlen)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(conn, runs_sql, -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot read the sweep's runs: %s", sqlite3_errmsg(conn));
		return -EIO;
	}
	sqlite3_bind_int64(st, 1, sweep_id);
	struct sweep_run_data *v = NULL;
	size_t n = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			v = realloc(v, cap * sizeof *v);
		}
		struct sweep_run_data *r = &v[n++];
		memset(r, 0, sizeof *r);
		for (int k = 0; k < SM_N; k++)
			r->m[k] = NAN;
		r->position = (size_t)sqlite3_column_int64(st, 0);
		r->config = (size_t)sqlite3_column_int64(st, 1);
		r->rep = (unsigned)sqlite3_column_int(st, 2);
		gops_strlcpy(r->state, (const char *)sqlite3_column_text(st, 3), sizeof r->state);
		gops_strlcpy(r->failure, (const char *)sqlite3_column_text(st, 4), sizeof r->failure);
		const unsigned char *msg = sqlite3_column_text(st, 5);
		r->message = msg ? gops_xstrdup((const char *)msg) : NULL;
		r->run_id = sqlite3_column_int64(st, 6);
		bool bench = sqlite3_column_type(st, 13) != SQLITE_NULL;
		if (!bench) {
			r->m[SM_ENERGY] = col_num(st, 7);
			r->m[SM_DYNAMIC_ENERGY] = col_num(st, 8);
			r->m[SM_DURATION] = col_num(st, 9);
			r->m[SM_UNITS] = col_num(st, 10);
			r->m[SM_ENERGY_PER_UNIT] = col_num(st, 11);
			r->m[SM_UNCERTAINTY] = col_num(st, 12);
		} else {
			r->m[SM_RATE] = col_num(st, 13);
			r->m[SM_COMPLETED] = col_num(st, 14);
			r->m[SM_UNITS] = r->m[SM_COMPLETED];
			r->m[SM_FAILED_REQUESTS] = col_num(st, 15);
			r->m[SM_ENERGY] = col_num(st, 16);
			r->m[SM_DYNAMIC_ENERGY] = col_num(st, 17);
			r->m[SM_DURATION] = col_num(st, 18);
			r->m[SM_ENERGY_PER_TOKEN] = col_num(st, 19);
			r->m[SM_REQUEST_THROUGHPUT] = col_num(st, 20);
			r->m[SM_TOKEN_THROUGHPUT] = col_num(st, 21);
			bench_metrics((const char *)sqlite3_column_text(st, 22), r->m);
			/* Energy per good (completed) request: failed requests cost energy too. */
			r->m[SM_ENERGY_PER_UNIT] = col_num(st, 28);
			if (r->m[SM_COMPLETED] > 0 && isfinite(r->m[SM_ENERGY]))
				r->m[SM_ENERGY_PER_UNIT] = r->m[SM_ENERGY] / r->m[SM_COMPLETED];
			r->m[SM_UNCERTAINTY] = col_num(st, 12);
		}
		if (r->m[SM_DURATION] > 0) {
			r->m[SM_UNITS_PER_S] = r->m[SM_UNITS] / r->m[SM_DURATION];
			r->m[SM_AVG_POWER] = r->m[SM_ENERGY] / r->m[SM_DURATION];
		}
		r->m[SM_MACS] = text_num(st, 23);
		r->m[SM_PARAMS] = text_num(st, 24);
		r->m[SM_MACS_PER_PARAM] = text_num(st, 25);
		const unsigned char *est = sqlite3_column_text(st, 26);
		r->estimated = est ? gops_xstrdup((const char *)est) : NULL;
	}
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "cannot read the sweep's runs: %s", sqlite3_errmsg(conn));
		sqlite3_finalize(st);
		*out = v;
		*n_out = n;
		return -EIO;
	}
	sqlite3_finalize(st);
	*out = v;
	*n_out = n;
	return 0;
}

static void free_runs(struct sweep_run_data *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].message);
		free(v[i].estimated);
	}
	free(v);
}

static void config_stats(const struct sweep_run_data *runs, size_t n_runs, size_t config, double confidence,
                         struct sweep_config_stats *s)
{
	memset(s, 0, sizeof *s);
	s->config = config;
	double *v = calloc(n_runs ? n_runs : 1, sizeof *v);
	double unc = 0;
	size_t n_unc = 0, n_v = 0;
	double sums[SM_N] = {0};
	size_t counts[SM_N] = {0};
	for (size_t i = 0; i < n_runs; i++) {
		const struct sweep_run_data *r = &runs[i];
		if (r->config != config)
			continue;
		s->n_runs++;
		if (!strcmp(r->state, "failed")) {
			s->n_failed++;
			if (!s->failure[0]) {
				gops_strlcpy(s->failure, r->failure, sizeof s->failure);
				s->message = r->message ? gops_xstrdup(r->message) : NULL;
			}
		} else if (!strcmp(r->state, "skipped")) {
			s->n_skipped++;
			if (!s->failure[0]) {
				gops_strlcpy(s->failure, "skipped", sizeof s->failure);
				s->message = r->message ? gops_xstrdup(r->message) : NULL;
			}
		}
		if (strcmp(r->state, "ok"))
			continue;
		s->n_ok++;
		s->estimated |= r->estimated != NULL;
		if (isfinite(r->m[SM_ENERGY_PER_UNIT]))
			v[n_v++] = r->m[SM_ENERGY_PER_UNIT];
		if (isfinite(r->m[SM_UNCERTAINTY]) && r->m[SM_UNITS] > 0) {
			unc += r->m[SM_UNCERTAINTY] / r->m[SM_UNITS];
			n_unc++;
		}
		for (int k = 0; k < SM_N; k++)
			if (isfinite(r->m[k])) {
				sums[k] += r->m[k];
				counts[k]++;
			}
	}
	sweep_mean_ci(v, n_v, confidence, &s->mean, &s->sd, &s->ci_low, &s->ci_high);
	s->ci_rel_pct =
	    isfinite(s->ci_high) && s->mean != 0 ? (s->ci_high - s->mean) / fabs(s->mean) * 100 : NAN;
	s->run_uncertainty = n_unc ? unc / (double)n_unc : NAN;
	for (int k = 0; k < SM_N; k++)
		s->metric_mean[k] = counts[k] ? sums[k] / (double)counts[k] : NAN;
	free(v);
}

static struct sweep_config_stats *all_config_stats(const struct sweep_plan *plan,
                                                   const struct sweep_run_data *runs, size_t n_runs,
                                                   double confidence, size_t *n)
{
	*n = sweep_plan_n_configs(plan);
	struct sweep_config_stats *s = calloc(*n ? *n : 1, sizeof *s);
	for (size_t c = 0; c < *n; c++)
		config_stats(runs, n_runs, c, confidence, &s[c]);
	return s;
}

void sweep_stats_free(struct sweep_config_stats *s, size_t n)
{
	for (size_t i = 0; s && i < n; i++)
		free(s[i].message);
	free(s);
}

int sweep_stats_load(sqlite3 *conn, int64_t sweep_id, const struct sweep_plan *plan, double confidence,
                     struct sweep_config_stats **out, size_t *n, char *err, size_t errlen)
{
	struct sweep_run_data *runs;
	size_t n_runs;
	int rc = load_runs(conn, sweep_id, &runs, &n_runs, err, errlen);
	if (rc == 0)
		*out = all_config_stats(plan, runs, n_runs, confidence, n);
	free_runs(runs, n_runs);
	return rc;
}

static char *col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? gops_xstrdup((const char *)t) : NULL;
}

int sweep_data_load(sqlite3 *conn, int64_t sweep_id, double confidence, struct sweep_data *d, char *err,
                    size_t errlen)
{
	memset(d, 0, sizeof *d);
	d->sweep_id = sweep_id;
	d->confidence = confidence;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(conn,
	                       "SELECT plan_path, plan, name, status, started_at FROM sweeps WHERE id = ?",
	                       -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot read sweeps: %s (a database from before sweeps?)",
		         sqlite3_errmsg(conn));
		return -EIO;
	}
	sqlite3_bind_int64(st, 1, sweep_id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		snprintf(err, errlen, "there is no sweep %lld", (long long)sweep_id);
		return -ENOENT;
	}
	const char *path = (const char *)sqlite3_column_text(st, 0);
	const char *text = (const char *)sqlite3_column_blob(st, 1);
	int len = sqlite3_column_bytes(st, 1);
	int rc = sweep_plan_parse(&d->plan, path, text ? text : "", (size_t)len, err, errlen);
	d->name = col_dup(st, 2);
	d->status = col_dup(st, 3);
	d->started_at = col_dup(st, 4);
	sqlite3_finalize(st);
	if (rc < 0)
		return rc;
	if ((rc = load_runs(conn, sweep_id, &d->runs, &d->n_runs, err, errlen)) < 0)
		return rc;
	d->configs = all_config_stats(&d->plan, d->runs, d->n_runs, confidence, &d->n_configs);
	return 0;
}

void sweep_data_release(struct sweep_data *d)
{
	sweep_plan_release(&d->plan);
	free(d->name);
	free(d->status);
	free(d->started_at);
	free_runs(d->runs, d->n_runs);
	sweep_stats_free(d->configs, d->n_configs);
	memset(d, 0, sizeof *d);
}

int sweep_constraint_parse(const char *text, struct sweep_constraint *c, char *err, size_t errlen)
{
	memset(c, 0, sizeof *c);
	const char *op = strpbrk(text, "<>=");
	if (!op || op == text) {
		snprintf(err, errlen, "'%s' is not a constraint (METRIC<=VALUE, e.g. ttft_p99_ms<=2000)",
		         text);
		return -EINVAL;
	}
	char name[64];
	size_t len = (size_t)(op - text);
	while (len && text[len - 1] == ' ')
		len--;
	if (len >= sizeof name)
		len = sizeof name - 1;
	memcpy(name, text, len);
	name[len] = 0;
	size_t oplen = (op[1] == '=') ? 2 : 1;
	if (op[0] == '=' && op[1] != '=') {
		snprintf(err, errlen, "'%s': write == for equality", text);
		return -EINVAL;
	}
	memcpy(c->op, op, oplen);
	c->op[oplen] = 0;
	c->metric = sweep_metric_parse(name);
	if (c->metric < 0) {
		snprintf(err, errlen,
		         "'%s' names no metric '%s' (e.g. ttft_p99_ms, e2el_p99_ms, samples_per_s, "
		         "energy_per_unit_j, duration_s)",
		         text, name);
		return -EINVAL;
	}
	char *end;
	c->value = strtod(op + oplen, &end);
	while (*end == ' ')
		end++;
	if (end == op + oplen || *end || !isfinite(c->value)) {
		snprintf(err, errlen, "'%s': the value after '%s' is not a number", text, c->op);
		return -EINVAL;
	}
	return 0;
}

bool sweep_constraint_met(const struct sweep_constraint *c, double v)
{
	if (!isfinite(v))
		return false;
	if (!strcmp(c->op, "<="))
		return v <= c->value;
	if (!strcmp(c->op, "<"))
		return v < c->value;
	if (!strcmp(c->op, ">="))
		return v >= c->value;
	if (!strcmp(c->op, ">"))
		return v > c->value;
	return v == c->value;
}

ssize_t sweep_cheapest(const struct sweep_data *d, const struct sweep_constraint *c, size_t n_c)
{
	ssize_t best = -1;
	for (size_t i = 0; i < d->n_configs; i++) {
		const struct sweep_config_stats *s = &d->configs[i];
		if (!s->n_ok || !isfinite(s->mean))
			continue;
		bool ok = true;
		for (size_t k = 0; ok && k < n_c; k++)
			ok = sweep_constraint_met(&c[k], s->metric_mean[c[k].metric]);
		if (ok && (best < 0 || s->mean < d->configs[best].mean))
			best = (ssize_t)i;
	}
	return best;
}
