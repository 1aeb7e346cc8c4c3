/* The results database's SQLite and JSON helpers: errors as errno, the statements the writer
 * keeps prepared, binding and reading columns (NAN is SQL NULL), a domain result's columns
 * both ways, and lists of strings stored as JSON arrays. */
#include "store/db_internal.h"
#include "base/util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const stmt_sql[N_STMT] = {
    [ST_SAMPLE] = "INSERT INTO samples (run_id, t_s, domain, watts, counter_j) VALUES (?, ?, ?, ?, ?)",
    [ST_REQUEST] = "INSERT OR REPLACE INTO requests (bench_run_id, idx, scheduled_s, sent_s, first_token_s, "
                   "end_s, tokens_in, tokens_out, http_status, ok, error) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [ST_DEVICE_ADD] = "INSERT OR IGNORE INTO devices (host_id, domain, source, kind, label, first_seen) "
                      "VALUES (?, ?, ?, ?, ?, ?)",
    [ST_DEVICE_ID] = "SELECT id FROM devices WHERE host_id = ? AND domain = ? AND source = ? AND label = ?",
    [ST_RUN_BEGIN] = "INSERT INTO runs (host_id, kind, command, cwd, pid, boot_id, started_at, started_ns, "
                     "version, options, carbon_g_per_kwh, pue, price_per_kwh, currency) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [ST_RUN_FINISH] = "UPDATE runs SET started_at = COALESCE(?, started_at), started_ns = COALESCE(?, "
                      "started_ns), ended_at = ?, duration_s = ?, "
                      "exit_status = ?, signal = ?, status = ?, energy_j = ?, dynamic_energy_j = ?, "
                      "uncertainty_j = ?, units = ?, energy_per_unit_j = ?, idle_source = ?, "
                      "malformed_control_lines = ?, warnings = ? WHERE id = ?",
    [ST_RUN_END_ONLY] = "UPDATE runs SET ended_at = ?, exit_status = ?, signal = ?, status = ? WHERE id = ?",
    [ST_TAG] = "INSERT OR REPLACE INTO run_tags (run_id, key, value) VALUES (?, ?, ?)",
    [ST_RUN_DOMAIN] =
        "INSERT INTO run_domains (run_id, position, device_id, domain, " DB_DOMAIN_RESULT_COLUMNS
        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [ST_WINDOW] = "INSERT INTO windows (run_id, position, name, start_s, end_s, units, energy_j, "
                  "dynamic_energy_j, energy_per_unit_j, uncertainty_j, open, warnings) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [ST_WINDOW_DOMAIN] = "INSERT INTO window_domains (window_id, position, domain, " DB_DOMAIN_RESULT_COLUMNS
                         ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [ST_BASELINE] = "INSERT INTO baselines (device_id, mean_w, spread_w, duration_s, n_samples, measured_at, "
                    "measured_ns) VALUES (?, ?, ?, ?, ?, ?, ?)",
    [ST_BENCH_BEGIN] = "INSERT INTO bench_runs (run_id, position, rate, started_at) VALUES (?1, "
                       "(SELECT COALESCE(MAX(position), 0) + 1 FROM bench_runs WHERE run_id = ?1), ?2, ?3)",
    [ST_BENCH_FINISH] = "UPDATE bench_runs SET status = ?, duration_s = ?, completed = ?, failed = ?, "
                        "request_throughput = ?, output_token_throughput = ?, total_output_tokens = ?, "
                        "energy_j = ?, dynamic_energy_j = ?, energy_per_request_j = ?, "
                        "energy_per_output_token_j = ?, metrics = ? WHERE id = ?",
};

/* --- errors and statements ------------------------------------------------------------ */

int db_sqlite_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_CANTOPEN:
		return -ENOENT;
	case SQLITE_CONSTRAINT:
	case SQLITE_MISMATCH:
		return -EINVAL;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		return -EILSEQ;
	default:
		return -EIO;
	}
}

