/* Writes a measured run to the database, --json, --timeline and the summary. */
#include "cli/run_output.h"
#include "cli/commands.h"
#include "cli/config.h"
#include "cli/csv.h"
#include "cli/db_cli.h"
#include "cli/summary.h"
#include "cli/plot.h"
#include "store/db.h"
#include "base/util.h"
#include "model/macs.h"
#include "meter/result_json.h"
#include "base/fmt.h"
#include "sweep/stats.h"

#include <jansson.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <strings.h>
#include <unistd.h>

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void run_output_init(struct run_output *o)
{
	memset(o, 0, sizeof *o);
	o->carbon = 475;
	o->pue = 1;
	config_cost_defaults(&o->carbon, &o->pue, &o->price, &o->currency); /* the flags come after */
	o->verb = "run";
	o->units = NAN;
	o->cpu_span_s = NAN;
	o->cpu_setup_s = o->cpu_open_s = o->cpu_start_s = o->cpu_end_s = NAN;
}

static int check_writable(const char *verb, const char *opt, const char *path)
{
	if (!strcmp(path, "-"))
		return 0;
	char *dir = strdup(path);
	if (!dir)
		return -ENOMEM;
	char *slash = strrchr(dir, '/');
	const char *d = slash ? (slash == dir ? "/" : (*slash = 0, dir)) : ".";
	struct stat st;
	int rc = 0;
	if (stat(d, &st) < 0 || !S_ISDIR(st.st_mode)) {
		cmd_error(verb, "cannot write %s '%s': no folder '%s'", opt, path, d);
		rc = -ENOENT;
	} else if (access(d, W_OK) < 0) {
		cmd_error(verb, "cannot write %s '%s': %s", opt, path, strerror(errno));
		rc = -EACCES;
	} else if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		cmd_error(verb, "cannot write %s '%s': it is a folder", opt, path);
		rc = -EISDIR;
	}
	free(dir);
	return rc;
}

/* Every output path with its option, in one table for the checks. */
#define N_OUTPUTS 7
static void outputs(const struct run_output *o, const char *opt[N_OUTPUTS], const char *path[N_OUTPUTS])
{
	static const char *const names[N_OUTPUTS] = {"--json",       "--timeline",    "--plot",
	                                             "--export-csv", "--export-json", "--export-markdown",
	                                             "--output"};
	const char *paths[N_OUTPUTS] = {o->json_path,       o->timeline_path,    o->plot_path,
	                                o->export_csv_path, o->export_json_path, o->export_md_path,
	                                o->summary_path};
	for (size_t i = 0; i < N_OUTPUTS; i++)
		opt[i] = names[i], path[i] = paths[i];
}

bool run_output_takes_stdout(const struct run_output *o)
{
	const char *opt[N_OUTPUTS], *path[N_OUTPUTS];
	outputs(o, opt, path);
	for (size_t i = 0; i < N_OUTPUTS; i++)
		if (path[i] && !strcmp(path[i], "-"))
			return true;
	return false;
}

int run_output_check_paths(const struct run_output *o)
{
	const char *opt[N_OUTPUTS], *path[N_OUTPUTS];
	outputs(o, opt, path);
	const char *first = NULL;
	for (size_t i = 0; i < N_OUTPUTS; i++)
		if (path[i] && !strcmp(path[i], "-")) {
			if (first)
				return cmd_error(o->verb, "%s - and %s - cannot both use stdout", first,
				                 opt[i]),
				       -EINVAL;
			first = opt[i];
		}
	if (o->plot_path) {
		size_t n = strlen(o->plot_path);
		if (!strcmp(o->plot_path, "-") || n < 4 ||
		    (strcasecmp(o->plot_path + n - 4, ".svg") && strcasecmp(o->plot_path + n - 4, ".png")))
			return cmd_error(o->verb,
			                 "--plot writes SVG or PNG: give a file name ending in .svg or .png, "
			                 "not '%s'",
			                 o->plot_path),
			       -EINVAL;
	}
	for (size_t i = 0; i < N_OUTPUTS; i++)
		if (path[i] && check_writable(o->verb, opt[i], path[i]) < 0)
			return -EINVAL;
	return 0;
}

