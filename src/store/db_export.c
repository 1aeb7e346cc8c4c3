/* Exporting: the rows of one table (runs, domains, windows, samples, bench runs, requests)
 * for the runs a filter selects, flat, with one column per run tag at the end (greenops
 * export-csv and analyze --db). */
#include "store/db_internal.h"
#include "base/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const table_names[] = {
    [GOPS_DB_TABLE_RUNS] = "runs",
    [GOPS_DB_TABLE_DOMAINS] = "domains",
    [GOPS_DB_TABLE_WINDOWS] = "windows",
    [GOPS_DB_TABLE_SAMPLES] = "samples",
    [GOPS_DB_TABLE_BENCH_RUNS] = "bench-runs",
    [GOPS_DB_TABLE_REQUESTS] = "requests",
};

int gops_db_table_parse(const char *name, enum gops_db_table *t)
{
	for (size_t i = 0; i < sizeof table_names / sizeof table_names[0]; i++)
		if (!strcmp(name, table_names[i])) {
			*t = (enum gops_db_table)i;
			return 0;
		}
	return -EINVAL;
}

const char *gops_db_table_name(enum gops_db_table t)
{
	return (unsigned)t < sizeof table_names / sizeof table_names[0] ? table_names[t] : "?";
}

/* Each table's SELECT; "x.run_id" is the column the run filter and the tag columns join on,
 * and rows come in run order, then in their own order. */
static const char *const export_sql[] = {
    [GOPS_DB_TABLE_RUNS] =
        "SELECT r.id AS run_id, h.hostname AS host, r.kind, r.started_at, r.ended_at, r.duration_s, "
        "r.command, r.cwd, r.status, r.exit_status, r.signal, r.energy_j, r.dynamic_energy_j, "
        "r.uncertainty_j, r.units, r.energy_per_unit_j, r.idle_source, r.carbon_g_per_kwh, r.pue, "
        "r.price_per_kwh, r.currency, "
        "r.energy_j * COALESCE(r.pue, 1) / 3.6e6 * r.carbon_g_per_kwh AS carbon_g, "
        "r.energy_j * COALESCE(r.pue, 1) / 3.6e6 * r.price_per_kwh AS cost, "
        "r.version, r.options, r.malformed_control_lines, r.warnings "
        "FROM runs r JOIN hosts h ON h.id = r.host_id %s ORDER BY r.id",
    [GOPS_DB_TABLE_DOMAINS] =
        "SELECT x.run_id, x.domain, d.source, d.kind, d.label, x.method, x.summed, x.energy_j, "
        "x.dynamic_energy_j, x.idle_power_w, x.avg_power_w, x.peak_power_w, x.uncertainty_j, "
        "x.integrated_energy_j, x.update_period_s, x.warnings"
        " FROM run_domains x JOIN devices d ON d.id = x.device_id JOIN runs r ON r.id = x.run_id %s "
        "ORDER BY x.run_id, x.position",
    [GOPS_DB_TABLE_WINDOWS] =
        "SELECT x.run_id, x.position AS window, x.name, x.start_s, x.end_s, x.end_s - x.start_s AS "
        "duration_s, x.units, x.energy_j, x.dynamic_energy_j, x.energy_per_unit_j, x.uncertainty_j, "
        "x.open, x.warnings FROM windows x JOIN runs r ON r.id = x.run_id %s ORDER BY x.run_id, x.position",
    [GOPS_DB_TABLE_SAMPLES] =
        "SELECT x.run_id, x.t_s, x.domain, x.watts AS power_w, x.counter_j FROM samples x JOIN "
        "runs r ON r.id = x.run_id %s ORDER BY x.run_id, x.t_s, x.rowid",
    [GOPS_DB_TABLE_BENCH_RUNS] =
        "SELECT x.run_id, x.id AS bench_run_id, x.position, x.rate, x.status, x.started_at, x.duration_s, "
        "x.completed, x.failed, x.request_throughput, x.output_token_throughput, x.total_output_tokens, "
        "x.energy_j, x.dynamic_energy_j, x.energy_per_request_j, x.energy_per_output_token_j, x.metrics "
        "FROM bench_runs x JOIN runs r ON r.id = x.run_id %s ORDER BY x.run_id, x.position",
    [GOPS_DB_TABLE_REQUESTS] =
        "SELECT x.run_id, q.bench_run_id, x.rate, q.idx AS request, q.scheduled_s, q.sent_s, "
        "q.first_token_s, q.end_s, q.first_token_s - q.scheduled_s AS ttft_s, q.end_s - q.scheduled_s AS "
        "e2el_s, q.tokens_in, q.tokens_out, q.http_status, q.ok, q.error FROM requests q JOIN bench_runs x "
        "ON x.id = q.bench_run_id JOIN runs r ON r.id = x.run_id %s ORDER BY x.run_id, x.position, q.idx",
};

struct export_arg {
	enum gops_db_table t;
	const struct gops_db_filter *f;
	gops_db_row_fn fn;
	void *ctx;
	int user_rc;
};

