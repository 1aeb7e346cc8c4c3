/* Reading runs back: one run whole (totals, tags, domains, windows and their domains) for
 * greenops show, and the runs a filter selects (totals and tags) for greenops runs, analyze
 * and sweeps. A run still `running` whose greenops is gone reads as lost. */
#include "store/db_internal.h"
#include "base/util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RUN_COLUMNS                                                                                          \
	"r.id, r.kind, h.hostname, r.command, r.cwd, r.started_ns, r.ended_at, r.duration_s, "               \
	"r.exit_status, "                                                                                    \
	"r.signal, r.status, r.version, r.options, r.energy_j, r.dynamic_energy_j, r.uncertainty_j, "        \
	"r.units, "                                                                                          \
	"r.energy_per_unit_j, r.idle_source, r.carbon_g_per_kwh, r.pue, r.price_per_kwh, r.currency, "       \
	"r.malformed_control_lines, r.warnings, r.host_id, r.pid, r.boot_id"

static const char *idle_source_static(const char *s)
{
	static const char *const known[] = {"none", "stored", "measured", "given"};
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (s && !strcmp(s, known[i]))
			return known[i];
	return "none";
}

static int64_t parse_iso_ns(const char *s)
{
	struct tm tm = {0};
	int ms = 0;
	if (!s || sscanf(s, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
	                 &tm.tm_min, &tm.tm_sec, &ms) < 6)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm) * 1000000000 + (int64_t)ms * 1000000;
}

static bool run_lost(struct gops_db *db, sqlite3_stmt *st)
{
	if (sqlite3_column_int64(st, 25) != db->host_id)
		return false; /* another machine: cannot tell */
	const char *boot = (const char *)sqlite3_column_text(st, 27);
	if (boot && db->host.boot_id[0] && strcmp(boot, db->host.boot_id))
		return true;
	pid_t pid = (pid_t)sqlite3_column_int64(st, 26);
	return pid > 0 && pid != getpid() && kill(pid, 0) < 0 && errno == ESRCH;
}

/* One row of RUN_COLUMNS. */
static void fill_run(struct gops_db *db, sqlite3_stmt *st, struct gops_db_run *o)
{
	memset(o, 0, sizeof *o);
	o->id = sqlite3_column_int64(st, 0);
	o->kind = db_col_strdup(st, 1);
	o->hostname = db_col_strdup(st, 2);
	o->argv = db_json_parse_strings((const char *)sqlite3_column_text(st, 3), &o->argc);
	o->cwd = db_col_strdup(st, 4);
	o->started_realtime_ns = sqlite3_column_int64(st, 5);
	o->ended_realtime_ns = parse_iso_ns((const char *)sqlite3_column_text(st, 6));
	o->exit_status = sqlite3_column_type(st, 8) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 8);
	o->signal = sqlite3_column_int(st, 9);
	o->status = db_status_parse((const char *)sqlite3_column_text(st, 10));
	o->lost = o->status == GOPS_RUN_RUNNING && run_lost(db, st);
	o->version = db_col_strdup(st, 11);
	o->options_json = db_col_strdup(st, 12);
	struct gops_result *r = &o->result;
	r->start_realtime_ns = o->started_realtime_ns;
	r->duration_s = db_col_real(st, 7);
	db_col_reals(st, 13,
	             (double *const[]){&r->energy_j, &r->dynamic_energy_j, &r->uncertainty_j, &r->units,
	                               &r->energy_per_unit_j},
	             5);
	r->idle_source = idle_source_static((const char *)sqlite3_column_text(st, 18));
	db_col_reals(st, 19, (double *const[]){&o->carbon_g_per_kwh, &o->pue, &o->price_per_kwh}, 3);
	o->currency = db_col_strdup(st, 22);
	r->malformed_control_lines = (size_t)sqlite3_column_int64(st, 23);
	r->warnings = db_json_parse_strings((const char *)sqlite3_column_text(st, 24), &r->n_warnings);
}

/* --- one run whole ------------------------------------------------------------------- */

/* What the row callbacks fill: the run, and how much of each array is allocated. */
struct load_arg {
	int64_t id;
	struct gops_db_run *out;
	size_t cap;
	struct gops_db *db;
	sqlite3_stmt *window_domains;
};

static int tag_row(void *ctx, sqlite3_stmt *st)
{
	struct load_arg *a = ctx;
	struct gops_result *r = &a->out->result;
	if (db_grow(&r->tags, &a->cap, r->n_tags, sizeof *r->tags))
		return -ENOMEM;
	r->tags[r->n_tags].key = db_col_strdup(st, 0);
	r->tags[r->n_tags++].value = db_col_strdup(st, 1);
	return 0;
}

static int load_tags(struct gops_db *db, struct gops_db_run *o, char *err, size_t errlen)
{
	struct load_arg a = {.out = o};
	return db_each_row(db, "SELECT key, value FROM run_tags WHERE run_id = ? ORDER BY key", o->id,
	                   tag_row, &a, "read tags", err, errlen);
}