/* The options that shaped the measurement, stored with the run. */
static char *options_json(const struct run_output *o)
{
	const struct gops_options *op = o->opts;
	json_t *j = json_object();
	if (op) {
		static const char *const idle[] = {"auto", "none", "stored", "measure", "watts"};
		json_object_set_new(j, "interval_ms", json_integer(op->interval_ms));
		json_object_set_new(j, "sources", op->sources ? json_string(op->sources) : json_null());
		json_object_set_new(j, "idle", json_string(idle[op->idle]));
		if (op->idle == GOPS_IDLE_MEASURE)
			json_object_set_new(j, "idle_seconds", json_real(op->idle_seconds));
		if (op->idle == GOPS_IDLE_WATTS)
			json_object_set_new(j, "idle_watts", json_real(op->idle_watts));
		if (op->cpu_tdp_w > 0)
			json_object_set_new(j, "cpu_tdp_w", json_real(op->cpu_tdp_w));
	}
	json_object_set_new(j, "units", gops_json_num(o->units));
	json_object_set_new(j, "samples", json_boolean(o->store_samples));
	if (o->repeat) {
		json_object_set_new(j, "repeat", json_integer(o->repeat));
		json_object_set_new(j, "warmup", json_integer(o->warmup));
	}
	if (o->model_path)
		json_object_set_new(j, "model", json_string(o->model_path));
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return s;
}

static int count_model(struct run_output *o);

int run_output_prepare(struct run_output *o, struct gops_options *opts)
{
	o->opts = opts;
	if (o->model_path && count_model(o) < 0)
		return -EINVAL;
	if (o->no_db) {
		if (opts->idle == GOPS_IDLE_STORED)
			return cmd_error(o->verb, "--idle stored needs the results database (not --no-db)"),
			       -EINVAL;
		return 0;
	}
	char err[512];
	struct gops_db *db;
	if (gops_db_open(&db, o->db_path, 0, err, sizeof err) < 0)
		return cmd_error(o->verb, "%s", err), -EIO;
	o->db = db;
	if (opts->idle != GOPS_IDLE_AUTO && opts->idle != GOPS_IDLE_STORED)
		return 0;
	struct gops_db_baseline *b;
	size_t n;
	if (gops_db_baselines_load(db, &b, &n) < 0)
		return cmd_error(o->verb, "%s", gops_db_error(db)), -EIO;
	if (n == 0 && opts->idle == GOPS_IDLE_STORED) {
		free(b);
		return cmd_error(o->verb, "no idle baseline stored for this host: run 'greenops idle' first"),
		       -ENOENT;
	}
	o->idle = calloc(n ? n : 1, sizeof *o->idle);
	o->idle_names = calloc(n ? n : 1, sizeof *o->idle_names);
	for (size_t i = 0; i < n; i++) {
		o->idle_names[i] = strdup(b[i].domain);
		o->idle[i] = (struct gops_idle_value){o->idle_names[i], b[i].mean_w};
	}
	o->n_idle = n;
	free(b);
	opts->idle_values = o->idle;
	opts->n_idle_values = o->n_idle;
	return 0;
}

/* The model's complexity as tags, so `greenops analyze` can correlate it with energy. */
static int count_model(struct run_output *o)
{
	struct gops_macs_result r;
	char err[512];
	if (gops_macs_count(o->model_path, NULL, &r, err, sizeof err) < 0)
		return cmd_error(o->verb, "%s", err), -EINVAL;
	char **t = calloc(8, sizeof *t);
	size_t n = 0;
	const char *base = strrchr(o->model_path, '/');
	t[n++] = gops_xasprintf("model=%s", base ? base + 1 : o->model_path);
	t[n++] = gops_xasprintf("macs=%lld", (long long)r.macs);
	t[n++] = gops_xasprintf("params=%lld", (long long)r.params);
	if (!isnan(r.macs_per_param))
		t[n++] = gops_xasprintf("macs_per_param=%.6g", r.macs_per_param);
	if (!r.complete) {
		t[n++] = gops_xasprintf("macs_complete=false");
		fprintf(
		    stderr,
		    "greenops %s: warning: '%s': some operators were not counted; MACs are a lower bound\n",
		    o->verb, o->model_path);
	}
	gops_macs_result_release(&r);
	o->model_tags = t;
	o->n_model_tags = n;
	return 0;
}

