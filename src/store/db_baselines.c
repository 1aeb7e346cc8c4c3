/* Idle baselines of this host's devices (greenops idle): stored per device, and read back as
 * the newest of each (domain, source) for greenops run --idle stored. */
#include "store/db_internal.h"
#include "base/util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct baselines_arg {
	const struct gops_db_baseline *in;
	size_t n, cap;
	struct gops_db_baseline *out;
};

static int job_baselines_store(struct gops_db *db, struct job *j, char *err, size_t errlen)
{
	struct baselines_arg *a = j->arg;
	for (size_t i = 0; i < a->n; i++) {
		const struct gops_db_baseline *b = &a->in[i];
		int64_t dev;
		int rc;
		sqlite3_stmt *st = db_device_stmt(db, b->domain, b->source, b->kind, b->label, ST_BASELINE,
		                                  &dev, &rc, err, errlen);
		if (!st)
			return rc;
		int64_t at_ns = b->measured_realtime_ns ? b->measured_realtime_ns : gops_realtime_ns();
		char at[40];
		gops_iso_time(at_ns, at, sizeof at);
		sqlite3_bind_int64(st, 1, dev);
		db_bind_reals(st, 2, (const double[]){b->mean_w, b->spread_w, b->duration_s}, 3);
		sqlite3_bind_int64(st, 5, (sqlite3_int64)b->n_samples);
		db_bind_text(st, 6, at);
		sqlite3_bind_int64(st, 7, at_ns);
		if ((rc = db_step_done(db, st, "store an idle baseline", err, errlen)))
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
	return db_call(db, job_baselines_store, &a);
}

static int baseline_row(void *ctx, sqlite3_stmt *st)
{
	struct baselines_arg *a = ctx;
	if (db_grow(&a->out, &a->cap, a->n, sizeof *a->out))
		return -ENOMEM;
	struct gops_db_baseline *b = &a->out[a->n++];
	memset(b, 0, sizeof *b);
	db_col_device(st, 0, b->domain, b->source, b->kind, b->label);
	db_col_reals(st, 4, (double *const[]){&b->mean_w, &b->spread_w, &b->duration_s}, 3);
	b->n_samples = (size_t)sqlite3_column_int64(st, 7);
	b->measured_realtime_ns = sqlite3_column_int64(st, 8);
	return 0;
}

static int job_baselines_load(struct gops_db *db, struct job *j, char *err, size_t errlen)
{
	static const char sql[] =
	    "SELECT d.domain, d.source, d.kind, d.label, b.mean_w, b.spread_w, b.duration_s, b.n_samples, "
	    "b.measured_ns FROM baselines b JOIN devices d ON d.id = b.device_id "
	    "WHERE d.host_id = ?1 AND b.id = (SELECT b2.id FROM baselines b2 JOIN devices d2 ON d2.id = "
	    "b2.device_id WHERE d2.host_id = ?1 AND d2.domain = d.domain AND d2.source = d.source "
	    "ORDER BY b2.measured_ns DESC, b2.id DESC LIMIT 1) "
	    "ORDER BY (SELECT MIN(d3.id) FROM devices d3 WHERE d3.host_id = ?1 AND d3.domain = d.domain), "
	    "d.id";
	return db_each_row(db, sql, db->host_id, baseline_row, j->arg, "read idle baselines", err, errlen);
}

int gops_db_baselines_load(struct gops_db *db, struct gops_db_baseline **out, size_t *n)
{
	struct baselines_arg a = {0};
	int rc = db_call(db, job_baselines_load, &a);
	if (rc) {
		free(a.out);
		a.out = NULL;
		a.n = 0;
	}
	*out = a.out;
	*n = a.n;
	return rc;
}
