/* greenops slurm: a Slurm job's energy from the runs the SPANK plugin (contrib/slurm) stored,
 * one per step per node, read from one database or from each node's: per step, per node, per
 * GPU and in total. A step that ran inside another measured step on the same node (the srun
 * steps of a batch script) is shown but not added again: both measured the whole node. */
#include "cli/commands.h"
#include "cli/db_cli.h"
#include "meter/result_json.h"
#include "base/util.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char usage_slurm[] =
    "usage: greenops slurm JOBID [--db PATH]... [--json]\n"
    "\n"
    "Shows the energy of Slurm job JOBID as the greenops SPANK plugin measured it: one run per\n"
    "job step per node, tagged slurm.job, slurm.step and slurm.node. Prints each step on each\n"
    "node, then the energy per node and per GPU, and the job's total. Measured figures\n"
    "(hardware counters, integrated power) and estimated ones (the CPU and RAM model) are\n"
    "summed apart. A step that ran within another measured step on the same node (the srun\n"
    "steps inside a batch script) is listed but not added again: both measured the whole node.\n"
    "\n"
    "  --db PATH  a results database; repeat it for the per-node databases of a job (default\n"
    "             $GREENOPS_DB, else $XDG_DATA_HOME/greenops/greenops.db)\n"
    "  --json     the job as one JSON object on stdout\n";

enum { OPT_DB = 3700, OPT_JSON };

struct step {
	struct gops_db_run run;
	const char *db;
	const char *step, *node;
	double t0, t1; /* wall clock, seconds */
	double measured_j, estimated_j;
	const struct step *inside; /* counted already by this enclosing step */
};

struct job {
	struct step *v;
	size_t n, cap;
};

static const char *tag(const struct gops_result *r, const char *key)
{
	for (size_t i = 0; i < r->n_tags; i++)
		if (!strcmp(r->tags[i].key, key))
			return r->tags[i].value;
	return NULL;
}

struct ids {
	int64_t *v;
	size_t n;
};

static int collect_id(void *ctx, const struct gops_db_run *run)
{
	struct ids *ids = ctx;
	int64_t *v = realloc(ids->v, (ids->n + 1) * sizeof *v);
	if (!v)
		abort();
	ids->v = v;
	ids->v[ids->n++] = run->id;
	return 0;
}

/* Energy of the summed domains, measured and estimated apart; NAN where none. */
static void split_energy(const struct gops_result *r, double *measured, double *estimated)
{
	*measured = *estimated = NAN;
	for (size_t i = 0; i < r->n_domains; i++) {
		const struct gops_domain_result *d = &r->domains[i];
		if (!d->summed || isnan(d->energy_j))
			continue;
		double *sum = d->method == GOPS_METHOD_ESTIMATED ? estimated : measured;
		*sum = isnan(*sum) ? d->energy_j : *sum + d->energy_j;
	}
}

static bool same_run(const struct step *a, const struct gops_db_run *b)
{
	return a->run.started_realtime_ns == b->started_realtime_ns && a->run.hostname && b->hostname &&
	       !strcmp(a->run.hostname, b->hostname);
}

static int load_db(const char *path, const char *jobid, struct job *job)
{
	struct gops_db *db;
	if (db_cli_open("slurm", path, GOPS_DB_NO_CREATE, &db))
		return -1;
	struct gops_tag want = {.key = "slurm.job", .value = (char *)jobid};
	struct gops_db_filter f = {.tags = &want, .n_tags = 1};
	struct ids ids = {0};
	int rc = gops_db_runs_foreach(db, &f, collect_id, &ids);
	for (size_t i = 0; !rc && i < ids.n; i++) {
		struct gops_db_run run;
		if ((rc = gops_db_run_load(db, ids.v[i], &run)))
			break;
		bool dup = false;
		for (size_t k = 0; k < job->n && !dup; k++)
			dup = same_run(&job->v[k], &run);
		if (dup) { /* the same node's database given twice, or merged and given again */
			gops_db_run_release(&run);
			continue;
		}
		if (job->n == job->cap) {
			job->cap = job->cap ? job->cap * 2 : 16;
			job->v = realloc(job->v, job->cap * sizeof *job->v);
			if (!job->v)
				abort();
		}
		struct step *s = &job->v[job->n++];
		memset(s, 0, sizeof *s);
		s->run = run;
		s->db = path ? path : "default";
		const char *st = tag(&run.result, "slurm.step");
		const char *node = tag(&run.result, "slurm.node");
		s->step = st ? st : "?";
		s->node = node ? node : run.hostname;
		s->t0 = (double)run.started_realtime_ns / 1e9;
		s->t1 = s->t0 + (isnan(run.result.duration_s) ? 0 : run.result.duration_s);
		split_energy(&run.result, &s->measured_j, &s->estimated_j);
	}
	if (rc)
		cmd_error("slurm", "%s", gops_db_error(db));
	free(ids.v);
	if (db_cli_close("slurm", db))
		rc = -1;
	return rc ? -1 : 0;
}