void run_output_tag_model(struct run_output *o, gops_monitor *m)
{
	for (size_t i = 0; i < o->n_model_tags; i++) {
		char *kv = o->model_tags[i], *eq = strchr(kv, '=');
		*eq = 0;
		gops_monitor_tag(m, kv, eq + 1);
		*eq = '=';
	}
}

void run_output_begin(struct run_output *o, gops_monitor *m)
{
	if (!o->db)
		return;
	struct gops_db_run_info in;
	gops_db_run_info_init(&in);
	while (o->argv && o->argv[in.argc])
		in.argc++;
	in.argv = (const char *const *)o->argv;
	in.carbon_g_per_kwh = o->carbon;
	in.pue = o->pue;
	in.price_per_kwh = o->price > 0 ? o->price : NAN;
	in.currency = o->currency;
	struct gops_tag *tags = calloc(o->n_tag_kv ? o->n_tag_kv : 1, sizeof *tags);
	for (size_t i = 0; tags && i < o->n_tag_kv; i++) {
		const char *eq = strchr(o->tag_kv[i], '=');
		char *key = strndup(o->tag_kv[i], (size_t)(eq - o->tag_kv[i]));
		/* Stored as the monitor will hold them: repaired to UTF-8. */
		tags[i].key = gops_utf8_repair(key);
		tags[i].value = gops_utf8_repair(eq + 1);
		free(key);
	}
	in.tags = tags;
	in.n_tags = tags ? o->n_tag_kv : 0;
	char *opts = options_json(o);
	in.options_json = opts;
	int r = gops_db_run_begin(o->db, &in, &o->run_id);
	for (size_t i = 0; tags && i < o->n_tag_kv; i++)
		free(tags[i].key), free(tags[i].value);
	free(tags);
	free(opts);
	if (r < 0) {
		fprintf(stderr, "greenops %s: warning: %s; this run is not stored\n", o->verb,
		        gops_db_error(o->db));
		o->run_id = 0;
	}
}

void run_output_abandon(struct run_output *o, int exit_status)
{
	if (o->db && o->run_id)
		gops_db_run_finish(o->db, o->run_id, NULL, exit_status, 0, GOPS_RUN_FAILED);
}

/* greenops's own cost, so users can see that measuring is cheap. */
double run_output_self_cpu(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

void run_output_stats(const double *v, size_t n, struct rep_stats *s)
{
	s->n = n;
	s->min = s->max = NAN;
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || v[i] < s->min)
			s->min = v[i];
		if (i == 0 || v[i] > s->max)
			s->max = v[i];
	}
	sweep_mean_ci(v, n, 0.95, &s->mean, &s->sd, &s->ci_lo, &s->ci_hi);
}

/* The measured executions and the statistics of those that exited 0. With --repeat, from
 * their windows (the k-th window named "repetition" is the k-th execution); without, the one
 * execution is the whole span. */
struct repeat_view {
	size_t n; /* executions found, at most o->n_runs (1 without --repeat) */
	double *energy, *unc, *dur;
	int *status;
	const struct gops_domain_result **domains; /* each execution's domains, n_domains of them */
	size_t *n_domains;
	double units; /* units per execution, NAN none */
	struct rep_stats energy_s, dur_s;
};

