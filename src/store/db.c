/* The results database: one writer thread owns the SQLite connection and runs jobs from a
 * queue (redis bio.c style). Samples and requests are queued and committed in batches;
 * everything else waits for its own commit, so a greenops killed at any moment leaves a
 * database that opens and holds every run begun before. */
#include "store/db.h"
#include "store/db_schema.h"
#include "base/host.h"
#include "base/util.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BATCH_ROWS      1000
#define BATCH_NS        (100 * 1000000LL)
#define QUEUE_MAX       65536 /* queued rows before producers wait: bounds memory when the disk is slow */
#define BUSY_TIMEOUT_MS 10000

enum stmt {
	ST_SAMPLE,
	ST_REQUEST,
	ST_DEVICE_ADD,
	ST_DEVICE_ID,
	ST_RUN_BEGIN,
	ST_RUN_FINISH,
	ST_RUN_END_ONLY,
	ST_TAG,
	ST_RUN_DOMAIN,
	ST_WINDOW,
	ST_WINDOW_DOMAIN,
	ST_BASELINE,
	N_STMT,
};

#define DOMAIN_RESULT_PARAMS                                                                                 \
	"method, summed, energy_j, dynamic_energy_j, idle_power_w, avg_power_w, "                            \
	"peak_power_w, uncertainty_j, integrated_energy_j, update_period_s, warnings"

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
    [ST_RUN_DOMAIN] = "INSERT INTO run_domains (run_id, position, device_id, domain, " DOMAIN_RESULT_PARAMS
                      ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [ST_WINDOW] = "INSERT INTO windows (run_id, position, name, start_s, end_s, units, energy_j, "
                  "dynamic_energy_j, energy_per_unit_j, uncertainty_j, open, warnings) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [ST_WINDOW_DOMAIN] = "INSERT INTO window_domains (window_id, position, domain, " DOMAIN_RESULT_PARAMS
                         ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [ST_BASELINE] = "INSERT INTO baselines (device_id, mean_w, spread_w, duration_s, n_samples, measured_at, "
                    "measured_ns) VALUES (?, ?, ?, ?, ?, ?, ?)",
};

struct job;
typedef int (*job_fn)(struct gops_db *db, struct job *j, char *err, size_t errlen);

struct job {
	struct job *next;
	job_fn fn;
	bool sync;
	/* sync jobs: the caller waits on db->done and owns everything below */
	bool done;
	int rc;
	char *err;
	size_t errlen;
	void *arg;
	/* queued rows: the payload travels with the job */
	union {
		struct {
			int64_t run_id;
			double t_s, watts, counter_j;
			char domain[32];
		} sample;
		struct {
			int64_t bench_run_id;
			struct gops_db_request rq;
			char *error;
		} request;
	} u;
};

struct gops_db {
	char *path;
	sqlite3 *conn;
	struct gops_host host;
	int64_t host_id;
	pthread_t thread;
	bool thread_started;

	pthread_mutex_t lock;
	pthread_cond_t wake; /* the writer: a job came, or stop */
	pthread_cond_t done; /* callers: a sync job finished, or queue space freed */
	struct job *head, *tail;
	size_t queued;
	bool stopping;
	int async_rc; /* first failure of a queued row not yet reported, under lock */
	size_t async_failed;
	char async_err[256];
	char err[512];

	/* writer thread only */
	bool in_txn;
	int64_t txn_deadline_ns;
	unsigned txn_rows;
	sqlite3_stmt *stmts[N_STMT];
};

/* --- small helpers ------------------------------------------------------------------- */

static int sqlite_errno(int rc)
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

static int db_fail(struct gops_db *db, int rc, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "cannot %s in '%s': %s", what, db->path, sqlite3_errmsg(db->conn));
	return sqlite_errno(rc);
}

/* Replaces bytes that are not UTF-8 (argv and file names need not be) by U+FFFD: JSON
 * holds text only. */
static char *utf8_clean(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(n * 3 + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		int len = *p < 0x80 ? 1 : (*p >> 5) == 6 ? 2 : (*p >> 4) == 14 ? 3 : (*p >> 3) == 30 ? 4 : 0;
		bool valid = len > 0 && !(len == 2 && *p < 0xc2);
		for (int i = 1; valid && i < len; i++)
			valid = (p[i] & 0xc0) == 0x80;
		if (valid) {
			memcpy(out + o, p, (size_t)len);
			o += (size_t)len;
			p += len;
		} else {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			p++;
		}
	}
	out[o] = 0;
	return out;
}

static json_t *jstr(const char *s)
{
	json_t *j = json_string(s ? s : "");
	if (j)
		return j;
	char *c = utf8_clean(s);
	j = c ? json_string(c) : NULL;
	free(c);
	return j ? j : json_string("");
}

/* A JSON array of strings as text; caller frees. */
static char *json_strings(char *const *v, size_t n)
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

static char **json_parse_strings(const char *text, size_t *n)
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

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

/* NAN and infinities from arithmetic on NAN become NULL (SQLite binds NAN as NULL itself). */
static void bind_real(sqlite3_stmt *st, int i, double v)
{
	if (isnan(v))
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_double(st, i, v);
}

static double col_real(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

static char *col_strdup(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);
	return s ? gops_xstrdup((const char *)s) : NULL;
}

static void col_copy(sqlite3_stmt *st, int i, char *dst, size_t len)
{
	const unsigned char *s = sqlite3_column_text(st, i);
	gops_strlcpy(dst, s ? (const char *)s : "", len);
}

static sqlite3_stmt *stmt(struct gops_db *db, enum stmt id, char *err, size_t errlen)
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

static int step_done(struct gops_db *db, sqlite3_stmt *st, const char *what, char *err, size_t errlen)
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