static int domain_row(void *ctx, sqlite3_stmt *st)
{
	struct load_arg *a = ctx;
	struct gops_result *r = &a->out->result;
	if (db_grow(&r->domains, &a->cap, r->n_domains, sizeof *r->domains))
		return -ENOMEM;
	struct gops_domain_result *d = &r->domains[r->n_domains++];
	memset(d, 0, sizeof *d);
	db_col_device(st, 0, d->name, d->source, d->kind, d->label);
	db_fill_domain(st, 4, d);
	return 0;
}

static int load_domains(struct gops_db *db, struct gops_db_run *o, char *err, size_t errlen)
{
	struct load_arg a = {.out = o};
	return db_each_row(db,
	                   "SELECT rd.domain, d.source, d.kind, d.label, " DB_DOMAIN_RESULT_COLUMNS
	                   " FROM run_domains rd JOIN devices d ON d.id = rd.device_id "
	                   "WHERE rd.run_id = ? ORDER BY rd.position",
	                   o->id, domain_row, &a, "read domain results", err, errlen);
}

/* A window's domains: source, kind and label are the run's, for the domain of that name. */
static void fill_window_domains(const struct gops_result *r, sqlite3_stmt *dst, int64_t window_id,
                                struct gops_window_result *w, size_t nd)
{
	sqlite3_reset(dst);
	sqlite3_bind_int64(dst, 1, window_id);
	while (w->n_domains < nd && sqlite3_step(dst) == SQLITE_ROW) {
		struct gops_domain_result *d = &w->domains[w->n_domains++];
		db_col_copy(dst, 0, d->name, sizeof d->name);
		db_fill_domain(dst, 1, d);
		for (size_t k = 0; k < r->n_domains; k++)
			if (!strcmp(r->domains[k].name, d->name)) {
				memcpy(d->source, r->domains[k].source, sizeof d->source);
				memcpy(d->kind, r->domains[k].kind, sizeof d->kind);
				memcpy(d->label, r->domains[k].label, sizeof d->label);
			}
	}
}

static int window_row(void *ctx, sqlite3_stmt *st)
{
	struct load_arg *a = ctx;
	struct gops_result *r = &a->out->result;
	if (db_grow(&r->windows, &a->cap, r->n_windows, sizeof *r->windows))
		return -ENOMEM;
	struct gops_window_result *w = &r->windows[r->n_windows++];
	memset(w, 0, sizeof *w);
	w->name = db_col_strdup(st, 1);
	db_col_reals(st, 2,
	             (double *const[]){&w->start_s, &w->end_s, &w->units, &w->energy_j, &w->dynamic_energy_j,
	                               &w->energy_per_unit_j, &w->uncertainty_j},
	             7);
	w->open = sqlite3_column_int(st, 9) != 0;
	w->warnings = db_json_parse_strings((const char *)sqlite3_column_text(st, 10), &w->n_warnings);
	size_t nd = (size_t)sqlite3_column_int64(st, 11);
	w->domains = nd ? calloc(nd, sizeof *w->domains) : NULL;
	if (nd && !w->domains)
		return -ENOMEM;
	fill_window_domains(r, a->window_domains, sqlite3_column_int64(st, 0), w, nd);
	return 0;
}

static int load_windows(struct gops_db *db, struct gops_db_run *o, char *err, size_t errlen)
{
	struct load_arg a = {.out = o};
	int rc = sqlite3_prepare_v2(db->conn,
	                            "SELECT domain, " DB_DOMAIN_RESULT_COLUMNS
	                            " FROM window_domains WHERE window_id = ? ORDER BY position",
	                            -1, &a.window_domains, NULL);
	if (rc != SQLITE_OK)
		return db_fail(db, rc, "read windows", err, errlen);
	rc = db_each_row(db,
	                 "SELECT w.id, w.name, w.start_s, w.end_s, w.units, w.energy_j, "
	                 "w.dynamic_energy_j, w.energy_per_unit_j, w.uncertainty_j, w.open, w.warnings, "
	                 "(SELECT COUNT(*) FROM window_domains wd WHERE wd.window_id = w.id) "
	                 "FROM windows w WHERE w.run_id = ? ORDER BY w.position",
	                 o->id, window_row, &a, "read windows", err, errlen);
	sqlite3_finalize(a.window_domains);
	return rc;
}

static int run_row(void *ctx, sqlite3_stmt *st)
{
	struct load_arg *a = ctx;
	fill_run(a->db, st, a->out);
	return 1; /* the one row */
}

static int job_run_load(struct gops_db *db, struct job *j, char *err, size_t errlen)
{
	struct load_arg *a = j->arg;
	const char *sql = a->id == GOPS_DB_LAST
	                      ? "SELECT " RUN_COLUMNS " FROM runs r JOIN hosts h ON h.id = r.host_id "
	                        "ORDER BY r.id DESC LIMIT 1"
	                      : "SELECT " RUN_COLUMNS
	                        " FROM runs r JOIN hosts h ON h.id = r.host_id WHERE r.id = ?";
	int rc = db_each_row(db, sql, a->id, run_row, a, "read a run", err, errlen);
	if (rc == 0) {
		if (a->id == GOPS_DB_LAST)
			snprintf(err, errlen, "no runs stored in '%s'", db->path);
		else
			snprintf(err, errlen, "no run %lld in '%s'", (long long)a->id, db->path);
		return -ENOENT;
	}
	if (rc < 0)
		return rc;
	if ((rc = load_tags(db, a->out, err, errlen)) || (rc = load_domains(db, a->out, err, errlen)) ||
	    (rc = load_windows(db, a->out, err, errlen)))
		return rc;
	return 0;
}