static void repeat_view(const struct run_output *o, const struct gops_result *r, int exit_status,
                        struct repeat_view *v)
{
	memset(v, 0, sizeof *v);
	size_t cap = o->repeat && o->n_runs ? o->n_runs : 1;
	v->energy = calloc(cap, sizeof *v->energy);
	v->unc = calloc(cap, sizeof *v->unc);
	v->dur = calloc(cap, sizeof *v->dur);
	v->status = calloc(cap, sizeof *v->status);
	v->domains = calloc(cap, sizeof *v->domains);
	v->n_domains = calloc(cap, sizeof *v->n_domains);
	double *e_ok = calloc(cap, sizeof *e_ok), *d_ok = calloc(cap, sizeof *d_ok);
	if (!v->energy || !v->unc || !v->dur || !v->status || !v->domains || !v->n_domains || !e_ok || !d_ok)
		abort();
	v->units = o->repeat ? o->units : r->units;
	if (!(v->units > 0))
		v->units = NAN;
	for (size_t i = 0; o->repeat ? i < r->n_windows && v->n < o->n_runs : v->n < 1; i++) {
		const struct gops_window_result *w = o->repeat ? &r->windows[i] : NULL;
		if (w && strcmp(w->name, "repetition"))
			continue;
		v->energy[v->n] = w ? w->energy_j : r->energy_j;
		v->unc[v->n] = w ? w->uncertainty_j : r->uncertainty_j;
		v->dur[v->n] = w ? w->end_s - w->start_s : r->duration_s;
		v->status[v->n] = w ? o->run_status[v->n] : exit_status;
		v->domains[v->n] = w ? w->domains : r->domains;
		v->n_domains[v->n] = w ? w->n_domains : r->n_domains;
		v->n++;
	}
	size_t ne = 0, nd = 0;
	for (size_t i = 0; i < v->n; i++)
		if (v->status[i] == 0) {
			d_ok[nd++] = v->dur[i];
			if (!isnan(v->energy[i])) /* no sensor: time alone */
				e_ok[ne++] = v->energy[i];
		}
	run_output_stats(e_ok, ne, &v->energy_s);
	run_output_stats(d_ok, nd, &v->dur_s);
	free(e_ok);
	free(d_ok);
}

static void repeat_view_release(struct repeat_view *v)
{
	free(v->energy);
	free(v->unc);
	free(v->dur);
	free(v->status);
	free(v->domains);
	free(v->n_domains);
}

/* {mean, sd, min, max, ci95: [lo, hi]}, each figure scaled by K (1 / units per execution). */
static json_t *stats_json(const struct rep_stats *s, double k)
{
	return json_pack("{s:o,s:o,s:o,s:o,s:[oo]}", "mean", gops_json_num(s->mean * k), "sd",
	                 gops_json_num(s->sd * k), "min", gops_json_num(s->min * k), "max",
	                 gops_json_num(s->max * k), "ci95", gops_json_num(s->ci_lo * k),
	                 gops_json_num(s->ci_hi * k));
}

/* The repeat object of --json (docs/CONTRACTS.md); --export-json writes it without --repeat
 * too, for the one execution (count 1). */
static json_t *repeat_json(const struct run_output *o, const struct gops_result *r, int exit_status)
{
	struct repeat_view v;
	repeat_view(o, r, exit_status, &v);
	json_t *runs = json_array();
	for (size_t i = 0; i < v.n; i++)
		json_array_append_new(runs,
		                      json_pack("{s:o,s:o,s:o,s:i}", "energy_j", gops_json_num(v.energy[i]),
		                                "uncertainty_j", gops_json_num(v.unc[i]), "duration_s",
		                                gops_json_num(v.dur[i]), "exit_status", v.status[i]));
	json_t *rep = json_object();
	json_object_set_new(rep, "count", json_integer(o->repeat ? o->repeat : 1));
	json_object_set_new(rep, "warmup", json_integer(o->warmup));
	json_object_set_new(rep, "energy_j", stats_json(&v.energy_s, 1));
	json_object_set_new(rep, "duration_s", stats_json(&v.dur_s, 1));
	if (!isnan(v.units))
		json_object_set_new(rep, "energy_per_unit_j", stats_json(&v.energy_s, 1 / v.units));
	json_object_set_new(rep, "runs", runs);
	repeat_view_release(&v);
	return rep;
}

/* printf pads by bytes: a "µ", "±" or "…" takes two or three bytes and one column. */
static int utf8_extra(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) == 0x80;
	return n;
}