static int by_node_then_start(const void *a, const void *b)
{
	const struct step *x = a, *y = b;
	int c = strcmp(x->node, y->node);
	if (c)
		return c;
	return x->t0 < y->t0 ? -1 : x->t0 > y->t0;
}

/* Steps measured on one machine measured the same sensors (two Slurm node names can live on
 * one host). */
static bool same_host(const struct step *a, const struct step *b)
{
	return a->run.hostname && b->run.hostname && !strcmp(a->run.hostname, b->run.hostname);
}

/* Marks each step that lies within an earlier, counted step on the same node. */
static void mark_nested(struct job *job)
{
	qsort(job->v, job->n, sizeof *job->v, by_node_then_start);
	for (size_t i = 0; i < job->n; i++)
		for (size_t k = 0; k < job->n; k++) {
			struct step *a = &job->v[i], *b = &job->v[k];
			if (k == i || b->inside || !same_host(a, b))
				continue;
			bool longer =
			    b->t1 - b->t0 > a->t1 - a->t0 || (b->t1 - b->t0 == a->t1 - a->t0 && k < i);
			if (longer && b->t0 <= a->t0 && a->t1 <= b->t1) {
				a->inside = b;
				break;
			}
		}
}

static double add(double sum, double v)
{
	return isnan(v) ? sum : isnan(sum) ? v : sum + v;
}

/* Partially overlapping steps on one node both measured the overlap: said, not hidden. */
static void overlap_warnings(const struct job *job, json_t *warnings)
{
	for (size_t i = 0; i < job->n; i++)
		for (size_t k = i + 1; k < job->n; k++) {
			const struct step *a = &job->v[i], *b = &job->v[k];
			if (a->inside || b->inside || !same_host(a, b) || b->t0 >= a->t1 || a->t0 >= b->t1)
				continue;
			char *w = gops_xasprintf(
			    "steps %s and %s overlapped on %s for %.1f s: each measured the "
			    "whole node, so the total counts that time twice",
			    a->step, b->step, a->node, fmin(a->t1, b->t1) - fmax(a->t0, b->t0));
			json_array_append_new(warnings, json_string(w));
			free(w);
		}
}

static json_t *gpus_json(const struct gops_result *r)
{
	json_t *a = json_array();
	for (size_t i = 0; i < r->n_domains; i++) {
		const struct gops_domain_result *d = &r->domains[i];
		if (strcmp(d->kind, "gpu"))
			continue;
		json_t *g = json_object();
		json_object_set_new(g, "domain", json_string(d->name));
		json_object_set_new(g, "label", json_string(d->label));
		json_object_set_new(g, "method", json_string(gops_method_name(d->method)));
		json_object_set_new(g, "energy_j", gops_json_num(d->energy_j));
		json_array_append_new(a, g);
	}
	return a;
}

static json_t *step_json(const struct step *s)
{
	char when[40];
	json_t *o = json_object();
	const char *tasks = tag(&s->run.result, "slurm.tasks");
	json_object_set_new(o, "step", json_string(s->step));
	json_object_set_new(o, "node", json_string(s->node));
	json_object_set_new(o, "host", json_string(s->run.hostname));
	json_object_set_new(o, "database", json_string(s->db));
	json_object_set_new(o, "run_id", json_integer(s->run.id));
	json_object_set_new(o, "start_time",
	                    json_string(gops_iso_time(s->run.started_realtime_ns, when, sizeof when)));
	json_object_set_new(o, "duration_s", gops_json_num(s->run.result.duration_s));
	json_object_set_new(o, "tasks", tasks ? json_integer(atoll(tasks)) : json_null());
	json_object_set_new(o, "status", json_string(gops_run_status_name(s->run.status)));
	json_object_set_new(o, "energy_j", gops_json_num(s->measured_j));
	json_object_set_new(o, "estimated_energy_j", gops_json_num(s->estimated_j));
	json_object_set_new(o, "counted", json_boolean(!s->inside));
	json_object_set_new(o, "inside_step", s->inside ? json_string(s->inside->step) : json_null());
	json_object_set_new(o, "gpus", gpus_json(&s->run.result));
	return o;
}