static int exec(struct gops_db *db, const char *sql, const char *what, char *err, size_t errlen)
{
	int rc = sqlite3_exec(db->conn, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : db_fail(db, rc, what, err, errlen);
}

/* --- the writer thread --------------------------------------------------------------- */

static int commit(struct gops_db *db, char *err, size_t errlen)
{
	if (!db->in_txn)
		return 0;
	int rc = exec(db, "COMMIT", "commit", err, errlen);
	if (rc && !sqlite3_get_autocommit(db->conn))
		sqlite3_exec(db->conn, "ROLLBACK", NULL, NULL, NULL);
	db->in_txn = false;
	db->txn_rows = 0;
	return rc;
}

static void async_failed(struct gops_db *db, int rc, const char *msg, size_t rows)
{
	pthread_mutex_lock(&db->lock);
	if (!db->async_rc) {
		db->async_rc = rc;
		gops_strlcpy(db->async_err, msg, sizeof db->async_err);
	}
	db->async_failed += rows;
	pthread_mutex_unlock(&db->lock);
}

static int job_request(struct gops_db *db, struct job *j, char *err, size_t errlen);

static void job_free(struct job *j)
{
	if (j->fn == job_request)
		free(j->u.request.error);
	free(j);
}

static void run_job(struct gops_db *db, struct job *j)
{
	char werr[512] = "";
	char *err = j->sync ? j->err : werr;
	size_t errlen = j->sync ? j->errlen : sizeof werr;
	int rc = 0;
	if (!db->in_txn) {
		/* IMMEDIATE takes the write lock now, so a busy database waits here (busy
		 * timeout) instead of failing half-way through a batch. */
		rc = exec(db, "BEGIN IMMEDIATE", "start a transaction", err, errlen);
		if (!rc) {
			db->in_txn = true;
			db->txn_rows = 0;
			db->txn_deadline_ns = gops_now_ns() + BATCH_NS;
		}
	}
	if (!rc && j->sync) {
		/* A failed job leaves nothing half-written, and the batch around it survives. */
		rc = exec(db, "SAVEPOINT job", "start a savepoint", err, errlen);
		if (!rc) {
			rc = j->fn(db, j, err, errlen);
			if (rc && !sqlite3_get_autocommit(db->conn))
				sqlite3_exec(db->conn, "ROLLBACK TO job", NULL, NULL, NULL);
			if (!sqlite3_get_autocommit(db->conn))
				sqlite3_exec(db->conn, "RELEASE job", NULL, NULL, NULL);
		}
	} else if (!rc) {
		rc = j->fn(db, j, err, errlen);
		db->txn_rows++;
	}
	size_t lost = 0;
	if (db->in_txn && sqlite3_get_autocommit(db->conn)) {
		/* SQLite rolled the whole transaction back (disk full, I/O error): the batch is gone. */
		lost = db->txn_rows;
		db->in_txn = false;
		db->txn_rows = 0;
	}
	if (db->in_txn && (j->sync || db->txn_rows >= BATCH_ROWS || gops_now_ns() >= db->txn_deadline_ns)) {
		char cerr[512];
		int c = commit(db, cerr, sizeof cerr);
		if (c && !rc) {
			rc = c;
			gops_strlcpy(err, cerr, errlen);
		}
	}
	if (j->sync) {
		pthread_mutex_lock(&db->lock);
		j->rc = rc;
		j->done = true;
		pthread_cond_broadcast(&db->done);
		pthread_mutex_unlock(&db->lock);
		return;
	}
	if (rc)
		async_failed(db, rc, err, lost ? lost : 1);
	job_free(j);
}

static void *writer_main(void *arg)
{
	struct gops_db *db = arg;
	pthread_mutex_lock(&db->lock);
	for (;;) {
		while (!db->head && !db->stopping) {
			if (!db->in_txn) {
				pthread_cond_wait(&db->wake, &db->lock);
				continue;
			}
			struct timespec ts = {.tv_sec = db->txn_deadline_ns / 1000000000,
			                      .tv_nsec = db->txn_deadline_ns % 1000000000};
			if (pthread_cond_timedwait(&db->wake, &db->lock, &ts) == ETIMEDOUT) {
				pthread_mutex_unlock(&db->lock);
				char err[512];
				size_t rows = db->txn_rows;
				if (commit(db, err, sizeof err))
					async_failed(db, -EIO, err, rows);
				pthread_mutex_lock(&db->lock);
			}
		}
		if (!db->head)
			break;
		struct job *j = db->head;
		db->head = j->next;
		if (!db->head)
			db->tail = NULL;
		if (!j->sync && db->queued-- == QUEUE_MAX)
			pthread_cond_broadcast(&db->done);
		pthread_mutex_unlock(&db->lock);
		run_job(db, j);
		pthread_mutex_lock(&db->lock);
	}
	pthread_mutex_unlock(&db->lock);
	char err[512];
	size_t rows = db->txn_rows;
	if (commit(db, err, sizeof err))
		async_failed(db, -EIO, err, rows);
	return NULL;
}

/* Takes over the first queued-row failure not yet reported. */
static int take_async_error(struct gops_db *db)
{
	int rc = db->async_rc;
	if (rc) {
		if (db->async_failed > 1)
			snprintf(db->err, sizeof db->err, "%s (%zu rows not stored)", db->async_err,
			         db->async_failed);
		else
			snprintf(db->err, sizeof db->err, "%s", db->async_err);
		db->async_rc = 0;
		db->async_failed = 0;
	}
	return rc;
}

static int call(struct gops_db *db, job_fn fn, void *arg)
{
	char err[512] = "";
	struct job j = {.fn = fn, .sync = true, .arg = arg, .err = err, .errlen = sizeof err};
	pthread_mutex_lock(&db->lock);
	if (db->tail)
		db->tail->next = &j;
	else
		db->head = &j;
	db->tail = &j;
	pthread_cond_signal(&db->wake);
	while (!j.done)
		pthread_cond_wait(&db->done, &db->lock);
	if (j.rc)
		snprintf(db->err, sizeof db->err, "%s", err[0] ? err : strerror(-j.rc));
	pthread_mutex_unlock(&db->lock);
	return j.rc;
}

static int enqueue(struct gops_db *db, struct job *j)
{
	pthread_mutex_lock(&db->lock);
	int rc = take_async_error(db);
	while (db->queued >= QUEUE_MAX && !db->stopping)
		pthread_cond_wait(&db->done, &db->lock);
	if (db->tail)
		db->tail->next = j;
	else
		db->head = j;
	db->tail = j;
	db->queued++;
	pthread_cond_signal(&db->wake);
	pthread_mutex_unlock(&db->lock);
	return rc;
}

/* --- opening and closing ------------------------------------------------------------- */

char *gops_db_default_path(void)
{
	const char *p = getenv("GREENOPS_DB");
	if (p && *p)
		return gops_xstrdup(p);
	/* XDG: a relative XDG_DATA_HOME is invalid and must be ignored. */
	const char *xdg = getenv("XDG_DATA_HOME");
	if (xdg && xdg[0] == '/')
		return gops_xasprintf("%s/greenops/greenops.db", xdg);
	const char *home = getenv("HOME");
	if (home && *home)
		return gops_xasprintf("%s/.local/share/greenops/greenops.db", home);
	return NULL;
}

static int make_parents(const char *path, char *err, size_t errlen)
{
	char *dir = gops_xstrdup(path);
	int rc = 0;
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		struct stat sb;
		if (mkdir(dir, 0777) < 0 && (errno != EEXIST || stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode))) {
			int e = errno == EEXIST ? ENOTDIR : errno;
			rc = -e;
			snprintf(err, errlen, "cannot create folder '%s' for the results database: %s", dir,
			         strerror(e));
			break;
		}
		*p = '/';
	}
	free(dir);
	return rc;
}