int db_fail(struct gops_db *db, int rc, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "cannot %s in '%s': %s", what, db->path, sqlite3_errmsg(db->conn));
	return db_sqlite_errno(rc);
}

int db_exec(struct gops_db *db, const char *sql, const char *what, char *err, size_t errlen)
{
	int rc = sqlite3_exec(db->conn, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : db_fail(db, rc, what, err, errlen);
}

sqlite3_stmt *db_stmt(struct gops_db *db, enum stmt id, char *err, size_t errlen)
{
	if (!db->stmts[id]) {
		int rc = sqlite3_prepare_v3(db->conn, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
		                            &db->stmts[id], NULL);
		if (rc != SQLITE_OK) {
			db_fail(db, rc, "prepare a statement", err, errlen);
			return NULL;
		}
	}
	sqlite3_reset(db->stmts[id]);
	sqlite3_clear_bindings(db->stmts[id]);
	return db->stmts[id];
}

int db_step_done(struct gops_db *db, sqlite3_stmt *st, const char *what, char *err, size_t errlen)
{
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE || rc == SQLITE_ROW) {
		sqlite3_reset(st);
		return 0;
	}
	rc = db_fail(db, rc, what, err, errlen);
	sqlite3_reset(st);
	return rc;
}

int db_each_row(struct gops_db *db, const char *sql, int64_t param, db_row_fn row, void *ctx,
                const char *what, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db->conn, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_fail(db, rc, what, err, errlen);
	sqlite3_bind_int64(st, 1, param);
	int row_rc = 0;
	while (!row_rc && (rc = sqlite3_step(st)) == SQLITE_ROW)
		row_rc = row(ctx, st);
	if (row_rc == -ENOMEM)
		snprintf(err, errlen, "cannot %s in '%s': out of memory", what, db->path);
	rc = row_rc ? row_rc : rc == SQLITE_DONE ? 0 : db_fail(db, rc, what, err, errlen);
	sqlite3_finalize(st);
	return rc;
}

int db_grow(void *v, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return 0;
	size_t c = *cap ? *cap * 2 : 8;
	void *p = realloc(*(void **)v, c * size);
	if (!p)
		return -ENOMEM;
	*(void **)v = p;
	*cap = c;
	return 0;
}

/* --- binding and reading columns ------------------------------------------------------ */

void db_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

/* NAN and infinities from arithmetic on NAN become NULL (SQLite binds NAN as NULL itself). */
void db_bind_real(sqlite3_stmt *st, int i, double v)
{
	if (isnan(v))
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_double(st, i, v);
}

void db_bind_reals(sqlite3_stmt *st, int first, const double *v, size_t n)
{
	for (size_t k = 0; k < n; k++)
		db_bind_real(st, first + (int)k, v[k]);
}

double db_col_real(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

void db_col_reals(sqlite3_stmt *st, int first, double *const *out, size_t n)
{
	for (size_t k = 0; k < n; k++)
		*out[k] = db_col_real(st, first + (int)k);
}

char *db_col_strdup(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);
	return s ? gops_xstrdup((const char *)s) : NULL;
}

void db_col_copy(sqlite3_stmt *st, int i, char *dst, size_t len)
{
	const unsigned char *s = sqlite3_column_text(st, i);
	gops_strlcpy(dst, s ? (const char *)s : "", len);
}

#define FIELD_SIZE(type, field) sizeof(((type *)0)->field)
_Static_assert(FIELD_SIZE(struct gops_domain_result, name) == 32 &&
                   FIELD_SIZE(struct gops_db_baseline, domain) == 32 &&
                   FIELD_SIZE(struct gops_domain_result, source) == 16 &&
                   FIELD_SIZE(struct gops_db_baseline, source) == 16 &&
                   FIELD_SIZE(struct gops_domain_result, kind) == 16 &&
                   FIELD_SIZE(struct gops_db_baseline, kind) == 16 &&
                   FIELD_SIZE(struct gops_domain_result, label) == 128 &&
                   FIELD_SIZE(struct gops_db_baseline, label) == 128,
               "db_col_device's field sizes");

