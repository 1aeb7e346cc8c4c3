/* What the files of the results database share and nothing outside src/store sees: the
 * handle, the writer's job queue, the cached statements and the SQLite and JSON helpers.
 * Every function here runs on the writer thread unless it says otherwise. */
#ifndef GOPS_DB_INTERNAL_H
#define GOPS_DB_INTERNAL_H

#include "base/host.h"
#include "store/db.h"

#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Statements prepared once and kept for the connection's life (db_sql.c holds their text). */
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
	ST_BENCH_BEGIN,
	ST_BENCH_FINISH,
	N_STMT,
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
			struct gops_db_request rq; /* rq.error points into owned */
		} request;
	} u;
	char *owned; /* a queued row's own copy of a string, freed with the job */
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

/* --- the writer queue (db_writer.c); called from any thread --------------------------- */

/* Runs fn on the writer thread with j->arg = arg and waits for its commit. */
int db_call(struct gops_db *db, job_fn fn, void *arg);
/* A queued row's job (calloc'd, fn set); NULL with db->err set when out of memory. */
struct job *db_job_new(struct gops_db *db, job_fn fn);
/* Queues j (committed in a later batch); returns a queued row's failure not yet reported. */
int db_enqueue(struct gops_db *db, struct job *j);

/* --- SQLite and JSON helpers (db_sql.c) --------------------------------------------- */

/* The message "cannot WHAT in 'PATH': SQLite's message" in err; rc as a negative errno. */
int db_fail(struct gops_db *db, int rc, const char *what, char *err, size_t errlen);
int db_sqlite_errno(int rc);
int db_exec(struct gops_db *db, const char *sql, const char *what, char *err, size_t errlen);
/* The cached statement id, reset and with no bindings; NULL (err set) when it cannot be
 * prepared. */
sqlite3_stmt *db_stmt(struct gops_db *db, enum stmt id, char *err, size_t errlen);
/* Steps st once (a write, or a SELECT of one row nobody reads) and resets it. */
int db_step_done(struct gops_db *db, sqlite3_stmt *st, const char *what, char *err, size_t errlen);

/* Calls row(ctx, st) for every row of sql, with ?1 bound to param (where sql has a
 * parameter); a non-zero return from row stops and is returned (-ENOMEM: "out of memory" in
 * err). */
typedef int (*db_row_fn)(void *ctx, sqlite3_stmt *st);
int db_each_row(struct gops_db *db, const char *sql, int64_t param, db_row_fn row, void *ctx,
                const char *what, char *err, size_t errlen);
/* Makes room for one more element in *v (n used, *cap allocated); -ENOMEM when it cannot. */
int db_grow(void *v, size_t *cap, size_t n, size_t size);

/* NULL binds SQL NULL; NAN binds NULL (as do the reals of bind_reals). */
void db_bind_text(sqlite3_stmt *st, int i, const char *s);
void db_bind_real(sqlite3_stmt *st, int i, double v);
/* Binds v[0..n) to parameters first, first+1, ... */
void db_bind_reals(sqlite3_stmt *st, int first, const double *v, size_t n);
/* SQL NULL reads as NAN. */
double db_col_real(sqlite3_stmt *st, int i);
/* Columns first, first+1, ... into *out[0..n). */
void db_col_reals(sqlite3_stmt *st, int first, double *const *out, size_t n);
char *db_col_strdup(sqlite3_stmt *st, int i);
/* A device's four columns (domain, source, kind, label from `first`) into fields sized as in
 * struct gops_domain_result and struct gops_db_baseline. */
void db_col_device(sqlite3_stmt *st, int first, char domain[32], char source[16], char kind[16],
                   char label[128]);
void db_col_copy(sqlite3_stmt *st, int i, char *dst, size_t len);

/* The domain result columns as bound by db_bind_domain_result (11 from `first`) and read
 * back by db_fill_domain. */
#define DB_DOMAIN_RESULT_COLUMNS                                                                             \
	"method, summed, energy_j, dynamic_energy_j, idle_power_w, avg_power_w, peak_power_w, "              \
	"uncertainty_j, integrated_energy_j, update_period_s, warnings"
void db_bind_domain_result(sqlite3_stmt *st, int first, const struct gops_domain_result *d);
void db_fill_domain(sqlite3_stmt *st, int first, struct gops_domain_result *d);

/* A JSON array of strings as text (NULL for none: callers bind "[]"); caller frees. */
char *db_json_strings(char *const *v, size_t n);
/* The strings of a JSON array; NULL and *n = 0 for none or not an array. */
char **db_json_parse_strings(const char *text, size_t *n);
/* 0 when text is a JSON object; else -EINVAL with the reason in why. */
int db_json_object_check(const char *text, char *why, size_t len);
void db_free_strings(char **v, size_t n);

/* --- shared between the concerns --------------------------------------------------- */

/* The id of this host's device (db_runs.c), recorded on first sight. */
int db_device_id(struct gops_db *db, const char *domain, const char *source, const char *kind,
                 const char *label, int64_t *id, char *err, size_t errlen);
/* db_device_id, then statement `which` ready for a row about that device; NULL with *rc set
 * (negative errno) on failure. */
sqlite3_stmt *db_device_stmt(struct gops_db *db, const char *domain, const char *source, const char *kind,
                             const char *label, enum stmt which, int64_t *dev, int *rc, char *err,
                             size_t errlen);
/* "WHERE ..." over runs r for the filter, and its parameters bound from i (db_read.c). */
char *db_filter_sql(const struct gops_db_filter *f);
int db_filter_bind(sqlite3_stmt *st, const struct gops_db_filter *f, int i);
/* The filter's parameters and then its limit, bound from 1. */
void db_filter_bind_limited(sqlite3_stmt *st, const struct gops_db_filter *f);
enum gops_run_status db_status_parse(const char *s);

#endif