int gops_db_run_load(struct gops_db *db, int64_t id, struct gops_db_run *out)
{
	memset(out, 0, sizeof *out);
	struct load_arg a = {.id = id, .out = out, .db = db};
	int rc = db_call(db, job_run_load, &a);
	if (rc)
		gops_db_run_release(out);
	return rc;
}

static void domains_free(struct gops_domain_result *d, size_t n)
{
	for (size_t i = 0; i < n; i++)
		db_free_strings(d[i].warnings, d[i].n_warnings);
	free(d);
}

void gops_db_run_release(struct gops_db_run *o)
{
	struct gops_result *r = &o->result;
	domains_free(r->domains, r->n_domains);
	for (size_t i = 0; i < r->n_windows; i++) {
		free(r->windows[i].name);
		domains_free(r->windows[i].domains, r->windows[i].n_domains);
		db_free_strings(r->windows[i].warnings, r->windows[i].n_warnings);
	}
	free(r->windows);
	for (size_t i = 0; i < r->n_tags; i++) {
		free(r->tags[i].key);
		free(r->tags[i].value);
	}
	free(r->tags);
	db_free_strings(r->warnings, r->n_warnings);
	db_free_strings(o->argv, o->argc);
	free(o->kind);
	free(o->hostname);
	free(o->cwd);
	free(o->version);
	free(o->options_json);
	free(o->currency);
	memset(o, 0, sizeof *o);
}

/* --- the runs a filter selects ------------------------------------------------------- */

char *db_filter_sql(const struct gops_db_filter *f)
{
	char *s = gops_xstrdup("WHERE 1");
	if (f && f->run_id == GOPS_DB_LAST) {
		char *n = gops_xasprintf("%s AND r.id = (SELECT MAX(id) FROM runs)", s);
		free(s);
		s = n;
	} else if (f && f->run_id) {
		char *n = gops_xasprintf("%s AND r.id = ?", s);
		free(s);
		s = n;
	}
	for (size_t i = 0; f && i < f->n_tags; i++) {
		char *n = gops_xasprintf("%s AND EXISTS (SELECT 1 FROM run_tags t WHERE t.run_id = r.id AND "
		                         "t.key = ?%s)",
		                         s, f->tags[i].value ? " AND t.value = ?" : "");
		free(s);
		s = n;
	}
	return s;
}

int db_filter_bind(sqlite3_stmt *st, const struct gops_db_filter *f, int i)
{
	if (f && f->run_id > 0)
		sqlite3_bind_int64(st, i++, f->run_id);
	for (size_t k = 0; f && k < f->n_tags; k++) {
		db_bind_text(st, i++, f->tags[k].key);
		if (f->tags[k].value)
			db_bind_text(st, i++, f->tags[k].value);
	}
	return i;
}

void db_filter_bind_limited(sqlite3_stmt *st, const struct gops_db_filter *f)
{
	int i = db_filter_bind(st, f, 1);
	if (f && f->limit)
		sqlite3_bind_int64(st, i, (sqlite3_int64)f->limit);
}

struct foreach_arg {
	const struct gops_db_filter *f;
	gops_db_run_fn fn;
	void *ctx;
	int user_rc;
};

static int job_runs_foreach(struct gops_db *db, struct job *j, char *err, size_t errlen)
{
	struct foreach_arg *a = j->arg;
	char *where = db_filter_sql(a->f);
	char *sql = gops_xasprintf("SELECT " RUN_COLUMNS " FROM runs r JOIN hosts h ON h.id = r.host_id %s "
	                           "ORDER BY r.id DESC%s",
	                           where, a->f && a->f->limit ? " LIMIT ?" : "");
	free(where);
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db->conn, sql, -1, &st, NULL);
	free(sql);
	if (rc != SQLITE_OK)
		return db_fail(db, rc, "list runs", err, errlen);
	db_filter_bind_limited(st, a->f);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct gops_db_run run;
		fill_run(db, st, &run);
		int trc = load_tags(db, &run, err, errlen);
		if (!trc)
			a->user_rc = a->fn(a->ctx, &run);
		gops_db_run_release(&run);
		if (trc) {
			sqlite3_finalize(st);
			return trc;
		}
		if (a->user_rc)
			break;
	}
	rc = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : db_fail(db, rc, "list runs", err, errlen);
	sqlite3_finalize(st);
	return rc;
}

int gops_db_runs_foreach(struct gops_db *db, const struct gops_db_filter *f, gops_db_run_fn fn, void *ctx)
{
	struct foreach_arg a = {f, fn, ctx, 0};
	int rc = db_call(db, job_runs_foreach, &a);
	return rc ? rc : a.user_rc;
}