static int pragma_setup(struct gops_db *db, char *err, size_t errlen)
{
	sqlite3_busy_timeout(db->conn, BUSY_TIMEOUT_MS);
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db->conn, "PRAGMA journal_mode = WAL", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_fail(db, rc, "open the database", err, errlen);
	rc = sqlite3_step(st);
	bool wal = rc == SQLITE_ROW && !sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), "wal");
	if (rc != SQLITE_ROW) {
		rc = db_fail(db, rc, "open the database", err, errlen);
		sqlite3_finalize(st);
		return rc;
	}
	sqlite3_finalize(st);
	if (!wal) {
		snprintf(err, errlen,
		         "cannot use write-ahead logging for '%s' (a file system without shared "
		         "memory?): use --db with a local path",
		         db->path);
		return -ENOTSUP;
	}
	/* NORMAL in WAL mode: a killed process loses nothing committed; only a power cut can
	 * lose the last commits, never the file's consistency. */
	return exec(db, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON", "configure the database",
	            err, errlen);
}

static int host_register(struct gops_db *db, char *err, size_t errlen)
{
	int rc = gops_host_identify(&db->host, err, errlen);
	if (rc)
		return rc;
	char now[40];
	gops_iso_time(gops_realtime_ns(), now, sizeof now);
	sqlite3_stmt *st;
	rc = sqlite3_prepare_v2(
	    db->conn, "INSERT OR IGNORE INTO hosts (hostname, machine_id, first_seen) VALUES (?, ?, ?)", -1,
	    &st, NULL);
	if (rc != SQLITE_OK)
		return db_fail(db, rc, "record this host", err, errlen);
	bind_text(st, 1, db->host.hostname);
	bind_text(st, 2, db->host.machine_id);
	bind_text(st, 3, now);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_fail(db, rc, "record this host", err, errlen);
	rc = sqlite3_prepare_v2(db->conn, "SELECT id FROM hosts WHERE hostname = ? AND machine_id = ?", -1,
	                        &st, NULL);
	if (rc != SQLITE_OK)
		return db_fail(db, rc, "record this host", err, errlen);
	bind_text(st, 1, db->host.hostname);
	bind_text(st, 2, db->host.machine_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		db->host_id = sqlite3_column_int64(st, 0);
	else
		rc = db_fail(db, rc, "record this host", err, errlen);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : rc;
}

static int start_writer(struct gops_db *db, char *err, size_t errlen)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&db->wake, &ca);
	pthread_condattr_destroy(&ca);
	/* Signals belong to the caller's threads (greenops run forwards SIGINT to its child). */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&db->thread, NULL, writer_main, db);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		snprintf(err, errlen, "cannot start the database writer: %s", strerror(rc));
		pthread_cond_destroy(&db->wake);
		return -rc;
	}
	db->thread_started = true;
	return 0;
}

static void db_free(struct gops_db *db)
{
	for (int i = 0; i < N_STMT; i++)
		sqlite3_finalize(db->stmts[i]);
	sqlite3_close(db->conn);
	pthread_mutex_destroy(&db->lock);
	pthread_cond_destroy(&db->done);
	if (db->thread_started)
		pthread_cond_destroy(&db->wake);
	free(db->path);
	free(db);
}

int gops_db_open(struct gops_db **out, const char *path, unsigned flags, char *err, size_t errlen)
{
	*out = NULL;
	char *owned = path ? gops_xstrdup(path) : gops_db_default_path();
	if (!owned) {
		snprintf(err, errlen,
		         "no place for the results database: HOME is not set (set GREENOPS_DB or "
		         "use --db PATH)");
		return -ENOENT;
	}
	if (!owned[0]) {
		free(owned);
		snprintf(err, errlen, "the results database path is empty");
		return -EINVAL;
	}
	struct stat sb;
	if ((flags & GOPS_DB_NO_CREATE) && stat(owned, &sb) < 0) {
		int e = errno;
		snprintf(err, errlen,
		         e == ENOENT ? "no results database at '%s': nothing has been stored yet"
		                     : "cannot open the results database '%s': %s",
		         owned, strerror(e));
		free(owned);
		return -e;
	}
	if (!(flags & GOPS_DB_NO_CREATE)) {
		int rc = make_parents(owned, err, errlen);
		if (rc) {
			free(owned);
			return rc;
		}
	}
	struct gops_db *db = calloc(1, sizeof *db);
	if (!db) {
		free(owned);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	db->path = owned;
	pthread_mutex_init(&db->lock, NULL);
	pthread_cond_init(&db->done, NULL);
	int rc = sqlite3_open_v2(owned, &db->conn,
	                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
	                             ((flags & GOPS_DB_NO_CREATE) ? 0 : SQLITE_OPEN_CREATE),
	                         NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot open the results database '%s': %s", owned,
		         db->conn ? sqlite3_errmsg(db->conn) : sqlite3_errstr(rc));
		rc = sqlite_errno(rc);
		goto fail;
	}
	if ((rc = pragma_setup(db, err, errlen)) < 0)
		goto fail;
	if ((rc = gops_db_migrate(db->conn, owned, gops_db_migrations, gops_db_n_migrations, err, errlen)) <
	    0)
		goto fail;
	if ((rc = host_register(db, err, errlen)) < 0)
		goto fail;
	if ((rc = start_writer(db, err, errlen)) < 0)
		goto fail;
	*out = db;
	return 0;
fail:
	db_free(db);
	return rc;
}

static int job_noop(struct gops_db *db, struct job *j, char *err, size_t errlen)
{
	return 0;
}

int gops_db_flush(struct gops_db *db)
{
	int rc = call(db, job_noop, NULL);
	pthread_mutex_lock(&db->lock);
	int arc = take_async_error(db);
	pthread_mutex_unlock(&db->lock);
	return rc ? rc : arc;
}

int gops_db_close(struct gops_db *db, char *err, size_t errlen)
{
	if (!db)
		return 0;
	pthread_mutex_lock(&db->lock);
	db->stopping = true;
	pthread_cond_signal(&db->wake);
	pthread_mutex_unlock(&db->lock);
	pthread_join(db->thread, NULL);
	int rc = take_async_error(db);
	if (rc && err)
		snprintf(err, errlen, "%s", db->err);
	db_free(db);
	return rc;
}

const char *gops_db_error(const struct gops_db *db)
{
	return db->err;
}

const char *gops_db_path(const struct gops_db *db)
{
	return db->path;
}

/* --- devices ------------------------------------------------------------------------- */

static int device_id(struct gops_db *db, const char *domain, const char *source, const char *kind,
                     const char *label, int64_t *id, char *err, size_t errlen)
{
	char now[40];
	gops_iso_time(gops_realtime_ns(), now, sizeof now);
	sqlite3_stmt *st = stmt(db, ST_DEVICE_ADD, err, errlen);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, db->host_id);
	bind_text(st, 2, domain);
	bind_text(st, 3, source ? source : "");
	bind_text(st, 4, kind && *kind ? kind : "other");
	bind_text(st, 5, label ? label : "");
	bind_text(st, 6, now);
	int rc = step_done(db, st, "record a device", err, errlen);
	if (rc)
		return rc;
	if (!(st = stmt(db, ST_DEVICE_ID, err, errlen)))
		return -EIO;
	sqlite3_bind_int64(st, 1, db->host_id);
	bind_text(st, 2, domain);
	bind_text(st, 3, source ? source : "");
	bind_text(st, 4, label ? label : "");
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

