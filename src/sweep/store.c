/* The sweep tables of the results database. The runs themselves are stored by the child
 * greenops processes (each through its own connection and writer thread); the sweep process
 * writes only its own small rows, one statement and commit at a time, so it keeps a plain
 * connection of its own (WAL mode and the busy timeout let the two kinds of writer share the
 * file). The schema is applied by gops_db_open() before that connection is made. */
#include "sweep/store.h"

#include "base/util.h"
#include "store/db.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUSY_TIMEOUT_MS 30000
#define NOW_ISO         "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"

struct sweep_store {
	sqlite3 *conn;
	char *path;
	char err[512];
};

static int store_fail(struct sweep_store *s, int rc, const char *what)
{
	snprintf(s->err, sizeof s->err, "cannot %s in '%s': %s", what, s->path, sqlite3_errmsg(s->conn));
	return rc == SQLITE_BUSY || rc == SQLITE_LOCKED ? -EBUSY : -EIO;
}

const char *sweep_store_error(const struct sweep_store *s)
{
	return s->err;
}

sqlite3 *sweep_store_conn(struct sweep_store *s)
{
	return s->conn;
}

int sweep_store_open(struct sweep_store **out, const char *path, char *err, size_t errlen)
{
	*out = NULL;
	struct gops_db *db;
	int rc = gops_db_open(&db, path, 0, err, errlen);
	if (rc < 0)
		return rc;
	struct sweep_store *s = calloc(1, sizeof *s);
	s->path = gops_xstrdup(gops_db_path(db));
	gops_db_close(db, NULL, 0);
	rc = sqlite3_open_v2(s->path, &s->conn, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot open the results database '%s': %s", s->path,
		         s->conn ? sqlite3_errmsg(s->conn) : sqlite3_errstr(rc));
		sweep_store_close(s);
		return -EIO;
	}
	sqlite3_busy_timeout(s->conn, BUSY_TIMEOUT_MS);
	sqlite3_exec(s->conn, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
	*out = s;
	return 0;
}

void sweep_store_close(struct sweep_store *s)
{
	if (!s)
		return;
	sqlite3_close(s->conn);
	free(s->path);
	free(s);
}

void sweep_plan_hash(const struct sweep_plan *plan, char out[17])
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
	for (size_t i = 0; i < plan->text_len; i++) {
		h ^= (unsigned char)plan->text[i];
		h *= 0x100000001b3ULL;
	}
	snprintf(out, 17, "%016llx", (unsigned long long)h);
}

static int prepare(struct sweep_store *s, const char *sql, sqlite3_stmt **st)
{
	int rc = sqlite3_prepare_v2(s->conn, sql, -1, st, NULL);
	return rc == SQLITE_OK ? 0 : store_fail(s, rc, "prepare a statement");
}

/* Runs a prepared statement to its end and finalizes it. */
static int step_done(struct sweep_store *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);
	int out = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : store_fail(s, rc, what);
	sqlite3_finalize(st);
	return out;
}

static char *params_json(const struct sweep_plan *plan, size_t config)
{
	json_t *o = json_object();
	for (size_t p = 0; p < plan->n_params; p++)
		json_object_set_new(o, plan->params[p].name, json_string(sweep_plan_value(plan, config, p)));
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return s;
}

static int insert_runs(struct sweep_store *s, int64_t sweep_id, const struct sweep_plan *plan,
                       const struct sweep_slot *slots, size_t n, size_t first_position)
{
	sqlite3_stmt *st;
	int rc = prepare(
	    s, "INSERT INTO sweep_runs (sweep_id, position, config, rep, params) VALUES (?, ?, ?, ?, ?)",
	    &st);
	if (rc)
		return rc;
	for (size_t i = 0; i < n && !rc; i++) {
		char *params = params_json(plan, slots[i].config);
		sqlite3_bind_int64(st, 1, sweep_id);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)(first_position + i));
		sqlite3_bind_int64(st, 3, (sqlite3_int64)slots[i].config);
		sqlite3_bind_int64(st, 4, slots[i].rep);
		sqlite3_bind_text(st, 5, params, -1, free);
		int r = sqlite3_step(st);
		if (r != SQLITE_DONE)
			rc = store_fail(s, r, "store the sweep's planned runs");
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return rc;
}

