/* Storing runs: a run begun (committed at once, so a killed greenops leaves its row), its
 * result (totals, domains, windows and their domains, tags, warnings), its power samples
 * (queued) and the devices the domains were measured on. */
#include "store/db_internal.h"
#include "base/util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* --- devices ------------------------------------------------------------------------- */

sqlite3_stmt *db_device_stmt(struct gops_db *db, const char *domain, const char *source, const char *kind,
                             const char *label, enum stmt which, int64_t *dev, int *rc, char *err,
                             size_t errlen)
{
	if ((*rc = db_device_id(db, domain, source, kind, label, dev, err, errlen)))
		return NULL;
	sqlite3_stmt *st = db_stmt(db, which, err, errlen);
	if (!st)
		*rc = -EIO;
	return st;
}

int db_device_id(struct gops_db *db, const char *domain, const char *source, const char *kind,
                 const char *label, int64_t *id, char *err, size_t errlen)
{
	char now[40];
	gops_iso_time(gops_realtime_ns(), now, sizeof now);
	sqlite3_stmt *st = db_stmt(db, ST_DEVICE_ADD, err, errlen);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, db->host_id);
	db_bind_text(st, 2, domain);
	db_bind_text(st, 3, source ? source : "");
	db_bind_text(st, 4, kind && *kind ? kind : "other");
	db_bind_text(st, 5, label ? label : "");
	db_bind_text(st, 6, now);
	int rc = db_step_done(db, st, "record a device", err, errlen);
	if (rc)
		return rc;
	if (!(st = db_stmt(db, ST_DEVICE_ID, err, errlen)))
		return -EIO;
	sqlite3_bind_int64(st, 1, db->host_id);
	db_bind_text(st, 2, domain);
	db_bind_text(st, 3, source ? source : "");
	db_bind_text(st, 4, label ? label : "");
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		rc = db_fail(db, rc, "record a device", err, errlen);
		sqlite3_reset(st);
		return rc;
	}
	*id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return 0;
}

/* --- runs ---------------------------------------------------------------------------- */

const char *gops_run_status_name(enum gops_run_status s)
{
	static const char *const names[] = {"running", "completed", "interrupted", "failed"};
	return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "running";
}

enum gops_run_status db_status_parse(const char *s)
{
	for (int i = GOPS_RUN_RUNNING; i <= GOPS_RUN_FAILED; i++)
		if (s && !strcmp(s, gops_run_status_name((enum gops_run_status)i)))
			return (enum gops_run_status)i;
	return GOPS_RUN_RUNNING;
}

void gops_db_run_info_init(struct gops_db_run_info *info)
{
	memset(info, 0, sizeof *info);
	info->carbon_g_per_kwh = NAN;
	info->pue = NAN;
	info->price_per_kwh = NAN;
}

struct begin_arg {
	const struct gops_db_run_info *info;
	char *command;
	char *cwd;
	int64_t id;
};