static enum gops_run_status status_parse(const char *s)
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
		sqlite3_stmt *st = stmt(db, ST_TAG, err, errlen);
		if (!st)
			return -EIO;
		sqlite3_bind_int64(st, 1, run_id);
		bind_text(st, 2, tags[i].key);
		bind_text(st, 3, tags[i].value ? tags[i].value : "");
		int rc = step_done(db, st, "store a tag", err, errlen);
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
	sqlite3_stmt *st = stmt(db, ST_RUN_BEGIN, err, errlen);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, db->host_id);
	bind_text(st, 2, in->kind ? in->kind : "run");
	bind_text(st, 3, a->command);
	bind_text(st, 4, a->cwd);
	sqlite3_bind_int64(st, 5, getpid());
	bind_text(st, 6, db->host.boot_id[0] ? db->host.boot_id : NULL);
	bind_text(st, 7, at);
	sqlite3_bind_int64(st, 8, start);
	bind_text(st, 9, gops_version());
	bind_text(st, 10, in->options_json ? in->options_json : "{}");
	bind_real(st, 11, in->carbon_g_per_kwh);
	bind_real(st, 12, in->pue);
	bind_real(st, 13, in->price_per_kwh);
	bind_text(st, 14, in->currency);
	int rc = step_done(db, st, "store the run", err, errlen);
	if (rc)
		return rc;
	a->id = sqlite3_last_insert_rowid(db->conn);
	return store_tags(db, a->id, in->tags, in->n_tags, err, errlen);
}

int gops_db_run_begin(struct gops_db *db, const struct gops_db_run_info *info, int64_t *run_id)
{
	if (info->options_json) {
		json_error_t je;
		json_t *o = json_loads(info->options_json, 0, &je);
		bool isobj = json_is_object(o);
		json_decref(o);
		if (!isobj) {
			snprintf(db->err, sizeof db->err, "run options are not a JSON object: %s",
			         o ? "another JSON value" : je.text);
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < info->n_tags; i++)
		if (!info->tags[i].key || !info->tags[i].key[0]) {
			snprintf(db->err, sizeof db->err, "a run tag has an empty key");
			return -EINVAL;
		}
	struct begin_arg a = {.info = info};
	a.command =
	    info->argc > 0 ? json_strings((char *const *)info->argv, (size_t)info->argc) : gops_xstrdup("[]");
	if (info->cwd)
		a.cwd = gops_xstrdup(info->cwd);
	else
		a.cwd = getcwd(NULL, 0);
	int rc = a.command ? call(db, job_run_begin, &a) : -ENOMEM;
	free(a.command);
	free(a.cwd);
	if (!rc)
		*run_id = a.id;
	return rc;
}

struct finish_arg {
	int64_t run_id;
	const struct gops_result *r;
	int exit_status, signal;
	enum gops_run_status status;
};

static void bind_domain_result(sqlite3_stmt *st, int first, const struct gops_domain_result *d)
{
	bind_text(st, first, gops_method_name(d->method));
	sqlite3_bind_int(st, first + 1, d->summed);
	bind_real(st, first + 2, d->energy_j);
	bind_real(st, first + 3, d->dynamic_energy_j);
	bind_real(st, first + 4, d->idle_power_w);
	bind_real(st, first + 5, d->avg_power_w);
	bind_real(st, first + 6, d->peak_power_w);
	bind_real(st, first + 7, d->uncertainty_j);
	bind_real(st, first + 8, d->integrated_energy_j);
	bind_real(st, first + 9, d->update_period_s);
	char *w = json_strings(d->warnings, d->n_warnings);
	bind_text(st, first + 10, w ? w : "[]");
	free(w);
}

static int store_domains(struct gops_db *db, int64_t run_id, const struct gops_result *r, char *err,
                         size_t errlen)
{
	for (size_t i = 0; i < r->n_domains; i++) {
		const struct gops_domain_result *d = &r->domains[i];
		int64_t dev;
		int rc = device_id(db, d->name, d->source, d->kind, d->label, &dev, err, errlen);
		if (rc)
			return rc;
		sqlite3_stmt *st = stmt(db, ST_RUN_DOMAIN, err, errlen);
		if (!st)
			return -EIO;
		sqlite3_bind_int64(st, 1, run_id);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)i);
		sqlite3_bind_int64(st, 3, dev);
		bind_text(st, 4, d->name);
		bind_domain_result(st, 5, d);
		if ((rc = step_done(db, st, "store a domain result", err, errlen)))
			return rc;
	}
	return 0;
}

static int store_window(struct gops_db *db, int64_t run_id, size_t pos, const struct gops_window_result *w,
                        char *err, size_t errlen)
{
	sqlite3_stmt *st = stmt(db, ST_WINDOW, err, errlen);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, run_id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)pos);
	bind_text(st, 3, w->name ? w->name : "");
	bind_real(st, 4, w->start_s);
	bind_real(st, 5, w->end_s);
	bind_real(st, 6, w->units);
	bind_real(st, 7, w->energy_j);
	bind_real(st, 8, w->dynamic_energy_j);
	bind_real(st, 9, w->energy_per_unit_j);
	bind_real(st, 10, w->uncertainty_j);
	sqlite3_bind_int(st, 11, w->open);
	char *warn = json_strings(w->warnings, w->n_warnings);
	bind_text(st, 12, warn ? warn : "[]");
	free(warn);
	int rc = step_done(db, st, "store a window", err, errlen);
	if (rc)
		return rc;
	int64_t wid = sqlite3_last_insert_rowid(db->conn);
	for (size_t i = 0; i < w->n_domains; i++) {
		if (!(st = stmt(db, ST_WINDOW_DOMAIN, err, errlen)))
			return -EIO;
		sqlite3_bind_int64(st, 1, wid);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)i);
		bind_text(st, 3, w->domains[i].name);
		bind_domain_result(st, 4, &w->domains[i]);
		if ((rc = step_done(db, st, "store a window's domain", err, errlen)))
			return rc;
	}
	return 0;
}

static int finish_totals(struct gops_db *db, const struct finish_arg *a, char *err, size_t errlen)
{
	const struct gops_result *r = a->r;
	char started[40], ended[40];
	sqlite3_stmt *st = stmt(db, ST_RUN_FINISH, err, errlen);
	if (!st)
		return -EIO;
	int64_t start = r->start_realtime_ns;
	if (start) {
		int64_t end = start + (int64_t)(isnan(r->duration_s) ? 0 : r->duration_s * 1e9);
		gops_iso_time(start, started, sizeof started);
		gops_iso_time(end, ended, sizeof ended);
		bind_text(st, 1, started);
		sqlite3_bind_int64(st, 2, start);
		bind_text(st, 3, ended);
	} else {
		/* No wall-clock start from the monitor: keep the one from begin. */
		gops_iso_time(gops_realtime_ns(), ended, sizeof ended);
		sqlite3_bind_null(st, 1);
		sqlite3_bind_null(st, 2);
		bind_text(st, 3, ended);
	}
	bind_real(st, 4, r->duration_s);
	sqlite3_bind_int(st, 5, a->exit_status);
	if (a->signal)
		sqlite3_bind_int(st, 6, a->signal);
	bind_text(st, 7, gops_run_status_name(a->status));
	bind_real(st, 8, r->energy_j);
	bind_real(st, 9, r->dynamic_energy_j);
	bind_real(st, 10, r->uncertainty_j);
	bind_real(st, 11, r->units);
	bind_real(st, 12, r->energy_per_unit_j);
	bind_text(st, 13, r->idle_source ? r->idle_source : "none");
	sqlite3_bind_int64(st, 14, (sqlite3_int64)r->malformed_control_lines);
	char *w = json_strings(r->warnings, r->n_warnings);
	bind_text(st, 15, w ? w : "[]");
	free(w);
	sqlite3_bind_int64(st, 16, a->run_id);
	return step_done(db, st, "store the run's result", err, errlen);
}

