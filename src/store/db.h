/* The results database (SQLite): runs, their domains, windows, tags and power samples,
 * idle baselines per host and device, serve-bench runs and their requests. One writer thread
 * owns the connection and commits in batches; every call below may come from any thread.
 * Every function returns 0 or a negative errno; gops_db_error() holds the message. */
#ifndef GOPS_DB_H
#define GOPS_DB_H

#include <greenops/greenops.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gops_db;

/* --- opening ------------------------------------------------------------------------- */

/* Path used when no --db is given: $GREENOPS_DB, else the configured path (below), else
 * $XDG_DATA_HOME/greenops/greenops.db, else $HOME/.local/share/greenops/greenops.db. Caller
 * frees; NULL when there is no home. */
char *gops_db_default_path(void);
/* The path a configuration names (copied; NULL: none), the default after $GREENOPS_DB. */
void gops_db_set_configured_path(const char *path);

#define GOPS_DB_NO_CREATE 0x1 /* -ENOENT when the file does not exist (verbs that only read) */

/* Opens (creating the file and its folders unless GOPS_DB_NO_CREATE) the database at path
 * (NULL: gops_db_default_path()), brings its schema up to date, records this host and starts
 * the writer thread. On failure *out is NULL and err holds the message. */
int gops_db_open(struct gops_db **out, const char *path, unsigned flags, char *err, size_t errlen);
/* Waits until everything queued is committed; reports a queued write that failed. */
int gops_db_flush(struct gops_db *db);
/* Flushes, stops the writer and frees db (NULL is fine). Returns a write error not yet
 * reported, with its message in err (may be NULL). */
int gops_db_close(struct gops_db *db, char *err, size_t errlen);
const char *gops_db_error(const struct gops_db *db);
const char *gops_db_path(const struct gops_db *db);

/* --- runs ---------------------------------------------------------------------------- */

enum gops_run_status {
	GOPS_RUN_RUNNING = 0, /* begun, not finished: still going, or greenops was killed */
	GOPS_RUN_COMPLETED,   /* the child ran to its end (whatever its exit status) */
	GOPS_RUN_INTERRUPTED, /* SIGINT/SIGTERM reached greenops, or the child was killed */
	GOPS_RUN_FAILED,      /* greenops itself failed (could not start the child, sensors lost) */
};
const char *gops_run_status_name(enum gops_run_status s);

struct gops_db_run_info {
	const char *kind; /* "run" (NULL) or "serve-bench" */
	int argc;         /* the measured command (for serve-bench: greenops's own argv) */
	const char *const *argv;
	const char *cwd;             /* NULL: the current directory */
	const struct gops_tag *tags; /* --tag KEY=VALUE */
	size_t n_tags;
	int64_t started_realtime_ns; /* 0: now */
	const char *options_json;    /* the options that shaped the measurement; NULL: {} */
	double carbon_g_per_kwh;     /* NAN: not set */
	double pue;                  /* NAN: not set */
	double price_per_kwh;        /* NAN: not set */
	const char *currency;        /* NULL: not set */
};
/* Sets every field to "not given" (NULLs, zeros, NANs). */
void gops_db_run_info_init(struct gops_db_run_info *info);

/* Inserts the run as `running` and commits before returning, so a greenops killed later
 * still leaves the row. */
int gops_db_run_begin(struct gops_db *db, const struct gops_db_run_info *info, int64_t *run_id);
/* Stores the result (r may be NULL when nothing was measured): totals, domains, windows
 * and their domains, tags (added to those given at begin), warnings; then the exit status,
 * signal (0 none) and status. One transaction, committed before returning. */
int gops_db_run_finish(struct gops_db *db, int64_t run_id, const struct gops_result *r, int exit_status,
                       int signal, enum gops_run_status status);
/* Queues one power sample (committed in batches). counter_j NAN where there was none. */
int gops_db_add_sample(struct gops_db *db, int64_t run_id, double t_s, const char *domain, double watts,
                       double counter_j);
/* A gops_sample_fn for gops_monitor_foreach_sample(): ctx is a struct gops_db_sample_sink. */
struct gops_db_sample_sink {
	struct gops_db *db;
	int64_t run_id;
};
int gops_db_sample_cb(void *ctx, double t_s, const char *domain, double watts, double counter_j);

/* --- idle baselines (this host) ------------------------------------------------------ */

struct gops_db_baseline {
	char domain[32];
	char source[16];
	char kind[16];
	char label[128]; /* the device's label: a different label is a different device */
	double mean_w;
	double spread_w; /* standard deviation of the power samples; NAN unknown */
	double duration_s;
	size_t n_samples;
	int64_t measured_realtime_ns; /* 0: now */
};
/* Stores n baselines for this host in one transaction. */
int gops_db_baselines_store(struct gops_db *db, const struct gops_db_baseline *b, size_t n);
/* The newest baseline of each (domain, source) of this host, in domain order; caller frees
 * *out. n = 0 when none is stored. */