static int store_tags(struct gops_db *db, int64_t run_id, const struct gops_tag *tags, size_t n, char *err,
                      size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt *st = db_stmt(db, ST_TAG, err, errlen);
		if (!st)
			return -EIO;
		sqlite3_bind_int64(st, 1, run_id);
		db_bind_text(st, 2, tags[i].key);
		db_bind_text(st, 3, tags[i].value ? tags[i].value : "");
		int rc = db_step_done(db, st, "store a tag", err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

static int job_run_begin(struct gops_db *db, struct job *j, char *err, size_t errlen)
{
	struct begin_arg *a = j->arg;
	const struct gops_db_run_info *in = a->info;
	int64_t start = in->started_realtime_ns ? in->started_realtime_ns : gops_realtime_ns();
	char at[40];
	gops_iso_time(start, at, sizeof at);
	sqlite3_stmt *st = db_stmt(db, ST_RUN_BEGIN, err, errlen);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, db->host_id);
	db_bind_text(st, 2, in->kind ? in->kind : "run");
	db_bind_text(st, 3, a->command);
	db_bind_text(st, 4, a->cwd);
	sqlite3_bind_int64(st, 5, getpid());
	db_bind_text(st, 6, db->host.boot_id[0] ? db->host.boot_id : NULL);
	db_bind_text(st, 7, at);
	sqlite3_bind_int64(st, 8, start);
	db_bind_text(st, 9, gops_version());
	db_bind_text(st, 10, in->options_json ? in->options_json : "{}");
	db_bind_reals(st, 11, (const double[]){in->carbon_g_per_kwh, in->pue, in->price_per_kwh}, 3);
	db_bind_text(st, 14, in->currency);
	int rc = db_step_done(db, st, "store the run", err, errlen);
	if (rc)
		return rc;
	a->id = sqlite3_last_insert_rowid(db->conn);
	return store_tags(db, a->id, in->tags, in->n_tags, err, errlen);
}

int gops_db_run_begin(struct gops_db *db, const struct gops_db_run_info *info, int64_t *run_id)
{
	char why[200];
	if (info->options_json && db_json_object_check(info->options_json, why, sizeof why)) {
		snprintf(db->err, sizeof db->err, "run options are not a JSON object: %s", why);
		return -EINVAL;
	}
	for (size_t i = 0; i < info->n_tags; i++)
		if (!info->tags[i].key || !info->tags[i].key[0]) {
			snprintf(db->err, sizeof db->err, "a run tag has an empty key");
			return -EINVAL;
		}
	struct begin_arg a = {.info = info};
	a.command = info->argc > 0 ? db_json_strings((char *const *)info->argv, (size_t)info->argc)
	                           : gops_xstrdup("[]");
	if (info->cwd)
		a.cwd = gops_xstrdup(info->cwd);
	else
		a.cwd = getcwd(NULL, 0);
	int rc = a.command ? db_call(db, job_run_begin, &a) : -ENOMEM;
	free(a.command);
	free(a.cwd);
	if (!rc)
		*run_id = a.id;
	return rc;
}

/* --- a run's result ------------------------------------------------------------------ */

struct finish_arg {
	int64_t run_id;
	const struct gops_result *r;
	int exit_status, signal;
	enum gops_run_status status;
};

static int store_domains(struct gops_db *db, int64_t run_id, const struct gops_result *r, char *err,
                         size_t errlen)
{
	for (size_t i = 0; i < r->n_domains; i++) {
		const struct gops_domain_result *d = &r->domains[i];
		int64_t dev;
		int rc;
		sqlite3_stmt *st = db_device_stmt(db, d->name, d->source, d->kind, d->label, ST_RUN_DOMAIN,
		                                  &dev, &rc, err, errlen);
		if (!st)
			return rc;
		sqlite3_bind_int64(st, 1, run_id);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)i);
		sqlite3_bind_int64(st, 3, dev);
		db_bind_text(st, 4, d->name);
		db_bind_domain_result(st, 5, d);
		if ((rc = db_step_done(db, st, "store a domain result", err, errlen)))
			return rc;
	}
	return 0;
}

static int store_window(struct gops_db *db, int64_t run_id, size_t pos, const struct gops_window_result *w,
                        char *err, size_t errlen)
{
	sqlite3_stmt *st = db_stmt(db, ST_WINDOW, err, errlen);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, run_id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)pos);
	db_bind_text(st, 3, w->name ? w->name : "");
	const double v[] = {w->start_s,           w->end_s,        w->units, w->energy_j, w->dynamic_energy_j,
	                    w->energy_per_unit_j, w->uncertainty_j};
	db_bind_reals(st, 4, v, sizeof v / sizeof v[0]);
	sqlite3_bind_int(st, 11, w->open);
	char *warn = db_json_strings(w->warnings, w->n_warnings);
	db_bind_text(st, 12, warn ? warn : "[]");
	free(warn);
	int rc = db_step_done(db, st, "store a window", err, errlen);
	if (rc)
		return rc;
	int64_t wid = sqlite3_last_insert_rowid(db->conn);
	for (size_t i = 0; i < w->n_domains; i++) {
		if (!(st = db_stmt(db, ST_WINDOW_DOMAIN, err, errlen)))
			return -EIO;
		sqlite3_bind_int64(st, 1, wid);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)i);
		db_bind_text(st, 3, w->domains[i].name);
		db_bind_domain_result(st, 4, &w->domains[i]);
		if ((rc = db_step_done(db, st, "store a window's domain", err, errlen)))
			return rc;
	}
	return 0;
}

static int finish_totals(struct gops_db *db, const struct finish_arg *a, char *err, size_t errlen)
{
	const struct gops_result *r = a->r;
	char started[40], ended[40];
	sqlite3_stmt *st = db_stmt(db, ST_RUN_FINISH, err, errlen);
	if (!st)
		return -EIO;
	int64_t start = r->start_realtime_ns;
	if (start) {
		int64_t end = start + (int64_t)(isnan(r->duration_s) ? 0 : r->duration_s * 1e9);
		gops_iso_time(start, started, sizeof started);
		gops_iso_time(end, ended, sizeof ended);
		db_bind_text(st, 1, started);
		sqlite3_bind_int64(st, 2, start);
	} else {
		/* No wall-clock start from the monitor: keep the one from begin (NULLs). */
		gops_iso_time(gops_realtime_ns(), ended, sizeof ended);
	}
	db_bind_text(st, 3, ended);
	db_bind_real(st, 4, r->duration_s);
	sqlite3_bind_int(st, 5, a->exit_status);
	if (a->signal)
		sqlite3_bind_int(st, 6, a->signal);
	db_bind_text(st, 7, gops_run_status_name(a->status));
	const double v[] = {r->energy_j, r->dynamic_energy_j, r->uncertainty_j, r->units,
	                    r->energy_per_unit_j};
	db_bind_reals(st, 8, v, sizeof v / sizeof v[0]);
	db_bind_text(st, 13, r->idle_source ? r->idle_source : "none");
	sqlite3_bind_int64(st, 14, (sqlite3_int64)r->malformed_control_lines);
	char *w = db_json_strings(r->warnings, r->n_warnings);
	db_bind_text(st, 15, w ? w : "[]");
	free(w);
	sqlite3_bind_int64(st, 16, a->run_id);
	return db_step_done(db, st, "store the run's result", err, errlen);
}