/* The distinct tag keys of the selected runs: one extra column each. */
static int export_tag_keys(struct gops_db *db, const struct export_arg *a, const char *sel, char ***keys,
                           size_t *n, char *err, size_t errlen)
{
	char *sql =
	    gops_xasprintf("SELECT DISTINCT key FROM run_tags WHERE run_id IN (%s) ORDER BY key", sel);
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db->conn, sql, -1, &st, NULL);
	free(sql);
	if (rc != SQLITE_OK)
		return db_fail(db, rc, "read tags", err, errlen);
	db_filter_bind_limited(st, a->f);
	size_t cap = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (db_grow(keys, &cap, *n, sizeof **keys)) {
			sqlite3_finalize(st);
			snprintf(err, errlen, "cannot read tags in '%s': out of memory", db->path);
			return -ENOMEM;
		}
		(*keys)[(*n)++] = db_col_strdup(st, 0);
	}
	rc = rc == SQLITE_DONE ? 0 : db_fail(db, rc, "read tags", err, errlen);
	sqlite3_finalize(st);
	return rc;
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* vals[k] = the run's value of keys[k] (sorted), NULL where it has none. */
static int export_run_tags(sqlite3_stmt *tq, sqlite3_int64 run, char **keys, size_t nkeys, char **vals)
{
	for (size_t k = 0; k < nkeys; k++) {
		free(vals[k]);
		vals[k] = NULL;
	}
	sqlite3_reset(tq);
	sqlite3_bind_int64(tq, 1, run);
	int rc;
	while ((rc = sqlite3_step(tq)) == SQLITE_ROW) {
		const char *key = (const char *)sqlite3_column_text(tq, 0);
		char **hit = key ? bsearch(&key, keys, nkeys, sizeof *keys, key_cmp) : NULL;
		if (hit)
			vals[hit - keys] = db_col_strdup(tq, 1);
	}
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Tag values are looked up per run rather than selected as columns: SQLite allows at most
 * 2,000 columns in a result, and a database may hold more distinct tag keys than that. */
static int export_rows(struct gops_db *db, struct export_arg *a, sqlite3_stmt *st, char **keys, size_t nkeys,
                       char *err, size_t errlen)
{
	size_t nbase = (size_t)sqlite3_column_count(st), n = nbase + nkeys;
	const char **names = calloc(n, sizeof *names);
	const char **values = calloc(n, sizeof *values);
	char **tagnames = calloc(nkeys + 1, sizeof *tagnames);
	char **tagvals = calloc(nkeys + 1, sizeof *tagvals);
	if (!names || !values || !tagnames || !tagvals)
		abort();
	for (size_t i = 0; i < nbase; i++)
		names[i] = sqlite3_column_name(st, (int)i);
	for (size_t k = 0; k < nkeys; k++)
		names[nbase + k] = tagnames[k] = gops_xasprintf("tag.%s", keys[k]);
	sqlite3_stmt *tq = NULL;
	int rc = nkeys ? sqlite3_prepare_v2(db->conn, "SELECT key, value FROM run_tags WHERE run_id = ?", -1,
	                                    &tq, NULL)
	               : SQLITE_OK;
	sqlite3_int64 run = -1;
	a->user_rc = rc == SQLITE_OK ? a->fn(a->ctx, n, names, NULL) : 0;
	while (rc == SQLITE_OK && !a->user_rc) {
		if ((rc = sqlite3_step(st)) != SQLITE_ROW)
			break;
		rc = SQLITE_OK;
		/* The first column of every export is the run's id, and rows come in run order. */
		if (nkeys && sqlite3_column_int64(st, 0) != run) {
			run = sqlite3_column_int64(st, 0);
			rc = export_run_tags(tq, run, keys, nkeys, tagvals);
		}
		for (size_t i = 0; i < nbase; i++)
			values[i] = (const char *)sqlite3_column_text(st, (int)i);
		for (size_t k = 0; k < nkeys; k++)
			values[nbase + k] = tagvals[k];
		if (rc == SQLITE_OK)
			a->user_rc = a->fn(a->ctx, n, names, values);
	}
	rc = a->user_rc || rc == SQLITE_DONE || rc == SQLITE_OK ? 0
	                                                        : db_fail(db, rc, "export rows", err, errlen);
	sqlite3_finalize(tq);
	db_free_strings(tagnames, nkeys);
	db_free_strings(tagvals, nkeys);
	free(names);
	free(values);
	return rc;
}

static int job_export(struct gops_db *db, struct job *j, char *err, size_t errlen)
{
	struct export_arg *a = j->arg;
	char *where = db_filter_sql(a->f);
	char *sel = gops_xasprintf("SELECT r.id FROM runs r %s ORDER BY r.id DESC%s", where,
	                           a->f && a->f->limit ? " LIMIT ?" : "");
	char **keys = NULL;
	size_t nkeys = 0;
	int rc = export_tag_keys(db, a, sel, &keys, &nkeys, err, errlen);
	/* Limit first (newest runs), then the table's own order. */
	char *limited = gops_xasprintf("%s AND r.id IN (%s)", where, sel);
	char *sql = gops_xasprintf(export_sql[a->t], limited);
	sqlite3_stmt *st = NULL;
	if (!rc) {
		int prc = sqlite3_prepare_v2(db->conn, sql, -1, &st, NULL);
		if (prc != SQLITE_OK)
			rc = db_fail(db, prc, "export rows", err, errlen);
	}
	if (!rc) {
		int i = db_filter_bind(st, a->f, 1);
		i = db_filter_bind(st, a->f, i);
		if (a->f && a->f->limit)
			sqlite3_bind_int64(st, i, (sqlite3_int64)a->f->limit);
		rc = export_rows(db, a, st, keys, nkeys, err, errlen);
	}
	sqlite3_finalize(st);
	db_free_strings(keys, nkeys);
	free(sql);
	free(limited);
	free(sel);
	free(where);
	return rc;
}

int gops_db_export(struct gops_db *db, enum gops_db_table t, const struct gops_db_filter *f,
                   gops_db_row_fn fn, void *ctx)
{
	if ((unsigned)t >= sizeof export_sql / sizeof export_sql[0]) {
		snprintf(db->err, sizeof db->err, "no table %d to export", (int)t);
		return -EINVAL;
	}
	struct export_arg a = {t, f, fn, ctx, 0};
	int rc = db_call(db, job_export, &a);
	return rc ? rc : a.user_rc;
}
