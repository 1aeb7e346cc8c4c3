/* serve-bench results into the database (src/store/db.h), so sweeps can be listed, shown,
 * exported and analysed (`greenops analyze --table bench-runs`) like runs. */
#include "cli/serve_bench_db.h"
#include "cli/commands.h"
#include "store/db.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double rel_s(int64_t t, int64_t origin)
{
	return t ? (double)(t - origin) / 1e9 : NAN;
}

static int store_rate(struct gops_db *db, int64_t run_id, const struct lg_bench_run *br, json_t *metrics,
                      int64_t *bench_id)
{
	int64_t id;
	double rate = br->rate.rate;
	if (gops_db_bench_run_begin(db, run_id, isnan(rate) ? -1 : rate, &id) < 0)
		return -1;
	if (bench_id)
		*bench_id = id;
	const struct lg_run *run = &br->run;
	int64_t origin = run->n > run->n_warmup ? run->rec[run->n_warmup].t_sched : 0;
	for (size_t k = 0; k < run->n; k++) {
		const struct lg_record *r = &run->rec[k];
		struct gops_db_request q = {
		    .index = (int64_t)k,
		    .scheduled_s = rel_s(r->t_sched, origin),
		    .sent_s = rel_s(r->t_sent, origin),
		    .first_token_s = rel_s(r->t_first, origin),
		    .end_s = rel_s(r->t_end, origin),
		    .tokens_in = r->prompt_tokens,
		    .tokens_out = r->status == LG_OK ? r->output_tokens : -1,
		    .http_status = r->http_status,
		    .ok = r->status == LG_OK,
		    .error = r->status == LG_OK        ? NULL
		             : r->error                ? r->error
		             : r->status == LG_PENDING ? "not sent"
		                                       : "failed",
		};
		if (gops_db_add_request(db, id, &q) < 0)
			return -1;
	}
	char *mj = metrics ? json_dumps(metrics, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
	const struct lg_summary *s = &br->sum;
	struct gops_db_bench_result res = {
	    .status = GOPS_RUN_COMPLETED,
	    .duration_s = s->duration_s,
	    .completed = (int64_t)s->completed,
	    .failed = (int64_t)s->failed,
	    .total_output_tokens = s->total_output_tokens,
	    .request_throughput = s->request_throughput,
	    .output_token_throughput = s->output_token_throughput,
	    .energy_j = br->energy.valid ? br->energy.energy_j : NAN,
	    .dynamic_energy_j = br->energy.valid ? br->energy.dynamic_energy_j : NAN,
	    .energy_per_request_j = lg_run_energy_per_request(br, false, false),
	    .energy_per_output_token_j = lg_run_energy_per_token(br, false, false),
	    .metrics_json = mj,
	};
	int rc = gops_db_bench_run_finish(db, id, &res);
	free(mj);
	return rc < 0 ? -1 : 0;
}

int serve_bench_db_begin(struct serve_bench_db *s, const char *db_path, int argc, char **argv)
{
	char err[512];
	s->run_id = 0;
	if (gops_db_open(&s->db, db_path, 0, err, sizeof err) < 0) {
		s->db = NULL;
		return cmd_error("serve-bench", "%s", err), -1;
	}
	struct gops_db_run_info in;
	gops_db_run_info_init(&in);
	in.kind = "serve-bench";
	in.argc = argc;
	in.argv = (const char *const *)argv;
	if (gops_db_run_begin(s->db, &in, &s->run_id) < 0) {
		cmd_error("serve-bench", "cannot store the run in '%s': %s", gops_db_path(s->db),
		          gops_db_error(s->db));
		gops_db_close(s->db, NULL, 0);
		s->db = NULL;
		return -1;
	}
	return 0;
}

long long serve_bench_db_finish(struct serve_bench_db *s, const struct lg_bench *b, json_t *j,
                                const gops_monitor *mon, int exit_status, int64_t *bench_ids)
{
	struct gops_db *db = s->db;
	if (!db)
		return -1;
	s->db = NULL;
	const struct gops_result *r = mon ? gops_monitor_result(mon) : NULL;
	int rc = 0;
	json_t *runs = json_object_get(j, "runs");
	for (size_t i = 0; rc == 0 && i < b->n_runs; i++)
		rc = store_rate(db, s->run_id, &b->runs[i], json_array_get(runs, i),
		                bench_ids ? &bench_ids[i] : NULL);
	enum gops_run_status st = b->stopped  ? GOPS_RUN_INTERRUPTED
	                          : b->n_runs ? GOPS_RUN_COMPLETED
	                                      : GOPS_RUN_FAILED;
	if (rc == 0)
		rc = gops_db_run_finish(db, s->run_id, r, exit_status, 0, st);
	if (rc < 0)
		cmd_error("serve-bench", "cannot store the results in '%s': %s", gops_db_path(db),
		          gops_db_error(db));
	char err[512];
	if (gops_db_close(db, err, sizeof err) < 0 && rc == 0) {
		cmd_error("serve-bench", "%s", err);
		rc = -1;
	}
	return rc < 0 ? -1 : s->run_id;
}

int serve_bench_load_idle(struct gops_db *db, struct gops_options *o, struct gops_idle_value **vals,
                          char ***names, size_t *n)
{
	*vals = NULL, *names = NULL, *n = 0;
	if (o->idle != GOPS_IDLE_STORED && o->idle != GOPS_IDLE_AUTO)
		return 0;
	struct gops_db_baseline *b = NULL;
	size_t nb = 0;
	int rc = gops_db_baselines_load(db, &b, &nb);
	if (rc < 0)
		cmd_error("serve-bench", "%s", gops_db_error(db));
	else if (nb == 0 && o->idle == GOPS_IDLE_STORED)
		rc = -1,
		cmd_error("serve-bench", "no idle baseline stored for this host: run 'greenops idle' first");
	if (rc < 0) {
		free(b);
		return -1;
	}
	*vals = calloc(nb ? nb : 1, sizeof **vals);
	*names = calloc(nb ? nb : 1, sizeof **names);
	for (size_t i = 0; i < nb; i++) {
		(*names)[i] = strdup(b[i].domain);
		(*vals)[i] = (struct gops_idle_value){(*names)[i], b[i].mean_w};
	}
	*n = nb;
	free(b);
	o->idle_values = *vals;
	o->n_idle_values = nb;
	return 0;
}

void serve_bench_idle_release(struct gops_idle_value *vals, char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(vals);
}