/* Nothing measured: only the end, the exit status and the status. */
static int finish_end_only(struct gops_db *db, const struct finish_arg *a, char *err, size_t errlen)
{
	char ended[40];
	gops_iso_time(gops_realtime_ns(), ended, sizeof ended);
	sqlite3_stmt *st = db_stmt(db, ST_RUN_END_ONLY, err, errlen);
	if (!st)
		return -EIO;
	db_bind_text(st, 1, ended);
	sqlite3_bind_int(st, 2, a->exit_status);
	if (a->signal)
		sqlite3_bind_int(st, 3, a->signal);
	db_bind_text(st, 4, gops_run_status_name(a->status));
	sqlite3_bind_int64(st, 5, a->run_id);
	return db_step_done(db, st, "store the run's end", err, errlen);
}

static int job_run_finish(struct gops_db *db, struct job *j, char *err, size_t errlen)
{
	const struct finish_arg *a = j->arg;
	int rc = a->r ? finish_totals(db, a, err, errlen) : finish_end_only(db, a, err, errlen);
	if (rc)
		return rc;
	if (sqlite3_changes(db->conn) != 1) {
		snprintf(err, errlen, "no run %lld in '%s'", (long long)a->run_id, db->path);
		return -ENOENT;
	}
	if (!a->r)
		return 0;
	/* Finishing twice (a partial result, then the whole) replaces what was stored. */
	char sql[160];
	snprintf(sql, sizeof sql,
	         "DELETE FROM run_domains WHERE run_id = %lld; DELETE FROM windows WHERE run_id = %lld",
	         (long long)a->run_id, (long long)a->run_id);
	if ((rc = db_exec(db, sql, "replace the run's result", err, errlen)))
		return rc;
	if ((rc = store_domains(db, a->run_id, a->r, err, errlen)))
		return rc;
	for (size_t i = 0; i < a->r->n_windows; i++)
		if ((rc = store_window(db, a->run_id, i, &a->r->windows[i], err, errlen)))
			return rc;
	return store_tags(db, a->run_id, a->r->tags, a->r->n_tags, err, errlen);
}

int gops_db_run_finish(struct gops_db *db, int64_t run_id, const struct gops_result *r, int exit_status,
                       int signal, enum gops_run_status status)
{
	struct finish_arg a = {run_id, r, exit_status, signal, status};
	return db_call(db, job_run_finish, &a);
}

/* --- power samples ------------------------------------------------------------------- */

static int job_sample(struct gops_db *db, struct job *j, char *err, size_t errlen)
{
	sqlite3_stmt *st = db_stmt(db, ST_SAMPLE, err, errlen);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, j->u.sample.run_id);
	db_bind_real(st, 2, j->u.sample.t_s);
	db_bind_text(st, 3, j->u.sample.domain);
	db_bind_reals(st, 4, (const double[]){j->u.sample.watts, j->u.sample.counter_j}, 2);
	return db_step_done(db, st, "store a power sample", err, errlen);
}

int gops_db_add_sample(struct gops_db *db, int64_t run_id, double t_s, const char *domain, double watts,
                       double counter_j)
{
	struct job *j = db_job_new(db, job_sample);
	if (!j)
		return -ENOMEM;
	j->u.sample.run_id = run_id;
	j->u.sample.t_s = t_s;
	j->u.sample.watts = watts;
	j->u.sample.counter_j = counter_j;
	gops_strlcpy(j->u.sample.domain, domain ? domain : "", sizeof j->u.sample.domain);
	return db_enqueue(db, j);
}

int gops_db_sample_cb(void *ctx, double t_s, const char *domain, double watts, double counter_j)
{
	struct gops_db_sample_sink *s = ctx;
	return gops_db_add_sample(s->db, s->run_id, t_s, domain, watts, counter_j);
}