static int exec(struct sweep_store *s, const char *sql, const char *what)
{
	int rc = sqlite3_exec(s->conn, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : store_fail(s, rc, what);
}

int sweep_store_create(struct sweep_store *s, const struct sweep_plan *plan, const struct sweep_slot *slots,
                       size_t n, int64_t *sweep_id)
{
	int rc = exec(s, "BEGIN IMMEDIATE", "start a transaction");
	if (rc)
		return rc;
	sqlite3_stmt *st;
	if ((rc = prepare(
	         s,
	         "INSERT INTO sweeps (name, plan_path, plan_hash, plan, seed, started_at) VALUES (?, ?, "
	         "?, ?, ?, " NOW_ISO ")",
	         &st)))
		goto rollback;
	char hash[17];
	sweep_plan_hash(plan, hash);
	sqlite3_bind_text(st, 1, plan->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, plan->path, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, plan->text, (int)plan->text_len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)plan->seed);
	if ((rc = step_done(s, st, "store the sweep")))
		goto rollback;
	*sweep_id = sqlite3_last_insert_rowid(s->conn);
	if ((rc = insert_runs(s, *sweep_id, plan, slots, n, 0)))
		goto rollback;
	return exec(s, "COMMIT", "commit the sweep");
rollback:
	sqlite3_exec(s->conn, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

int sweep_store_append(struct sweep_store *s, int64_t sweep_id, const struct sweep_plan *plan,
                       const struct sweep_slot *slots, size_t n)
{
	int rc = exec(s, "BEGIN IMMEDIATE", "start a transaction");
	if (rc)
		return rc;
	sqlite3_stmt *st;
	if ((rc =
	         prepare(s, "SELECT COALESCE(MAX(position) + 1, 0) FROM sweep_runs WHERE sweep_id = ?", &st)))
		goto rollback;
	sqlite3_bind_int64(st, 1, sweep_id);
	size_t first = sqlite3_step(st) == SQLITE_ROW ? (size_t)sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	if ((rc = insert_runs(s, sweep_id, plan, slots, n, first)))
		goto rollback;
	return exec(s, "COMMIT", "commit the sweep's added runs");
rollback:
	sqlite3_exec(s->conn, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

int sweep_store_find_unfinished(struct sweep_store *s, const char *plan_hash, int64_t *sweep_id)
{
	sqlite3_stmt *st;
	int rc = prepare(
	    s, "SELECT id FROM sweeps WHERE plan_hash = ? AND status != 'completed' ORDER BY id DESC LIMIT 1",
	    &st);
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, plan_hash, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*sweep_id = sqlite3_column_int64(st, 0);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : store_fail(s, rc, "look for the sweep");
	}
	sqlite3_finalize(st);
	return rc;
}

static char *column_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? gops_xstrdup((const char *)t) : NULL;
}

int sweep_store_info(struct sweep_store *s, int64_t sweep_id, struct sweep_info *out)
{
	memset(out, 0, sizeof *out);
	sqlite3_stmt *st;
	int rc = prepare(s, "SELECT id, plan_hash, status, plan_path, name FROM sweeps WHERE id = ?", &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, sweep_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->id = sqlite3_column_int64(st, 0);
		gops_strlcpy(out->plan_hash, (const char *)sqlite3_column_text(st, 1), sizeof out->plan_hash);
		gops_strlcpy(out->status, (const char *)sqlite3_column_text(st, 2), sizeof out->status);
		out->plan_path = column_dup(st, 3);
		out->name = column_dup(st, 4);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		snprintf(s->err, sizeof s->err, "there is no sweep %lld in '%s'", (long long)sweep_id,
		         s->path);
		rc = -ENOENT;
	} else {
		rc = store_fail(s, rc, "read the sweep");
	}
	sqlite3_finalize(st);
	return rc;
}

void sweep_info_release(struct sweep_info *i)
{
	free(i->plan_path);
	free(i->name);
	memset(i, 0, sizeof *i);
}

static const char *const state_names[] = {"pending", "running", "ok", "failed", "skipped"};

const char *sweep_run_state_name(enum sweep_run_state st)
{
	return (unsigned)st < sizeof state_names / sizeof state_names[0] ? state_names[st] : "?";
}

static enum sweep_run_state state_parse(const char *t)
{
	for (size_t i = 0; t && i < sizeof state_names / sizeof state_names[0]; i++)
		if (!strcmp(t, state_names[i]))
			return (enum sweep_run_state)i;
	return SWEEP_RUN_PENDING;
}

int sweep_store_runs(struct sweep_store *s, int64_t sweep_id, struct sweep_run_row **rows, size_t *n)
{
	*rows = NULL;
	*n = 0;
	sqlite3_stmt *st;
	int rc =
	    prepare(s,
	            "SELECT position, config, rep, status, COALESCE(failure, ''), duration_s FROM sweep_runs "
	            "WHERE sweep_id = ? ORDER BY position",
	            &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, sweep_id);
	size_t cap = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			*rows = realloc(*rows, cap * sizeof **rows);
		}
		struct sweep_run_row *r = &(*rows)[(*n)++];
		r->position = (size_t)sqlite3_column_int64(st, 0);
		r->slot.config = (size_t)sqlite3_column_int64(st, 1);
		r->slot.rep = (unsigned)sqlite3_column_int(st, 2);
		r->state = state_parse((const char *)sqlite3_column_text(st, 3));
		gops_strlcpy(r->failure, (const char *)sqlite3_column_text(st, 4), sizeof r->failure);
		r->duration_s =
		    sqlite3_column_type(st, 5) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 5);
	}
	rc = rc == SQLITE_DONE ? 0 : store_fail(s, rc, "read the sweep's runs");
	sqlite3_finalize(st);
	return rc;
}

