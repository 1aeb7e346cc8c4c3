/* Storing serve-bench: one bench run per rate inside the run that gops_db_run_begin() made,
 * its figures when it ends, and every request (queued, committed in batches). */
#include "store/db_internal.h"
#include "base/util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

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
	sqlite3_stmt *st = db_stmt(db, ST_BENCH_BEGIN, err, errlen);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, a->run_id);
	sqlite3_bind_double(st, 2, a->rate);
	db_bind_text(st, 3, at);
	int rc = db_step_done(db, st, "store a bench run", err, errlen);
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
	int rc = db_call(db, job_bench_begin, &a);
	if (!rc)
		*bench_run_id = a.id;
	return rc;
}

static int job_bench_finish(struct gops_db *db, struct job *j, char *err, size_t errlen)
{
	struct bench_arg *a = j->arg;
	const struct gops_db_bench_result *b = a->b;
	sqlite3_stmt *st = db_stmt(db, ST_BENCH_FINISH, err, errlen);
	if (!st)
		return -EIO;
	db_bind_text(st, 1, gops_run_status_name(b->status));
	db_bind_real(st, 2, b->duration_s);
	sqlite3_bind_int64(st, 3, b->completed);
	sqlite3_bind_int64(st, 4, b->failed);
	db_bind_reals(st, 5, (const double[]){b->request_throughput, b->output_token_throughput}, 2);
	sqlite3_bind_int64(st, 7, b->total_output_tokens);
	const double energy[] = {b->energy_j, b->dynamic_energy_j, b->energy_per_request_j,
	                         b->energy_per_output_token_j};
	db_bind_reals(st, 8, energy, sizeof energy / sizeof energy[0]);
	db_bind_text(st, 12, b->metrics_json ? b->metrics_json : "{}");
	sqlite3_bind_int64(st, 13, a->id);
	int rc = db_step_done(db, st, "store a bench run's result", err, errlen);
	if (!rc && sqlite3_changes(db->conn) != 1) {
		snprintf(err, errlen, "no bench run %lld in '%s'", (long long)a->id, db->path);
		rc = -ENOENT;
	}
	return rc;
}

int gops_db_bench_run_finish(struct gops_db *db, int64_t bench_run_id, const struct gops_db_bench_result *b)
{
	char why[200];
	if (b->metrics_json && db_json_object_check(b->metrics_json, why, sizeof why)) {
		snprintf(db->err, sizeof db->err, "bench run metrics are not a JSON object");
		return -EINVAL;
	}
	struct bench_arg a = {.id = bench_run_id, .b = b};
	return db_call(db, job_bench_finish, &a);
}

static int job_request(struct gops_db *db, struct job *j, char *err, size_t errlen)
{
	const struct gops_db_request *rq = &j->u.request.rq;
	sqlite3_stmt *st = db_stmt(db, ST_REQUEST, err, errlen);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, j->u.request.bench_run_id);
	sqlite3_bind_int64(st, 2, rq->index);
	db_bind_reals(st, 3, (const double[]){rq->scheduled_s, rq->sent_s, rq->first_token_s, rq->end_s}, 4);
	if (rq->tokens_in >= 0)
		sqlite3_bind_int64(st, 7, rq->tokens_in);
	if (rq->tokens_out >= 0)
		sqlite3_bind_int64(st, 8, rq->tokens_out);
	if (rq->http_status)
		sqlite3_bind_int(st, 9, rq->http_status);
	sqlite3_bind_int(st, 10, rq->ok);
	db_bind_text(st, 11, rq->error);
	return db_step_done(db, st, "store a request", err, errlen);
}

int gops_db_add_request(struct gops_db *db, int64_t bench_run_id, const struct gops_db_request *rq)
{
	struct job *j = db_job_new(db, job_request);
	if (!j)
		return -ENOMEM;
	j->u.request.bench_run_id = bench_run_id;
	j->u.request.rq = *rq;
	j->owned = rq->error ? gops_xstrdup(rq->error) : NULL;
	j->u.request.rq.error = j->owned;
	return db_enqueue(db, j);
}
