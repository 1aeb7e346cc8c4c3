/* A sweep's rows in the results database: the sweep with its plan, and one row per planned
 * run with its state (pending, running, ok, failed, skipped), failure class and the id of the
 * run that `greenops run` or `serve-bench` stored for it. Each change is committed before the
 * call returns, so a sweep killed at any point loses at most the run in flight. */
#ifndef GOPS_SWEEP_STORE_H
#define GOPS_SWEEP_STORE_H

#include "sweep/plan.h"

#include <sqlite3.h>
#include <stdint.h>

struct sweep_store;

/* Opens the database at path (creating it and bringing its schema up to date). */
int sweep_store_open(struct sweep_store **out, const char *path, char *err, size_t errlen);
void sweep_store_close(struct sweep_store *s);
const char *sweep_store_error(const struct sweep_store *s);
/* The connection, for read-only queries of the analysis and the report. */
sqlite3 *sweep_store_conn(struct sweep_store *s);

/* A hash of the plan text, to tell a resumed sweep's plan from a changed one. */
void sweep_plan_hash(const struct sweep_plan *plan, char out[17]);

/* Stores a new sweep and its n planned runs (in order) in one transaction. */
int sweep_store_create(struct sweep_store *s, const struct sweep_plan *plan, const struct sweep_slot *slots,
                       size_t n, int64_t *sweep_id);
/* Appends runs at the end of a sweep's list (--until-ci's extra repetitions). */
int sweep_store_append(struct sweep_store *s, int64_t sweep_id, const struct sweep_plan *plan,
                       const struct sweep_slot *slots, size_t n);
/* The newest sweep of a plan with this hash that did not complete; -ENOENT when none. */
int sweep_store_find_unfinished(struct sweep_store *s, const char *plan_hash, int64_t *sweep_id);

struct sweep_info {
	int64_t id;
	char plan_hash[17];
	char status[16];
	char *plan_path;
	char *name;
};
int sweep_store_info(struct sweep_store *s, int64_t sweep_id, struct sweep_info *out);
void sweep_info_release(struct sweep_info *i);

enum sweep_run_state {
	SWEEP_RUN_PENDING,
	SWEEP_RUN_RUNNING,
	SWEEP_RUN_OK,
	SWEEP_RUN_FAILED,
	SWEEP_RUN_SKIPPED,
};
const char *sweep_run_state_name(enum sweep_run_state s);

struct sweep_run_row {
	size_t position;
	struct sweep_slot slot;
	enum sweep_run_state state;
	char failure[16];  /* "" when none */
	double duration_s; /* NAN unknown */
};
/* Every planned run of a sweep, in position order. Caller frees *rows. */
int sweep_store_runs(struct sweep_store *s, int64_t sweep_id, struct sweep_run_row **rows, size_t *n);

int sweep_store_run_started(struct sweep_store *s, int64_t sweep_id, size_t position);

struct sweep_outcome {
	enum sweep_run_state state;
	const char *failure; /* class: exit-status, signal, time-limit, oom, error, service; NULL ok */
	const char *message; /* the line that showed it, or NULL */
	int64_t run_id;      /* 0: no run stored */
	int exit_status;     /* -1 unknown */
	int signal;          /* 0 none */
	double duration_s;
	const char *output_tail;
};
int sweep_store_run_finished(struct sweep_store *s, int64_t sweep_id, size_t position,
                             const struct sweep_outcome *o);
/* Sets the sweep's status ("running", "completed", "interrupted", "failed"). */
int sweep_store_set_status(struct sweep_store *s, int64_t sweep_id, const char *status);

/* The run a child greenops stored: the newest one with its pid started since since_ns. */
int sweep_store_find_run(struct sweep_store *s, int pid, int64_t since_realtime_ns, int64_t *run_id);
/* Adds a tag to a stored run (kept when the run already has the key). */
int sweep_store_tag_run(struct sweep_store *s, int64_t run_id, const char *key, const char *value);

#endif