/* Two lines like hyperfine's: "LABEL (mean ± σ): M ± SD U   95% CI LO … HI", then the range. */
static void stats_lines(FILE *f, const char *label, const struct rep_stats *s, double k, const char *unit)
{
	char a[GOPS_FMT_LEN], b[GOPS_FMT_LEN], c[GOPS_FMT_LEN], l[64];
	snprintf(l, sizeof l, "%s (mean ± σ):", label);
	gops_fmt_si_pm(a, sizeof a, s->mean * k, s->sd * k, unit, 4);
	fprintf(f, "    %-*s %-*s", 24 + utf8_extra(l), l, 20 + utf8_extra(a), a);
	if (!isnan(s->ci_lo))
		fprintf(f, "  95%% CI %s … %s", gops_fmt_si(b, sizeof b, s->ci_lo * k, unit, 4),
		        gops_fmt_si(c, sizeof c, s->ci_hi * k, unit, 4));
	fputc('\n', f);
	snprintf(l, sizeof l, "%*s(min … max):", (int)strlen(label) + 1, "");
	fprintf(f, "    %-*s %s … %s\n", 24 + utf8_extra(l), l, gops_fmt_si(a, sizeof a, s->min * k, unit, 4),
	        gops_fmt_si(b, sizeof b, s->max * k, unit, 4));
}

static void repeat_summary(FILE *f, const struct run_output *o, const struct gops_result *r)
{
	struct repeat_view v;
	repeat_view(o, r, 0, &v);
	if (v.n < o->repeat)
		fprintf(f, "  %zu of %u repetitions measured", v.n, o->repeat);
	else
		fprintf(f, "  %zu repetitions measured", v.n);
	if (o->warmup)
		fprintf(f, ", after %u warmup%s (not measured)", o->warmup, o->warmup == 1 ? "" : "s");
	if (v.dur_s.n < v.n)
		fprintf(f, "; statistics over the %zu that exited 0", v.dur_s.n);
	fprintf(f, ":\n");
	if (v.energy_s.n)
		stats_lines(f, "energy", &v.energy_s, 1, "J");
	if (v.dur_s.n)
		stats_lines(f, "time", &v.dur_s, 1, "s");
	if (v.energy_s.n && !isnan(o->units) && o->units > 0)
		stats_lines(f, "energy/unit", &v.energy_s, 1 / o->units, "J");
	fputc('\n', f);
	repeat_view_release(&v);
}