static int job_run_finish(struct gops_db *db, struct job *j, char *err, size_t errlen)
{
	const struct finish_arg *a = j->arg;
	int rc;
	if (!a->r) {
		char ended[40];
		gops_iso_time(gops_realtime_ns(), ended, sizeof ended);
		sqlite3_stmt *st = stmt(db, ST_RUN_END_ONLY, err, errlen);
		if (!st)
			return -EIO;
		bind_text(st, 1, ended);
		sqlite3_bind_int(st, 2, a->exit_status);
		if (a->signal)
			sqlite3_bind_int(st, 3, a->signal);
		bind_text(st, 4, gops_run_status_name(a->status));
		sqlite3_bind_int64(st, 5, a->run_id);
		rc = step_done(db, st, "store the run's end", err, errlen);
	} else {
		rc = finish_totals(db, a, err, errlen);
	}
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
	if ((rc = exec(db, sql, "replace the run's result", err, errlen)))
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
	return call(db, job_run_finish, &a);
}

static int job_sample(struct gops_db *db, struct job *j, char *err, size_t errlen)
{
	sqlite3_stmt *st = stmt(db, ST_SAMPLE, err, errlen);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, j->u.sample.run_id);
	bind_real(st, 2, j->u.sample.t_s);
	bind_text(st, 3, j->u.sample.domain);
	bind_real(st, 4, j->u.sample.watts);
	bind_real(st, 5, j->u.sample.counter_j);
	return step_done(db, st, "store a power sample", err, errlen);
}

int gops_db_add_sample(struct gops_db *db, int64_t run_id, double t_s, const char *domain, double watts,
                       double counter_j)
{
	struct job *j = calloc(1, sizeof *j);
	if (!j) {
		snprintf(db->err, sizeof db->err, "out of memory");
		return -ENOMEM;
	}
	j->fn = job_sample;
	j->u.sample.run_id = run_id;
	j->u.sample.t_s = t_s;
	j->u.sample.watts = watts;
	j->u.sample.counter_j = counter_j;
	gops_strlcpy(j->u.sample.domain, domain ? domain : "", sizeof j->u.sample.domain);
	return enqueue(db, j);
}

int gops_db_sample_cb(void *ctx, double t_s, const char *domain, double watts, double counter_j)
{
	struct gops_db_sample_sink *s = ctx;
	return gops_db_add_sample(s->db, s->run_id, t_s, domain, watts, counter_j);
}

/* --- baselines ----------------------------------------------------------------------- */

struct baselines_arg {
	const struct gops_db_baseline *in;
	size_t n;
	struct gops_db_baseline *out;
};

static int job_baselines_store(struct gops_db *db, struct job *j, char *err, size_t errlen)
{
	struct baselines_arg *a = j->arg;
	for (size_t i = 0; i < a->n; i++) {
		const struct gops_db_baseline *b = &a->in[i];
		int64_t dev;
		int rc = device_id(db, b->domain, b->source, b->kind, b->label, &dev, err, errlen);
		if (rc)
			return rc;
		int64_t at_ns = b->measured_realtime_ns ? b->measured_realtime_ns : gops_realtime_ns();
		char at[40];
		gops_iso_time(at_ns, at, sizeof at);
		sqlite3_stmt *st = stmt(db, ST_BASELINE, err, errlen);
		if (!st)
			return -EIO;
		sqlite3_bind_int64(st, 1, dev);
		bind_real(st, 2, b->mean_w);
		bind_real(st, 3, b->spread_w);
		bind_real(st, 4, b->duration_s);
		sqlite3_bind_int64(st, 5, (sqlite3_int64)b->n_samples);
		bind_text(st, 6, at);
		sqlite3_bind_int64(st, 7, at_ns);
		if ((rc = step_done(db, st, "store an idle baseline", err, errlen)))
			return rc;
	}
	return 0;
}

int gops_db_baselines_store(struct gops_db *db, const struct gops_db_baseline *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!b[i].domain[0] || isnan(b[i].mean_w) || isnan(b[i].duration_s)) {
			snprintf(db->err, sizeof db->err,
			         "idle baseline %zu has no domain, mean power or duration", i);
			return -EINVAL;
		}
	struct baselines_arg a = {.in = b, .n = n};
	return call(db, job_baselines_store, &a);
}

static int job_baselines_load(struct gops_db *db, struct job *j, char *err, size_t errlen)
{
	struct baselines_arg *a = j->arg;
	static const char sql[] =
	    "SELECT d.domain, d.source, d.kind, d.label, b.mean_w, b.spread_w, b.duration_s, b.n_samples, "
	    "b.measured_ns FROM baselines b JOIN devices d ON d.id = b.device_id "
	    "WHERE d.host_id = ?1 AND b.id = (SELECT b2.id FROM baselines b2 JOIN devices d2 ON d2.id = "
	    "b2.device_id WHERE d2.host_id = ?1 AND d2.domain = d.domain AND d2.source = d.source "
	    "ORDER BY b2.measured_ns DESC, b2.id DESC LIMIT 1) "
	    "ORDER BY (SELECT MIN(d3.id) FROM devices d3 WHERE d3.host_id = ?1 AND d3.domain = d.domain), "
	    "d.id";
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db->conn, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_fail(db, rc, "read idle baselines", err, errlen);
	sqlite3_bind_int64(st, 1, db->host_id);
	size_t cap = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (a->n == cap) {
			cap = cap ? cap * 2 : 8;
			struct gops_db_baseline *v = realloc(a->out, cap * sizeof *v);
			if (!v) {
				rc = SQLITE_NOMEM;
				break;
			}
			a->out = v;
		}
		struct gops_db_baseline *b = &a->out[a->n++];
		memset(b, 0, sizeof *b);
		col_copy(st, 0, b->domain, sizeof b->domain);
		col_copy(st, 1, b->source, sizeof b->source);
		col_copy(st, 2, b->kind, sizeof b->kind);
		col_copy(st, 3, b->label, sizeof b->label);
		b->mean_w = col_real(st, 4);
		b->spread_w = col_real(st, 5);
		b->duration_s = col_real(st, 6);
		b->n_samples = (size_t)sqlite3_column_int64(st, 7);
		b->measured_realtime_ns = sqlite3_column_int64(st, 8);
	}
	rc = rc == SQLITE_DONE ? 0 : db_fail(db, rc, "read idle baselines", err, errlen);
	sqlite3_finalize(st);
	return rc;
}

