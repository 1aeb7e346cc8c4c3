/* The results database's writer: one thread owns the SQLite connection and runs jobs from a
 * queue (redis bio.c style). Samples and requests are queued and committed in batches;
 * everything else waits for its own commit, so a greenops killed at any moment leaves a
 * database that opens and holds every run begun before. Opening (schema, host) and closing
 * are here too. */
#include "store/db_internal.h"
#include "store/db_schema.h"
#include "base/util.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define BATCH_ROWS      1000
#define BATCH_NS        (100 * 1000000LL)
#define QUEUE_MAX       65536 /* queued rows before producers wait: bounds memory when the disk is slow */
#define BUSY_TIMEOUT_MS 10000

/* --- the writer thread --------------------------------------------------------------- */

static int commit(struct gops_db *db, char *err, size_t errlen)
{
	if (!db->in_txn)
		return 0;
	int rc = db_exec(db, "COMMIT", "commit", err, errlen);
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

static void job_free(struct job *j)
{
	free(j->owned);
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
		rc = db_exec(db, "BEGIN IMMEDIATE", "start a transaction", err, errlen);
		if (!rc) {
			db->in_txn = true;
			db->txn_rows = 0;
			db->txn_deadline_ns = gops_now_ns() + BATCH_NS;
		}
	}
	if (!rc && j->sync) {
		/* A failed job leaves nothing half-written, and the batch around it survives. */
		rc = db_exec(db, "SAVEPOINT job", "start a savepoint", err, errlen);
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

int db_call(struct gops_db *db, job_fn fn, void *arg)
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

struct job *db_job_new(struct gops_db *db, job_fn fn)
{
	struct job *j = calloc(1, sizeof *j);
	if (!j) {
		snprintf(db->err, sizeof db->err, "out of memory");
		return NULL;
	}
	j->fn = fn;
	return j;
}

int db_enqueue(struct gops_db *db, struct job *j)
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

static char *configured_path;

void gops_db_set_configured_path(const char *path)
{
	free(configured_path);
	configured_path = path ? gops_xstrdup(path) : NULL;
}

char *gops_db_default_path(void)
{
	const char *p = getenv("GREENOPS_DB");
	if (p && *p)
		return gops_xstrdup(p);
	if (configured_path)
		return gops_xstrdup(configured_path);
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

/* Switches the file to WAL. SQLite's busy handler does not cover this: a process that has
 * begun the switch (holding a read lock) and finds another one midway through creating or
 * switching the same new file gets SQLITE_BUSY at once, so two runs started together on a new
 * database lost one of them. Retried here, as long as the busy timeout. */
static int journal_mode_wal(sqlite3_stmt *st)
{
	int rc, pause_ms = 1;
	for (int waited_ms = 0;; waited_ms += pause_ms, pause_ms = pause_ms < 64 ? pause_ms * 2 : 100) {
		rc = sqlite3_step(st);
		if ((rc & 0xff) != SQLITE_BUSY || waited_ms >= BUSY_TIMEOUT_MS)
			return rc;
		sqlite3_reset(st);
		sqlite3_sleep(pause_ms);
	}
}

static int pragma_setup(struct gops_db *db, char *err, size_t errlen)
{
	sqlite3_busy_timeout(db->conn, BUSY_TIMEOUT_MS);
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db->conn, "PRAGMA journal_mode = WAL", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_fail(db, rc, "open the database", err, errlen);
	rc = journal_mode_wal(st);
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
	return db_exec(db, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON", "configure the database",
	               err, errlen);
}

/* This host's id, recorded first unless the database is only read (where a host never
 * recorded has id 0: none of the runs are its own). */
static int host_register(struct gops_db *db, bool record, char *err, size_t errlen)
{
	int rc = gops_host_identify(&db->host, err, errlen);
	if (rc)
		return rc;
	char now[40];
	gops_iso_time(gops_realtime_ns(), now, sizeof now);
	sqlite3_stmt *st;
	if (record) {
		rc = sqlite3_prepare_v2(
		    db->conn,
		    "INSERT OR IGNORE INTO hosts (hostname, machine_id, first_seen) VALUES (?, ?, ?)", -1,
		    &st, NULL);
		if (rc != SQLITE_OK)
			return db_fail(db, rc, "record this host", err, errlen);
		db_bind_text(st, 1, db->host.hostname);
		db_bind_text(st, 2, db->host.machine_id);
		db_bind_text(st, 3, now);
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			return db_fail(db, rc, "record this host", err, errlen);
	}
	rc = sqlite3_prepare_v2(db->conn, "SELECT id FROM hosts WHERE hostname = ? AND machine_id = ?", -1,
	                        &st, NULL);
	if (rc != SQLITE_OK)
		return db_fail(db, rc, "record this host", err, errlen);
	db_bind_text(st, 1, db->host.hostname);
	db_bind_text(st, 2, db->host.machine_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		db->host_id = sqlite3_column_int64(st, 0);
	else if (rc == SQLITE_DONE && !record)
		db->host_id = 0;
	else
		rc = db_fail(db, rc, "record this host", err, errlen);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || (rc == SQLITE_DONE && !record) ? 0 : rc;
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

static int open_read_write(struct gops_db *db, unsigned flags, char *err, size_t errlen)
{
	int rc = sqlite3_open_v2(db->path, &db->conn,
	                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
	                             ((flags & GOPS_DB_NO_CREATE) ? 0 : SQLITE_OPEN_CREATE),
	                         NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot open the results database '%s': %s", db->path,
		         db->conn ? sqlite3_errmsg(db->conn) : sqlite3_errstr(rc));
		return db_sqlite_errno(rc);
	}
	if ((rc = pragma_setup(db, err, errlen)) < 0)
		return rc;
	if ((rc = gops_db_migrate(db->conn, db->path, gops_db_migrations, gops_db_n_migrations, err,
	                          errlen)) < 0)
		return rc;
	return host_register(db, true, err, errlen);
}

/* "file:" URI of a path: every byte but unreserved ones and '/' percent-encoded. */
static char *file_uri(const char *path, const char *query)
{
	char *u = malloc(5 + 3 * strlen(path) + strlen(query) + 1), *o = u;
	if (!u)
		abort();
	o += sprintf(o, "file:");
	for (const unsigned char *p = (const unsigned char *)path; *p; p++)
		o += isalnum(*p) || strchr("/-._~", *p) ? sprintf(o, "%c", *p) : sprintf(o, "%%%02X", *p);
	strcpy(o, query);
	return u;
}

static int schema_version(sqlite3 *conn, int *v)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(conn, "PRAGMA user_version", -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		*v = sqlite3_column_int(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

/* Opens a database that this process may not write, for reading. A WAL file is read through
 * its shared-memory index, which SQLite creates beside it: where that cannot be made (a
 * folder greenops may not write, a read-only mount, and no writer holding the file open), the
 * file is read as it stands on disk (SQLite's immutable mode). Its schema must be this
 * greenops's: it cannot be brought up to date without writing. */
static int open_read_only(struct gops_db *db, char *err, size_t errlen)
{
	sqlite3_close(db->conn);
	int rc = sqlite3_open_v2(db->path, &db->conn, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
	int v = 0;
	if (rc == SQLITE_OK)
		rc = schema_version(db->conn, &v);
	if ((rc & 0xff) == SQLITE_READONLY || (rc & 0xff) == SQLITE_CANTOPEN) {
		sqlite3_close(db->conn);
		char *uri = file_uri(db->path, "?immutable=1");
		rc = sqlite3_open_v2(uri, &db->conn,
		                     SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI, NULL);
		free(uri);
		if (rc == SQLITE_OK)
			rc = schema_version(db->conn, &v);
	}
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot read the results database '%s': %s", db->path,
		         db->conn ? sqlite3_errmsg(db->conn) : sqlite3_errstr(rc));
		return db_sqlite_errno(rc);
	}
	sqlite3_busy_timeout(db->conn, BUSY_TIMEOUT_MS);
	int latest = gops_db_migrations[gops_db_n_migrations - 1].version;
	if (v != latest) {
		snprintf(err, errlen,
		         v > latest ? "'%s' was written by a newer greenops (schema version %d; this one "
		                      "knows up to %d)"
		                    : "'%s' is read-only and has schema version %d, older than this "
		                      "greenops's %d: open it once with write access to bring it up to date",
		         db->path, v, latest);
		return -EPROTO;
	}
	return host_register(db, false, err, errlen);
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
	int rc = open_read_write(db, flags, err, errlen);
	if ((rc == -EACCES || rc == -ENOENT) && (flags & GOPS_DB_NO_CREATE)) {
		/* A verb that only reads does not need to write: the file or its folder may be
		 * another user's, or on a read-only mount. */
		char first[512];
		snprintf(first, sizeof first, "%s", err);
		if ((rc = open_read_only(db, err, errlen)) == -EACCES || rc == -ENOENT)
			snprintf(err, errlen, "%s", first);
	}
	if (rc < 0)
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
	int rc = db_call(db, job_noop, NULL);
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