static int write_json(const struct run_output *o, const struct gops_result *r, int status, int sig)
{
	json_t *obj = gops_result_json_object(r, status, sig);
	json_t *cmd = json_array();
	for (char **a = o->argv; a && *a; a++)
		json_array_append_new(cmd, gops_json_text(*a));
	json_object_set_new(obj, "command", cmd);
	json_object_set_new(obj, "greenops_cpu_s", json_real(run_output_self_cpu()));
	/* The sampler's cost while the child ran, apart from start-up (loading NVML, edges). */
	json_object_set_new(obj, "greenops_cpu_span_s", gops_json_num(o->cpu_span_s));
	json_object_set_new(obj, "greenops_cpu_phases_s",
	                    json_pack("{s:o,s:o,s:o,s:o,s:o}", "setup", gops_json_num(o->cpu_setup_s), "open",
	                              gops_json_num(o->cpu_open_s), "start_edge",
	                              gops_json_num(o->cpu_start_s), "span", gops_json_num(o->cpu_span_s),
	                              "end_edge", gops_json_num(o->cpu_end_s)));
	json_object_set_new(obj, "greenops_cpu_share",
	                    r->duration_s > 0 ? gops_json_num(o->cpu_span_s / r->duration_s) : json_null());
	if (o->repetitions) {
		double e, u;
		run_output_per_repetition(r, o->repetitions, &e, &u);
		json_t *rep = json_object();
		json_object_set_new(rep, "count", json_integer(o->repetitions));
		json_object_set_new(rep, "duration_s", gops_json_num(r->duration_s / o->repetitions));
		json_object_set_new(rep, "energy_j", gops_json_num(e));
		json_object_set_new(rep, "uncertainty_j", gops_json_num(u));
		json_object_set_new(rep, "interval_j",
		                    json_pack("[oo]", gops_json_num(e - u), gops_json_num(e + u)));
		json_object_set_new(obj, "repetitions", rep);
	}
	if (o->repeat)
		json_object_set_new(obj, "repeat", repeat_json(o, r, status));
	if (o->run_id > 0)
		json_object_set_new(obj, "run_id", json_integer(o->run_id));
	char *s = json_dumps(obj, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
	json_decref(obj);
	if (!s)
		return cmd_error(o->verb, "cannot encode the result as JSON"), -ENOMEM;
	FILE *f = strcmp(o->json_path, "-") ? fopen(o->json_path, "w") : stdout;
	if (!f) {
		int e = errno;
		free(s);
		cmd_error(o->verb, "cannot write '%s': %s", o->json_path, strerror(e));
		return -e;
	}
	fprintf(f, "%s\n", s);
	free(s);
	int bad = f == stdout ? fflush(f) : fclose(f);
	if (bad) {
		cmd_error(o->verb, "cannot write '%s': %s", o->json_path, strerror(errno));
		return -EIO;
	}
	return 0;
}

static int timeline_row(void *ctx, double t, const char *domain, double w, double j)
{
	FILE *f = ctx;
	csv_real(f, t);
	fputc(',', f);
	csv_text(f, domain);
	fputc(',', f);
	csv_real(f, w);
	fputc(',', f);
	csv_real(f, j);
	fputc('\n', f);
	return ferror(f) ? -EIO : 0;
}

static int write_timeline(const struct run_output *o, gops_monitor *m)
{
	FILE *f = strcmp(o->timeline_path, "-") ? fopen(o->timeline_path, "w") : stdout;
	if (!f) {
		int e = errno;
		cmd_error(o->verb, "cannot write '%s': %s", o->timeline_path, strerror(e));
		return -e;
	}
	fprintf(f, "t_s,domain,power_w,counter_j\n");
	int r = gops_monitor_foreach_sample(m, timeline_row, f);
	if ((f == stdout ? fflush(f) : fclose(f)) != 0 || r < 0) {
		cmd_error(o->verb, "cannot write '%s': %s", o->timeline_path, strerror(errno ? errno : EIO));
		return -EIO;
	}
	return 0;
}

/* An output file, or stdout for "-"; prints the error naming the path. */
static FILE *out_open(const struct run_output *o, const char *path)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "w") : stdout;
	if (!f)
		cmd_error(o->verb, "cannot write '%s': %s", path, strerror(errno));
	return f;
}

static int out_close(const struct run_output *o, FILE *f, const char *path)
{
	bool bad = ferror(f);
	if (f == stdout)
		bad |= fflush(f) != 0;
	else
		bad |= fclose(f) != 0;
	if (bad) {
		cmd_error(o->verb, "cannot write '%s': %s", path, strerror(errno ? errno : EIO));
		return -EIO;
	}
	return 0;
}

static double domain_energy(const struct gops_domain_result *d, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(d[i].name, name))
			return d[i].energy_j;
	return NAN;
}

/* --export-csv: one row per execution, warmups first (time and status only: they are in
 * nothing measured), then each measured execution with its energy, total and per domain. No
 * summary row: the statistics are in --export-json and --export-markdown. */