int gops_db_baselines_load(struct gops_db *db, struct gops_db_baseline **out, size_t *n)
{
	struct baselines_arg a = {0};
	int rc = call(db, job_baselines_load, &a);
	if (rc) {
		free(a.out);
		a.out = NULL;
		a.n = 0;
	}
	*out = a.out;
	*n = a.n;
	return rc;
}

/* --- serve-bench --------------------------------------------------------------------- */

struct bench_arg {
	int64_t run_id, id;
	double rate;
	const struct gops_db_bench_result *b;
};

static int job_bench_begin(struct gops_db *db, struct job *j, char *err, size_t errlen)
{
	struct bench_arg *a = j->arg;
	char at[40];
	gops_iso_time(gops_realtime_ns(), at, sizeof at);
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(
	    db->conn,
	    "INSERT INTO bench_runs (run_id, position, rate, started_at) VALUES (?1, "
	    "(SELECT COALESCE(MAX(position), 0) + 1 FROM bench_runs WHERE run_id = ?1), ?2, ?3)",
	    -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_fail(db, rc, "store a bench run", err, errlen);
	sqlite3_bind_int64(st, 1, a->run_id);
	sqlite3_bind_double(st, 2, a->rate);
	bind_text(st, 3, at);
	rc = sqlite3_step(st);
	rc = rc == SQLITE_DONE ? 0 : db_fail(db, rc, "store a bench run", err, errlen);
	sqlite3_finalize(st);
	a->id = sqlite3_last_insert_rowid(db->conn);
	return rc;
}

int gops_db_bench_run_begin(struct gops_db *db, int64_t run_id, double rate, int64_t *bench_run_id)
{
	if (isnan(rate) || rate <= 0) {
		snprintf(db->err, sizeof db->err, "a bench run's rate must be above 0 (or infinite)");
		return -EINVAL;
	}
	struct bench_arg a = {.run_id = run_id, .rate = rate};
	int rc = call(db, job_bench_begin, &a);
	if (!rc)
		*bench_run_id = a.id;
	return rc;
}

static int job_bench_finish(struct gops_db *db, struct job *j, char *err, size_t errlen)
{
	struct bench_arg *a = j->arg;
	const struct gops_db_bench_result *b = a->b;
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(
	    db->conn,
	    "UPDATE bench_runs SET status = ?, duration_s = ?, completed = ?, failed = ?, request_throughput "
	    "= ?, output_token_throughput = ?, total_output_tokens = ?, energy_j = ?, dynamic_energy_j = ?, "
	    "energy_per_request_j = ?, energy_per_output_token_j = ?, metrics = ? WHERE id = ?",
	    -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_fail(db, rc, "store a bench run's result", err, errlen);
	bind_text(st, 1, gops_run_status_name(b->status));
	bind_real(st, 2, b->duration_s);
	sqlite3_bind_int64(st, 3, b->completed);
	sqlite3_bind_int64(st, 4, b->failed);
	bind_real(st, 5, b->request_throughput);
	bind_real(st, 6, b->output_token_throughput);
	sqlite3_bind_int64(st, 7, b->total_output_tokens);
	bind_real(st, 8, b->energy_j);
	bind_real(st, 9, b->dynamic_energy_j);
	bind_real(st, 10, b->energy_per_request_j);
	bind_real(st, 11, b->energy_per_output_token_j);
	bind_text(st, 12, b->metrics_json ? b->metrics_json : "{}");
	sqlite3_bind_int64(st, 13, a->id);
	rc = sqlite3_step(st);
	rc = rc == SQLITE_DONE ? 0 : db_fail(db, rc, "store a bench run's result", err, errlen);
	sqlite3_finalize(st);
	if (!rc && sqlite3_changes(db->conn) != 1) {
		snprintf(err, errlen, "no bench run %lld in '%s'", (long long)a->id, db->path);
		rc = -ENOENT;
	}
	return rc;
}

int gops_db_bench_run_finish(struct gops_db *db, int64_t bench_run_id, const struct gops_db_bench_result *b)
{
	if (b->metrics_json) {
		json_t *o = json_loads(b->metrics_json, 0, NULL);
		bool isobj = json_is_object(o);
		json_decref(o);
		if (!isobj) {
			snprintf(db->err, sizeof db->err, "bench run metrics are not a JSON object");
			return -EINVAL;
		}
	}
	struct bench_arg a = {.id = bench_run_id, .b = b};
	return call(db, job_bench_finish, &a);
}

static int job_request(struct gops_db *db, struct job *j, char *err, size_t errlen)
{
	const struct gops_db_request *rq = &j->u.request.rq;
	sqlite3_stmt *st = stmt(db, ST_REQUEST, err, errlen);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, j->u.request.bench_run_id);
	sqlite3_bind_int64(st, 2, rq->index);
	bind_real(st, 3, rq->scheduled_s);
	bind_real(st, 4, rq->sent_s);
	bind_real(st, 5, rq->first_token_s);
	bind_real(st, 6, rq->end_s);
	if (rq->tokens_in >= 0)
		sqlite3_bind_int64(st, 7, rq->tokens_in);
	if (rq->tokens_out >= 0)
		sqlite3_bind_int64(st, 8, rq->tokens_out);
	if (rq->http_status)
		sqlite3_bind_int(st, 9, rq->http_status);
	sqlite3_bind_int(st, 10, rq->ok);
	bind_text(st, 11, j->u.request.error);
	return step_done(db, st, "store a request", err, errlen);
}

int gops_db_add_request(struct gops_db *db, int64_t bench_run_id, const struct gops_db_request *rq)
{
	struct job *j = calloc(1, sizeof *j);
	if (!j) {
		snprintf(db->err, sizeof db->err, "out of memory");
		return -ENOMEM;
	}
	j->fn = job_request;
	j->u.request.bench_run_id = bench_run_id;
	j->u.request.rq = *rq;
	j->u.request.rq.error = NULL;
	j->u.request.error = rq->error ? gops_xstrdup(rq->error) : NULL;
	return enqueue(db, j);
}

/* --- reading back -------------------------------------------------------------------- */

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

static void fill_run(struct gops_db *db, sqlite3_stmt *st, struct gops_db_run *o)
{
	memset(o, 0, sizeof *o);
	o->id = sqlite3_column_int64(st, 0);
	o->kind = col_strdup(st, 1);
	o->hostname = col_strdup(st, 2);
	o->argv = json_parse_strings((const char *)sqlite3_column_text(st, 3), &o->argc);
	o->cwd = col_strdup(st, 4);
	o->started_realtime_ns = sqlite3_column_int64(st, 5);
	o->ended_realtime_ns = parse_iso_ns((const char *)sqlite3_column_text(st, 6));
	o->exit_status = sqlite3_column_type(st, 8) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 8);
	o->signal = sqlite3_column_int(st, 9);
	o->status = status_parse((const char *)sqlite3_column_text(st, 10));
	o->lost = o->status == GOPS_RUN_RUNNING && run_lost(db, st);
	o->version = col_strdup(st, 11);
	o->options_json = col_strdup(st, 12);
	struct gops_result *r = &o->result;
	r->start_realtime_ns = o->started_realtime_ns;
	r->duration_s = col_real(st, 7);
	r->energy_j = col_real(st, 13);
	r->dynamic_energy_j = col_real(st, 14);
	r->uncertainty_j = col_real(st, 15);
	r->units = col_real(st, 16);
	r->energy_per_unit_j = col_real(st, 17);
	r->idle_source = idle_source_static((const char *)sqlite3_column_text(st, 18));
	o->carbon_g_per_kwh = col_real(st, 19);
	o->pue = col_real(st, 20);
	o->price_per_kwh = col_real(st, 21);
	o->currency = col_strdup(st, 22);
	r->malformed_control_lines = (size_t)sqlite3_column_int64(st, 23);
	r->warnings = json_parse_strings((const char *)sqlite3_column_text(st, 24), &r->n_warnings);
}