/* Adds the GPU domains of r to the node's list, by domain name. */
static void add_gpus(json_t *gpus, const struct gops_result *r)
{
	for (size_t i = 0; i < r->n_domains; i++) {
		const struct gops_domain_result *d = &r->domains[i];
		if (strcmp(d->kind, "gpu") || isnan(d->energy_j))
			continue;
		json_t *g = NULL, *it;
		size_t k;
		json_array_foreach(gpus, k, it) if (!strcmp(json_string_value(json_object_get(it, "domain")),
		                                            d->name)) g = it;
		if (!g) {
			g = json_object();
			json_object_set_new(g, "domain", json_string(d->name));
			json_object_set_new(g, "label", json_string(d->label));
			json_object_set_new(g, "energy_j", json_real(0));
			json_array_append_new(gpus, g);
		}
		json_object_set_new(g, "energy_j",
		                    json_real(json_real_value(json_object_get(g, "energy_j")) + d->energy_j));
	}
}

static json_t *job_json(const char *jobid, const struct job *job)
{
	json_t *o = json_object(), *nodes = json_array(), *steps = json_array(), *warnings = json_array();
	double total = NAN, est = NAN, t0 = INFINITY, t1 = -INFINITY;
	json_t *node = NULL, *gpus = NULL;
	double node_j = NAN, node_est = NAN;
	for (size_t i = 0; i < job->n; i++) {
		const struct step *s = &job->v[i];
		json_array_append_new(steps, step_json(s));
		if (!node || strcmp(json_string_value(json_object_get(node, "node")), s->node)) {
			node = json_object();
			gpus = json_array();
			node_j = node_est = NAN;
			json_object_set_new(node, "node", json_string(s->node));
			json_object_set_new(node, "steps", json_integer(0));
			json_object_set_new(node, "gpus", gpus);
			json_array_append_new(nodes, node);
		}
		json_object_set_new(node, "steps",
		                    json_integer(json_integer_value(json_object_get(node, "steps")) + 1));
		t0 = fmin(t0, s->t0), t1 = fmax(t1, s->t1);
		if (s->inside)
			continue;
		node_j = add(node_j, s->measured_j), node_est = add(node_est, s->estimated_j);
		total = add(total, s->measured_j), est = add(est, s->estimated_j);
		json_object_set_new(node, "energy_j", gops_json_num(node_j));
		json_object_set_new(node, "estimated_energy_j", gops_json_num(node_est));
		add_gpus(gpus, &s->run.result);
	}
	overlap_warnings(job, warnings);
	json_object_set_new(o, "job", json_string(jobid));
	json_object_set_new(o, "energy_j", gops_json_num(total));
	json_object_set_new(o, "estimated_energy_j", gops_json_num(est));
	json_object_set_new(o, "duration_s", gops_json_num(job->n ? t1 - t0 : NAN));
	json_object_set_new(o, "nodes", nodes);
	json_object_set_new(o, "steps", steps);
	json_object_set_new(o, "warnings", warnings);
	return o;
}

static double num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_number(v) ? json_number_value(v) : NAN;
}