static int write_export_csv(const struct run_output *o, const struct gops_result *r, int exit_status)
{
	FILE *f = out_open(o, o->export_csv_path);
	if (!f)
		return -EIO;
	struct repeat_view v;
	repeat_view(o, r, exit_status, &v);
	fputs("index,warmup,exit_status,duration_s,energy_j,uncertainty_j,energy_per_unit_j", f);
	for (size_t k = 0; k < r->n_domains; k++) {
		fputc(',', f);
		char col[64];
		snprintf(col, sizeof col, "energy_j_%s", r->domains[k].name);
		csv_text(f, col);
	}
	fputc('\n', f);
	for (unsigned i = 0; o->warmup_s && i < o->warmup; i++) {
		fprintf(f, "%u,true,%d,", i + 1, o->warmup_status[i]);
		csv_real(f, o->warmup_s[i]);
		fputs(",,,", f);
		for (size_t k = 0; k < r->n_domains; k++)
			fputc(',', f);
		fputc('\n', f);
	}
	for (size_t i = 0; i < v.n; i++) {
		fprintf(f, "%zu,false,%d,", i + 1, v.status[i]);
		csv_real(f, v.dur[i]);
		fputc(',', f);
		csv_real(f, v.energy[i]);
		fputc(',', f);
		csv_real(f, v.unc[i]);
		fputc(',', f);
		csv_real(f, v.energy[i] / v.units);
		for (size_t k = 0; k < r->n_domains; k++) {
			fputc(',', f);
			csv_real(f, domain_energy(v.domains[i], v.n_domains[i], r->domains[k].name));
		}
		fputc('\n', f);
	}
	repeat_view_release(&v);
	return out_close(o, f, o->export_csv_path);
}

/* --export-json: the command, its units and the repeat object of --json (with --repeat or
 * not), so that one file holds every execution and the statistics. */