static int load_tags(struct gops_db *db, struct gops_db_run *o, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db->conn, "SELECT key, value FROM run_tags WHERE run_id = ? ORDER BY key",
	                            -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_fail(db, rc, "read tags", err, errlen);
	sqlite3_bind_int64(st, 1, o->id);
	size_t cap = 0;
	struct gops_result *r = &o->result;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (r->n_tags == cap) {
			cap = cap ? cap * 2 : 4;
			struct gops_tag *v = realloc(r->tags, cap * sizeof *v);
			if (!v)
				abort();
			r->tags = v;
		}
		r->tags[r->n_tags].key = col_strdup(st, 0);
		r->tags[r->n_tags++].value = col_strdup(st, 1);
	}
	rc = rc == SQLITE_DONE ? 0 : db_fail(db, rc, "read tags", err, errlen);
	sqlite3_finalize(st);
	return rc;
}

#define DOMAIN_RESULT_SELECT                                                                                 \
	"method, summed, energy_j, dynamic_energy_j, idle_power_w, avg_power_w, peak_power_w, "              \
	"uncertainty_j, "                                                                                    \
	"integrated_energy_j, update_period_s, warnings"

static enum gops_method method_parse(const char *s)
{
	for (int m = GOPS_METHOD_NONE; m <= GOPS_METHOD_BRIDGED; m++)
		if (s && !strcmp(s, gops_method_name((enum gops_method)m)))
			return (enum gops_method)m;
	return GOPS_METHOD_NONE;
}

/* Columns first..first+10 as DOMAIN_RESULT_SELECT. */
static void fill_domain(sqlite3_stmt *st, int first, struct gops_domain_result *d)
{
	d->method = method_parse((const char *)sqlite3_column_text(st, first));
	d->summed = sqlite3_column_int(st, first + 1) != 0;
	d->energy_j = col_real(st, first + 2);
	d->dynamic_energy_j = col_real(st, first + 3);
	d->idle_power_w = col_real(st, first + 4);
	d->avg_power_w = col_real(st, first + 5);
	d->peak_power_w = col_real(st, first + 6);
	d->uncertainty_j = col_real(st, first + 7);
	d->integrated_energy_j = col_real(st, first + 8);
	d->update_period_s =
	    sqlite3_column_type(st, first + 9) == SQLITE_NULL ? 0 : sqlite3_column_double(st, first + 9);
	d->warnings = json_parse_strings((const char *)sqlite3_column_text(st, first + 10), &d->n_warnings);
}

static int load_domains(struct gops_db *db, struct gops_db_run *o, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db->conn,
	                            "SELECT rd.domain, d.source, d.kind, d.label, " DOMAIN_RESULT_SELECT
	                            " FROM run_domains rd JOIN devices d ON d.id = rd.device_id "
	                            "WHERE rd.run_id = ? ORDER BY rd.position",
	                            -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_fail(db, rc, "read domain results", err, errlen);
	sqlite3_bind_int64(st, 1, o->id);
	struct gops_result *r = &o->result;
	size_t cap = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (r->n_domains == cap) {
			cap = cap ? cap * 2 : 4;
			struct gops_domain_result *v = realloc(r->domains, cap * sizeof *v);
			if (!v)
				abort();
			r->domains = v;
		}
		struct gops_domain_result *d = &r->domains[r->n_domains++];
		memset(d, 0, sizeof *d);
		col_copy(st, 0, d->name, sizeof d->name);
		col_copy(st, 1, d->source, sizeof d->source);
		col_copy(st, 2, d->kind, sizeof d->kind);
		col_copy(st, 3, d->label, sizeof d->label);
		fill_domain(st, 4, d);
	}
	rc = rc == SQLITE_DONE ? 0 : db_fail(db, rc, "read domain results", err, errlen);
	sqlite3_finalize(st);
	return rc;
}

static int load_windows(struct gops_db *db, struct gops_db_run *o, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(
	    db->conn,
	    "SELECT w.id, w.name, w.start_s, w.end_s, w.units, w.energy_j, "
	    "w.dynamic_energy_j, w.energy_per_unit_j, w.uncertainty_j, w.open, w.warnings, "
	    "(SELECT COUNT(*) FROM window_domains wd WHERE wd.window_id = w.id) "
	    "FROM windows w WHERE w.run_id = ? ORDER BY w.position",
	    -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_fail(db, rc, "read windows", err, errlen);
	sqlite3_stmt *dst;
	rc = sqlite3_prepare_v2(db->conn,
	                        "SELECT domain, " DOMAIN_RESULT_SELECT
	                        " FROM window_domains WHERE window_id = ? ORDER BY position",
	                        -1, &dst, NULL);
	if (rc != SQLITE_OK) {
		sqlite3_finalize(st);
		return db_fail(db, rc, "read windows", err, errlen);
	}
	sqlite3_bind_int64(st, 1, o->id);
	struct gops_result *r = &o->result;
	size_t cap = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (r->n_windows == cap) {
			cap = cap ? cap * 2 : 8;
			struct gops_window_result *v = realloc(r->windows, cap * sizeof *v);
			if (!v)
				abort();
			r->windows = v;
		}
		struct gops_window_result *w = &r->windows[r->n_windows++];
		memset(w, 0, sizeof *w);
		w->name = col_strdup(st, 1);
		w->start_s = col_real(st, 2);
		w->end_s = col_real(st, 3);
		w->units = col_real(st, 4);
		w->energy_j = col_real(st, 5);
		w->dynamic_energy_j = col_real(st, 6);
		w->energy_per_unit_j = col_real(st, 7);
		w->uncertainty_j = col_real(st, 8);
		w->open = sqlite3_column_int(st, 9) != 0;
		w->warnings = json_parse_strings((const char *)sqlite3_column_text(st, 10), &w->n_warnings);
		size_t nd = (size_t)sqlite3_column_int64(st, 11);
		w->domains = nd ? calloc(nd, sizeof *w->domains) : NULL;
		if (nd && !w->domains)
			abort();
		sqlite3_reset(dst);
		sqlite3_bind_int64(dst, 1, sqlite3_column_int64(st, 0));
		while (w->n_domains < nd && sqlite3_step(dst) == SQLITE_ROW) {
			struct gops_domain_result *d = &w->domains[w->n_domains++];
			col_copy(dst, 0, d->name, sizeof d->name);
			fill_domain(dst, 1, d);
			/* Source, kind and label are the run's, for the domain of that name. */
			for (size_t k = 0; k < r->n_domains; k++)
				if (!strcmp(r->domains[k].name, d->name)) {
					memcpy(d->source, r->domains[k].source, sizeof d->source);
					memcpy(d->kind, r->domains[k].kind, sizeof d->kind);
					memcpy(d->label, r->domains[k].label, sizeof d->label);
				}
		}
	}
	rc = rc == SQLITE_DONE ? 0 : db_fail(db, rc, "read windows", err, errlen);
	sqlite3_finalize(dst);
	sqlite3_finalize(st);
	return rc;
}