static void print_job(json_t *j)
{
	char e[32], x[32], d[32];
	json_t *it, *g;
	size_t i, k;
	printf("job %s: %zu step run%s on %zu node%s over %s: %s measured",
	       json_string_value(json_object_get(j, "job")), json_array_size(json_object_get(j, "steps")),
	       json_array_size(json_object_get(j, "steps")) == 1 ? "" : "s",
	       json_array_size(json_object_get(j, "nodes")),
	       json_array_size(json_object_get(j, "nodes")) == 1 ? "" : "s",
	       db_cli_duration(num(j, "duration_s"), d, sizeof d),
	       db_cli_energy(num(j, "energy_j"), e, sizeof e));
	if (!isnan(num(j, "estimated_energy_j")))
		printf(", %s estimated apart", db_cli_energy(num(j, "estimated_energy_j"), x, sizeof x));
	printf("\n\n%-12s  %-20s  %9s  %10s  %10s  %s\n", "STEP", "NODE", "DURATION", "ENERGY", "ESTIMATED",
	       "NOTE");
	json_array_foreach(json_object_get(j, "steps"), i, it)
	{
		json_t *in = json_object_get(it, "inside_step");
		printf("%-12s  %-20s  %9s  %10s  %10s  %s%s\n",
		       json_string_value(json_object_get(it, "step")),
		       json_string_value(json_object_get(it, "node")),
		       db_cli_duration(num(it, "duration_s"), d, sizeof d),
		       db_cli_energy(num(it, "energy_j"), e, sizeof e),
		       db_cli_energy(num(it, "estimated_energy_j"), x, sizeof x),
		       json_is_string(in) ? "within step " : "",
		       json_is_string(in) ? json_string_value(in) : "");
	}
	printf("\n%-20s  %-8s  %10s  %10s\n", "NODE", "DOMAIN", "ENERGY", "ESTIMATED");
	json_array_foreach(json_object_get(j, "nodes"), i, it)
	{
		const char *n = json_string_value(json_object_get(it, "node"));
		printf("%-20s  %-8s  %10s  %10s\n", n, "total",
		       db_cli_energy(num(it, "energy_j"), e, sizeof e),
		       db_cli_energy(num(it, "estimated_energy_j"), x, sizeof x));
		json_array_foreach(json_object_get(it, "gpus"), k, g)
		    printf("%-20s  %-8s  %10s\n", n, json_string_value(json_object_get(g, "domain")),
		           db_cli_energy(num(g, "energy_j"), e, sizeof e));
	}
	json_array_foreach(json_object_get(j, "warnings"), i, it)
	    fprintf(stderr, "greenops slurm: warning: %s\n", json_string_value(it));
}

static bool valid_jobid(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if ((*s < '0' || *s > '9') && *s != '_')
			return false;
	return true;
}

int cmd_slurm(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"db", required_argument, NULL, OPT_DB},
	    {"json", no_argument, NULL, OPT_JSON},
	    {0},
	};
	const char **dbs = calloc((size_t)argc + 1, sizeof *dbs);
	size_t n_dbs = 0;
	bool as_json = false;
	int c, status = 2;
	optind = 1;
	opterr = 0;
	if (!dbs)
		abort();
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case OPT_DB:
			dbs[n_dbs++] = optarg;
			break;
		case OPT_JSON:
			as_json = true;
			break;
		case '?':
			if (optopt) {
				cmd_usage_error("slurm", "option '%s' needs a value", argv[optind - 1]);
				goto out;
			}
			/* fall through */
		default:
			cmd_usage_error("slurm", "unknown option '%s'", argv[optind - 1]);
			goto out;
		}
	}
	if (optind != argc - 1) {
		cmd_usage_error("slurm",
		                optind >= argc ? "no job id given (greenops slurm JOBID)"
		                               : "unexpected argument '%s'",
		                argv[argc - 1]);
		goto out;
	}
	const char *jobid = argv[optind];
	if (!valid_jobid(jobid)) {
		cmd_usage_error("slurm", "invalid job id '%s' (expected a Slurm job id such as 1234)", jobid);
		goto out;
	}
	struct job job = {0};
	status = 0;
	if (n_dbs == 0)
		n_dbs = 1; /* dbs[0] NULL: the default database */
	for (size_t i = 0; i < n_dbs && !status; i++)
		if (load_db(dbs[i], jobid, &job) < 0)
			status = 1;
	if (!status && job.n == 0) {
		status = cmd_error("slurm", "no step of job %s is stored in %s%s", jobid,
		                   n_dbs > 1 ? "these databases"
		                   : dbs[0]  ? dbs[0]
		                             : "the default database",
		                   " (is the plugin in plugstack.conf, and was the job run with it?)");
	}
	if (!status) {
		mark_nested(&job);
		json_t *j = job_json(jobid, &job);
		if (as_json)
			json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10)), putchar('\n');
		else
			print_job(j);
		json_decref(j);
	}
	for (size_t i = 0; i < job.n; i++)
		gops_db_run_release(&job.v[i].run);
	free(job.v);
out:
	free(dbs);
	return status;
}