int gops_db_baselines_load(struct gops_db *db, struct gops_db_baseline **out, size_t *n);

/* --- serve-bench --------------------------------------------------------------------- */

/* One rate of a serve-bench sweep, inside the run that gops_db_run_begin() made for it. */
int gops_db_bench_run_begin(struct gops_db *db, int64_t run_id, double rate, int64_t *bench_run_id);

struct gops_db_bench_result {
	enum gops_run_status status;
	double duration_s;
	int64_t completed, failed, total_output_tokens;
	double request_throughput, output_token_throughput; /* NAN: unknown */
	double energy_j, dynamic_energy_j, energy_per_request_j, energy_per_output_token_j;
	const char *metrics_json; /* the whole runs[] entry of the JSON output; NULL: {} */
};
int gops_db_bench_run_finish(struct gops_db *db, int64_t bench_run_id, const struct gops_db_bench_result *b);

struct gops_db_request {
	int64_t index;      /* the request's number in the schedule */
	double scheduled_s; /* seconds from the bench run's start; NAN unknown */
	double sent_s;
	double first_token_s;
	double end_s;
	int64_t tokens_in;  /* -1 unknown */
	int64_t tokens_out; /* -1 unknown */
	int http_status;    /* 0: no response */
	bool ok;
	const char *error; /* NULL when ok */
};
/* Queues one request (committed in batches). */
int gops_db_add_request(struct gops_db *db, int64_t bench_run_id, const struct gops_db_request *rq);

/* --- reading back -------------------------------------------------------------------- */

#define GOPS_DB_LAST (-1) /* run id meaning the newest run */

struct gops_db_run {
	int64_t id;
	char *kind;
	char *hostname;
	size_t argc;
	char **argv;
	char *cwd;
	int64_t started_realtime_ns;
	int64_t ended_realtime_ns; /* 0 unknown */
	enum gops_run_status status;
	bool lost;       /* running, but its greenops is gone (killed, or an earlier boot) */
	int exit_status; /* -1 unknown */
	int signal;      /* 0 none */
	char *version;
	char *options_json;
	double carbon_g_per_kwh, pue, price_per_kwh; /* NAN: not set */
	char *currency;                              /* NULL: not set */
	struct gops_result result;                   /* tags are result.tags */
};
/* Loads run `id` (GOPS_DB_LAST: the newest) with its domains, windows, tags and warnings;
 * -ENOENT when there is no such run. Release with gops_db_run_release(). */
int gops_db_run_load(struct gops_db *db, int64_t id, struct gops_db_run *out);
void gops_db_run_release(struct gops_db_run *r);

/* Which runs: all of them when zeroed. */
struct gops_db_filter {
	int64_t run_id;              /* 0: any; GOPS_DB_LAST: the newest */
	const struct gops_tag *tags; /* every one must match; value NULL: the key is present */
	size_t n_tags;
	size_t limit; /* 0: no limit */
};
/* Calls fn for each matching run, newest first, with the run's totals and tags (no domains
 * or windows). A non-zero return from fn stops and is returned. fn runs on the writer
 * thread while the caller waits: it must not call back into db. */
typedef int (*gops_db_run_fn)(void *ctx, const struct gops_db_run *run);
int gops_db_runs_foreach(struct gops_db *db, const struct gops_db_filter *f, gops_db_run_fn fn, void *ctx);

enum gops_db_table {
	GOPS_DB_TABLE_RUNS,
	GOPS_DB_TABLE_DOMAINS,
	GOPS_DB_TABLE_WINDOWS,
	GOPS_DB_TABLE_SAMPLES,
	GOPS_DB_TABLE_BENCH_RUNS,
	GOPS_DB_TABLE_REQUESTS,
};
/* "runs", "domains", "windows", "samples", "bench-runs", "requests"; -EINVAL otherwise. */
int gops_db_table_parse(const char *name, enum gops_db_table *t);
const char *gops_db_table_name(enum gops_db_table t);
/* Rows of a table for the matching runs, flat, one column per run tag ("tag.KEY") at the end.
 * fn gets the header first (values NULL), then each row (a NULL value is SQL NULL); same
 * threading rule as gops_db_runs_foreach(). */
typedef int (*gops_db_row_fn)(void *ctx, size_t n, const char *const *names, const char *const *values);
int gops_db_export(struct gops_db *db, enum gops_db_table t, const struct gops_db_filter *f,
                   gops_db_row_fn fn, void *ctx);

#endif