void db_col_device(sqlite3_stmt *st, int first, char domain[32], char source[16], char kind[16],
                   char label[128])
{
	db_col_copy(st, first, domain, 32);
	db_col_copy(st, first + 1, source, 16);
	db_col_copy(st, first + 2, kind, 16);
	db_col_copy(st, first + 3, label, 128);
}

void db_bind_domain_result(sqlite3_stmt *st, int first, const struct gops_domain_result *d)
{
	db_bind_text(st, first, gops_method_name(d->method));
	sqlite3_bind_int(st, first + 1, d->summed);
	const double v[] = {d->energy_j,     d->dynamic_energy_j, d->idle_power_w,        d->avg_power_w,
	                    d->peak_power_w, d->uncertainty_j,    d->integrated_energy_j, d->update_period_s};
	db_bind_reals(st, first + 2, v, sizeof v / sizeof v[0]);
	char *w = db_json_strings(d->warnings, d->n_warnings);
	db_bind_text(st, first + 10, w ? w : "[]");
	free(w);
}

static enum gops_method method_parse(const char *s)
{
	for (int m = GOPS_METHOD_NONE; m <= GOPS_METHOD_BRIDGED; m++)
		if (s && !strcmp(s, gops_method_name((enum gops_method)m)))
			return (enum gops_method)m;
	return GOPS_METHOD_NONE;
}

void db_fill_domain(sqlite3_stmt *st, int first, struct gops_domain_result *d)
{
	d->method = method_parse((const char *)sqlite3_column_text(st, first));
	d->summed = sqlite3_column_int(st, first + 1) != 0;
	double *const out[] = {&d->energy_j,           &d->dynamic_energy_j, &d->idle_power_w,
	                       &d->avg_power_w,        &d->peak_power_w,     &d->uncertainty_j,
	                       &d->integrated_energy_j};
	db_col_reals(st, first + 2, out, sizeof out / sizeof out[0]);
	d->update_period_s =
	    sqlite3_column_type(st, first + 9) == SQLITE_NULL ? 0 : sqlite3_column_double(st, first + 9);
	d->warnings =
	    db_json_parse_strings((const char *)sqlite3_column_text(st, first + 10), &d->n_warnings);
}

/* --- strings as JSON ------------------------------------------------------------------ */

static json_t *jstr(const char *s)
{
	json_t *j = json_string(s ? s : "");
	if (j)
		return j;
	char *c = gops_utf8_repair(s); /* argv and file names need not be UTF-8; JSON holds text */
	j = json_string(c);
	free(c);
	return j ? j : json_string("");
}

char *db_json_strings(char *const *v, size_t n)
{
	if (n == 0)
		return NULL; /* callers bind "[]": most results have no warnings, and windows are many */
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, jstr(v[i]));
	char *s = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	return s;
}

char **db_json_parse_strings(const char *text, size_t *n)
{
	*n = 0;
	json_t *a = text ? json_loads(text, 0, NULL) : NULL;
	if (!json_is_array(a) || json_array_size(a) == 0) {
		json_decref(a);
		return NULL;
	}
	char **v = calloc(json_array_size(a), sizeof *v);
	for (size_t i = 0; v && i < json_array_size(a); i++) {
		const char *s = json_string_value(json_array_get(a, i));
		v[(*n)++] = gops_xstrdup(s ? s : "");
	}
	json_decref(a);
	return v;
}

int db_json_object_check(const char *text, char *why, size_t len)
{
	json_error_t je;
	json_t *o = json_loads(text, 0, &je);
	bool isobj = json_is_object(o);
	json_decref(o);
	if (isobj)
		return 0;
	snprintf(why, len, "%s", o ? "another JSON value" : je.text);
	return -EINVAL;
}

void db_free_strings(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}