int sweep_store_run_started(struct sweep_store *s, int64_t sweep_id, size_t position)
{
	sqlite3_stmt *st;
	int rc =
	    prepare(s,
	            "UPDATE sweep_runs SET status = 'running', started_at = " NOW_ISO ", failure = NULL, "
	            "message = NULL, run_id = NULL WHERE sweep_id = ? AND position = ?",
	            &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, sweep_id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)position);
	return step_done(s, st, "mark the run started");
}

int sweep_store_run_finished(struct sweep_store *s, int64_t sweep_id, size_t position,
                             const struct sweep_outcome *o)
{
	sqlite3_stmt *st;
	int rc = prepare(
	    s,
	    "UPDATE sweep_runs SET status = ?, failure = ?, message = ?, run_id = ?, exit_status = ?, "
	    "signal = ?, duration_s = ?, output_tail = ? WHERE sweep_id = ? AND position = ?",
	    &st);
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, sweep_run_state_name(o->state), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, o->failure, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, o->message, -1, SQLITE_STATIC);
	if (o->run_id > 0)
		sqlite3_bind_int64(st, 4, o->run_id);
	if (o->exit_status >= 0)
		sqlite3_bind_int(st, 5, o->exit_status);
	if (o->signal > 0)
		sqlite3_bind_int(st, 6, o->signal);
	if (isfinite(o->duration_s))
		sqlite3_bind_double(st, 7, o->duration_s);
	sqlite3_bind_text(st, 8, o->output_tail, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, sweep_id);
	sqlite3_bind_int64(st, 10, (sqlite3_int64)position);
	return step_done(s, st, "store the run's outcome");
}

int sweep_store_set_status(struct sweep_store *s, int64_t sweep_id, const char *status)
{
	sqlite3_stmt *st;
	int rc =
	    prepare(s,
	            "UPDATE sweeps SET status = ?, ended_at = CASE WHEN ? = 'running' THEN NULL ELSE " NOW_ISO
	            " END WHERE id = ?",
	            &st);
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, sweep_id);
	return step_done(s, st, "store the sweep's status");
}

int sweep_store_find_run(struct sweep_store *s, int pid, int64_t since_realtime_ns, int64_t *run_id)
{
	sqlite3_stmt *st;
	int rc =
	    prepare(s, "SELECT id FROM runs WHERE pid = ? AND started_ns >= ? ORDER BY id DESC LIMIT 1", &st);
	if (rc)
		return rc;
	sqlite3_bind_int(st, 1, pid);
	sqlite3_bind_int64(st, 2, since_realtime_ns);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*run_id = sqlite3_column_int64(st, 0);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : store_fail(s, rc, "look for the run");
	}
	sqlite3_finalize(st);
	return rc;
}

int sweep_store_tag_run(struct sweep_store *s, int64_t run_id, const char *key, const char *value)
{
	sqlite3_stmt *st;
	int rc = prepare(s, "INSERT OR IGNORE INTO run_tags (run_id, key, value) VALUES (?, ?, ?)", &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, run_id);
	sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, value, -1, SQLITE_STATIC);
	return step_done(s, st, "tag the run");
}