struct load_arg {
	int64_t id;
	struct gops_db_run *out;
};

static int job_run_load(struct gops_db *db, struct job *j, char *err, size_t errlen)
{
	struct load_arg *a = j->arg;
	sqlite3_stmt *st;
	const char *sql = a->id == GOPS_DB_LAST
	                      ? "SELECT " RUN_COLUMNS " FROM runs r JOIN hosts h ON h.id = r.host_id "
	                        "ORDER BY r.id DESC LIMIT 1"
	                      : "SELECT " RUN_COLUMNS
	                        " FROM runs r JOIN hosts h ON h.id = r.host_id WHERE r.id = ?";
	int rc = sqlite3_prepare_v2(db->conn, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_fail(db, rc, "read a run", err, errlen);
	if (a->id != GOPS_DB_LAST)
		sqlite3_bind_int64(st, 1, a->id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		fill_run(db, st, a->out);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		if (a->id == GOPS_DB_LAST)
			snprintf(err, errlen, "no runs stored in '%s'", db->path);
		else
			snprintf(err, errlen, "no run %lld in '%s'", (long long)a->id, db->path);
		rc = -ENOENT;
	} else {
		rc = db_fail(db, rc, "read a run", err, errlen);
	}
	sqlite3_finalize(st);
	if (rc)
		return rc;
	if ((rc = load_tags(db, a->out, err, errlen)) || (rc = load_domains(db, a->out, err, errlen)) ||
	    (rc = load_windows(db, a->out, err, errlen)))
		return rc;
	return 0;
}

int gops_db_run_load(struct gops_db *db, int64_t id, struct gops_db_run *out)
{
	memset(out, 0, sizeof *out);
	struct load_arg a = {id, out};
	int rc = call(db, job_run_load, &a);
	if (rc)
		gops_db_run_release(out);
	return rc;
}

static void free_strings(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void domains_free(struct gops_domain_result *d, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free_strings(d[i].warnings, d[i].n_warnings);
	free(d);
}

void gops_db_run_release(struct gops_db_run *o)
{
	struct gops_result *r = &o->result;
	domains_free(r->domains, r->n_domains);
	for (size_t i = 0; i < r->n_windows; i++) {
		free(r->windows[i].name);
		domains_free(r->windows[i].domains, r->windows[i].n_domains);
		free_strings(r->windows[i].warnings, r->windows[i].n_warnings);
	}
	free(r->windows);
	for (size_t i = 0; i < r->n_tags; i++) {
		free(r->tags[i].key);
		free(r->tags[i].value);
	}
	free(r->tags);
	free_strings(r->warnings, r->n_warnings);
	free_strings(o->argv, o->argc);
	free(o->kind);
	free(o->hostname);
	free(o->cwd);
	free(o->version);
	free(o->options_json);
	free(o->currency);
	memset(o, 0, sizeof *o);
}

/* The filter as SQL: "WHERE ..." over runs r, with its parameters bound from `first`. */
static char *filter_sql(const struct gops_db_filter *f)
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

static int filter_bind(sqlite3_stmt *st, const struct gops_db_filter *f, int i)
{
	if (f && f->run_id > 0)
		sqlite3_bind_int64(st, i++, f->run_id);
	for (size_t k = 0; f && k < f->n_tags; k++) {
		bind_text(st, i++, f->tags[k].key);
		if (f->tags[k].value)
			bind_text(st, i++, f->tags[k].value);
	}
	return i;
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
	char *where = filter_sql(a->f);
	char *sql = gops_xasprintf("SELECT " RUN_COLUMNS " FROM runs r JOIN hosts h ON h.id = r.host_id %s "
	                           "ORDER BY r.id DESC%s",
	                           where, a->f && a->f->limit ? " LIMIT ?" : "");
	free(where);
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db->conn, sql, -1, &st, NULL);
	free(sql);
	if (rc != SQLITE_OK)
		return db_fail(db, rc, "list runs", err, errlen);
	int i = filter_bind(st, a->f, 1);
	if (a->f && a->f->limit)
		sqlite3_bind_int64(st, i, (sqlite3_int64)a->f->limit);
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
	int rc = call(db, job_runs_foreach, &a);
	return rc ? rc : a.user_rc;
}

/* --- export -------------------------------------------------------------------------- */

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
    [GOPS_DB_TABLE_SAMPLES] = "SELECT x.run_id, x.t_s, x.domain, x.watts, x.counter_j FROM samples x JOIN "
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
	int i = filter_bind(st, a->f, 1);
	if (a->f && a->f->limit)
		sqlite3_bind_int64(st, i, (sqlite3_int64)a->f->limit);
	size_t cap = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			char **v = realloc(*keys, cap * sizeof *v);
			if (!v)
				abort();
			*keys = v;
		}
		(*keys)[(*n)++] = col_strdup(st, 0);
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
			vals[hit - keys] = col_strdup(tq, 1);
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
	free_strings(tagnames, nkeys);
	free_strings(tagvals, nkeys);
	free(names);
	free(values);
	return rc;
}

static int job_export(struct gops_db *db, struct job *j, char *err, size_t errlen)
{
	struct export_arg *a = j->arg;
	char *where = filter_sql(a->f);
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
		int i = filter_bind(st, a->f, 1);
		i = filter_bind(st, a->f, i);
		if (a->f && a->f->limit)
			sqlite3_bind_int64(st, i, (sqlite3_int64)a->f->limit);
		rc = export_rows(db, a, st, keys, nkeys, err, errlen);
	}
	sqlite3_finalize(st);
	free_strings(keys, nkeys);
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
	int rc = call(db, job_export, &a);
	return rc ? rc : a.user_rc;
}