static int write_export_json(const struct run_output *o, const struct gops_result *r, int exit_status)
{
	json_t *obj = json_object();
	json_t *cmd = json_array();
	for (char **a = o->argv; a && *a; a++)
		json_array_append_new(cmd, gops_json_text(*a));
	json_object_set_new(obj, "command", cmd);
	json_object_set_new(obj, "exit_status", json_integer(exit_status));
	json_object_set_new(obj, "units", gops_json_num(o->units));
	json_object_set_new(obj, "repeat", repeat_json(o, r, exit_status));
	if (o->run_id > 0)
		json_object_set_new(obj, "run_id", json_integer(o->run_id));
	char *s = json_dumps(obj, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
	json_decref(obj);
	if (!s)
		return cmd_error(o->verb, "cannot encode the result as JSON"), -ENOMEM;
	FILE *f = out_open(o, o->export_json_path);
	if (!f) {
		free(s);
		return -EIO;
	}
	fprintf(f, "%s\n", s);
	free(s);
	return out_close(o, f, o->export_json_path);
}

/* A cell of the markdown table: "M ± SD" at 4 significant digits, "-" when unknown. */
static void md_cell(FILE *f, double v, double sd)
{
	if (isnan(v))
		fputs(" - |", f);
	else if (isnan(sd))
		fprintf(f, " %.4g |", v);
	else
		fprintf(f, " %.4g ± %.4g |", v, sd);
}

/* --export-markdown: one table row for the command, as hyperfine's, in joules and seconds. */
static int write_export_md(const struct run_output *o, const struct gops_result *r, int exit_status)
{
	FILE *f = out_open(o, o->export_md_path);
	if (!f)
		return -EIO;
	struct repeat_view v;
	repeat_view(o, r, exit_status, &v);
	bool per_unit = !isnan(v.units);
	fprintf(f, "| Command | Runs | Energy [J] | Min [J] | Max [J] | Time [s] | Min [s] | Max [s] |%s\n",
	        per_unit ? " Energy/unit [J] |" : "");
	fprintf(f, "|:---|---:|---:|---:|---:|---:|---:|---:|%s\n", per_unit ? "---:|" : "");
	size_t argc = 0;
	while (o->argv && o->argv[argc])
		argc++;
	char *cmd = db_cli_command_line(o->argv, argc);
	fputs("| `", f);
	for (const char *c = cmd; *c; c++) /* in a table cell of a code span */
		if (*c == '|')
			fputs("\\|", f);
		else
			fputc(*c == '`' ? '\'' : *c, f);
	free(cmd);
	fprintf(f, "` | %zu |", v.dur_s.n);
	md_cell(f, v.energy_s.mean, v.energy_s.sd);
	md_cell(f, v.energy_s.min, NAN);
	md_cell(f, v.energy_s.max, NAN);
	md_cell(f, v.dur_s.mean, v.dur_s.sd);
	md_cell(f, v.dur_s.min, NAN);
	md_cell(f, v.dur_s.max, NAN);
	if (per_unit)
		md_cell(f, v.energy_s.mean / v.units, v.energy_s.sd / v.units);
	fputc('\n', f);
	repeat_view_release(&v);
	return out_close(o, f, o->export_md_path);
}

int run_output_finish(struct run_output *o, gops_monitor *m, int exit_status, int signal)
{
	const struct gops_result *r = gops_monitor_result(m);
	int rc = 0;
	if (!r)
		return -EINVAL;
	if (o->json_path && write_json(o, r, exit_status, signal) < 0)
		rc = -1;
	if (o->timeline_path && write_timeline(o, m) < 0)
		rc = -1;
	if (o->export_csv_path && write_export_csv(o, r, exit_status) < 0)
		rc = -1;
	if (o->export_json_path && write_export_json(o, r, exit_status) < 0)
		rc = -1;
	if (o->export_md_path && write_export_md(o, r, exit_status) < 0)
		rc = -1;
	if (o->plot_path) {
		char err[512], title[300];
		snprintf(title, sizeof title, "power of '%.200s'", o->command ? o->command : "span");
		if (plot_timeline_svg(o->plot_path, m, r, title, err, sizeof err) < 0)
			cmd_error(o->verb, "%s", err), rc = -1;
	}
	if (o->db && o->run_id) {
		struct gops_db_sample_sink sink = {o->db, o->run_id};
		if (o->store_samples)
			gops_monitor_foreach_sample(m, gops_db_sample_cb, &sink);
		enum gops_run_status st =
		    signal == SIGINT || signal == SIGTERM ? GOPS_RUN_INTERRUPTED : GOPS_RUN_COMPLETED;
		if (gops_db_run_finish(o->db, o->run_id, r, exit_status, signal, st) < 0)
			cmd_error(o->verb, "%s", gops_db_error(o->db)), rc = -1;
	}
	FILE *f = o->summary_path ? out_open(o, o->summary_path) : o->quiet ? NULL : stderr;
	if (o->summary_path && !f)
		rc = -1;
	if (f) {
		struct summary_ctx c = {.command = o->command,
		                        .exit_status = exit_status,
		                        .signal = signal,
		                        .carbon_g_per_kwh = o->carbon,
		                        .pue = o->pue,
		                        .price_per_kwh = o->price,
		                        .currency = o->currency,
		                        .units_given = o->repeat ? o->units * o->n_runs : o->units};
		summary_print(f, r, &c);
		if (o->repeat)
			repeat_summary(f, o, r);
		if (o->repetitions) {
			double e, u;
			run_output_per_repetition(r, o->repetitions, &e, &u);
			fprintf(f, "  %u repetitions over %.3f s: %.4f J ± %.4f J per repetition\n",
			        o->repetitions, r->duration_s, e, u);
		}
		if (o->summary_path && out_close(o, f, o->summary_path) < 0)
			rc = -1;
	}
	return rc;
}

/* The repetitions ran back to back inside one span, so their mean energy is the span's
 * energy over their count, and so is its uncertainty: the edges, which dominate a short
 * command, are paid once for all of them. */
void run_output_per_repetition(const struct gops_result *r, unsigned n, double *energy_j, double *unc_j)
{
	*energy_j = n ? r->energy_j / n : NAN;
	*unc_j = n ? r->uncertainty_j / n : NAN;
}

void run_output_release(struct run_output *o)
{
	char err[512];
	if (o->db && gops_db_close(o->db, err, sizeof err) < 0)
		cmd_error(o->verb, "%s", err);
	for (size_t i = 0; i < o->n_model_tags; i++)
		free(o->model_tags[i]);
	free(o->model_tags);
	for (size_t i = 0; i < o->n_idle; i++)
		free(o->idle_names[i]);
	free(o->idle_names);
	free(o->idle);
	free(o->run_status);
	free(o->warmup_s);
	free(o->warmup_status);
}
