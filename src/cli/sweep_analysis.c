/* greenops analyze --sweep: statistics over a sweep's repetitions, the cheapest configuration
 * (with --subject-to constraints), optima per group and correlations, as text and JSON. The
 * numbers come from src/sweep/stats.c and src/analysis/stats.c. */
#include "cli/sweep_analysis.h"

#include "cli/commands.h"
#include "base/util.h"
#include "store/db.h"
#include "sweep/store.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define VERB "analyze"

const char *sweep_fmt_energy(double j, char *buf, size_t len)
{
	static const struct {
		double scale;
		const char *unit;
	} steps[] = {{1e6, "MJ"}, {1e3, "kJ"}, {1, "J"}, {1e-3, "mJ"}, {1e-6, "µJ"}, {1e-9, "nJ"}};
	if (!isfinite(j)) {
		snprintf(buf, len, "-");
		return buf;
	}
	double a = fabs(j);
	size_t i = 0;
	while (i + 1 < sizeof steps / sizeof steps[0] && a < steps[i].scale)
		i++;
	if (a == 0)
		i = 2;
	snprintf(buf, len, "%.3g %s", j / steps[i].scale, steps[i].unit);
	return buf;
}

static json_t *num(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static json_t *params_object(const struct sweep_plan *p, size_t config)
{
	json_t *o = json_object();
	for (size_t i = 0; i < p->n_params; i++) {
		const char *v = sweep_plan_value(p, config, i);
		double x;
		char *end;
		x = strtod(v, &end);
		json_object_set_new(o, p->params[i].name,
		                    p->params[i].numeric && !*end ? json_real(x) : json_string(v));
	}
	return o;
}

static json_t *config_json(const struct sweep_data *d, const struct sweep_config_stats *s)
{
	json_t *o = json_object();
	json_object_set_new(o, "config", json_integer((json_int_t)s->config));
	json_object_set_new(o, "params", params_object(&d->plan, s->config));
	json_object_set_new(o, "runs", json_integer((json_int_t)s->n_runs));
	json_object_set_new(o, "ok", json_integer((json_int_t)s->n_ok));
	json_object_set_new(o, "failed", json_integer((json_int_t)s->n_failed));
	json_object_set_new(o, "skipped", json_integer((json_int_t)s->n_skipped));
	json_object_set_new(o, "failure", s->failure[0] ? json_string(s->failure) : json_null());
	json_object_set_new(o, "message", s->message ? json_string(s->message) : json_null());
	json_object_set_new(o, "energy_per_unit_j", num(s->mean));
	json_object_set_new(o, "sd_j", num(s->sd));
	json_object_set_new(o, "ci_low_j", num(s->ci_low));
	json_object_set_new(o, "ci_high_j", num(s->ci_high));
	json_object_set_new(o, "ci_rel_pct", num(s->ci_rel_pct));
	json_object_set_new(o, "run_uncertainty_j", num(s->run_uncertainty));
	json_object_set_new(o, "estimated", json_boolean(s->estimated));
	json_t *m = json_object();
	for (int k = 0; k < SM_N; k++)
		if (isfinite(s->metric_mean[k]))
			json_object_set_new(m, sweep_metric_name(k), json_real(s->metric_mean[k]));
	json_object_set_new(o, "metrics", m);
	return o;
}

/* Per numeric parameter with several values: among configurations equal in every other
 * parameter, the value with the lowest mean energy per unit. */
static json_t *optima_json(const struct sweep_data *d)
{
	const struct sweep_plan *p = &d->plan;
	json_t *arr = json_array();
	for (size_t pi = 0; pi < p->n_params; pi++) {
		if (p->params[pi].n_values < 2)
			continue;
		bool *seen = calloc(d->n_configs, sizeof *seen);
		for (size_t c = 0; c < d->n_configs; c++) {
			if (seen[c])
				continue;
			ssize_t best = -1;
			size_t members = 0;
			for (size_t k = c; k < d->n_configs; k++) {
				bool same = true;
				for (size_t q = 0; same && q < p->n_params; q++)
					same = q == pi || sweep_plan_value_index(p, k, q) ==
					                      sweep_plan_value_index(p, c, q);
				if (!same)
					continue;
				seen[k] = true;
				members++;
				const struct sweep_config_stats *s = &d->configs[k];
				if (s->n_ok && isfinite(s->mean) &&
				    (best < 0 || s->mean < d->configs[best].mean))
					best = (ssize_t)k;
			}
			if (members < 2 || best < 0)
				continue;
			json_t *o = json_object();
			json_object_set_new(o, "parameter", json_string(p->params[pi].name));
			json_t *group = params_object(p, (size_t)best);
			json_object_del(group, p->params[pi].name);
			json_object_set_new(o, "group", group);
			json_object_set_new(o, "best", json_string(sweep_plan_value(p, (size_t)best, pi)));
			json_object_set_new(o, "config", json_integer(best));
			json_object_set_new(o, "energy_per_unit_j", num(d->configs[best].mean));
			json_object_set_new(o, "ci_low_j", num(d->configs[best].ci_low));
			json_object_set_new(o, "ci_high_j", num(d->configs[best].ci_high));
			json_array_append_new(arr, o);
		}
		free(seen);
	}
	return arr;
}

static size_t distinct(const double *v, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		bool dup = false;
		for (size_t j = 0; j < i && !dup; j++)
			dup = v[j] == v[i];
		k += !dup;
	}
	return k;
}

static void add_corr(json_t *arr, const char *xname, const char *yname, const double *x, const double *y,
                     size_t n, const struct sweep_analysis_opts *o)
{
	double *xs = malloc((n ? n : 1) * sizeof *xs), *ys = malloc((n ? n : 1) * sizeof *ys);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (isfinite(x[i]) && isfinite(y[i])) {
			xs[k] = x[i];
			ys[k++] = y[i];
		}
	if (distinct(xs, k) >= 2) {
		for (size_t m = 0; m < o->n_methods; m++) {
			struct an_corr c;
			if (an_correlate(o->methods[m], xs, ys, k, 0.95, &c) < 0)
				continue;
			json_t *e = json_object();
			json_object_set_new(e, "x", json_string(xname));
			json_object_set_new(e, "y", json_string(yname));
			json_object_set_new(e, "method", json_string(an_method_name(o->methods[m])));
			json_object_set_new(e, "rho", num(c.rho));
			json_object_set_new(e, "p_value", num(c.p_value));
			json_object_set_new(e, "n", json_integer((json_int_t)c.n));
			json_object_set_new(e, "ci_low", num(c.ci_low));
			json_object_set_new(e, "ci_high", num(c.ci_high));
			json_array_append_new(arr, e);
		}
	}
	free(xs);
	free(ys);
}

static json_t *correlations_json(const struct sweep_data *d, const struct sweep_analysis_opts *o)
{
	json_t *arr = json_array();
	size_t n = 0;
	for (size_t i = 0; i < d->n_runs; i++)
		n += !strcmp(d->runs[i].state, "ok");
	double *x = malloc((n ? n : 1) * sizeof *x), *y = malloc((n ? n : 1) * sizeof *y);
	static const enum sweep_metric ys[] = {SM_ENERGY_PER_UNIT, SM_ENERGY, SM_AVG_POWER,
	                                       SM_ENERGY_PER_TOKEN};
	/* x: numeric parameters, then the model features the runs were tagged with. */
	size_t nx = d->plan.n_params + 3;
	for (size_t xi = 0; xi < nx; xi++) {
		const char *xname;
		enum sweep_metric feature = SM_N;
		if (xi < d->plan.n_params) {
			if (!d->plan.params[xi].numeric)
				continue;
			xname = d->plan.params[xi].name;
		} else {
			feature = (enum sweep_metric)(SM_MACS + (int)(xi - d->plan.n_params));
			xname = sweep_metric_name(feature);
		}
		for (size_t yi = 0; yi < sizeof ys / sizeof ys[0]; yi++) {
			size_t k = 0;
			for (size_t i = 0; i < d->n_runs; i++) {
				const struct sweep_run_data *r = &d->runs[i];
				if (strcmp(r->state, "ok"))
					continue;
				x[k] = feature == SM_N
				           ? strtod(sweep_plan_value(&d->plan, r->config, xi), NULL)
				           : r->m[feature];
				y[k++] = r->m[ys[yi]];
			}
			add_corr(arr, xname, sweep_metric_name(ys[yi]), x, y, k, o);
		}
	}
	free(x);
	free(y);
	return arr;
}

json_t *sweep_analysis_json(const struct sweep_data *d, const struct sweep_analysis_opts *o)
{
	json_t *root = json_object();
	json_object_set_new(root, "sweep_id", json_integer(d->sweep_id));
	json_object_set_new(root, "name", d->name ? json_string(d->name) : json_null());
	json_object_set_new(root, "status", json_string(d->status ? d->status : "?"));
	json_object_set_new(root, "started_at", d->started_at ? json_string(d->started_at) : json_null());
	json_object_set_new(root, "kind",
	                    json_string(d->plan.kind == SWEEP_KIND_SERVE_BENCH ? "serve-bench" : "run"));
	json_object_set_new(root, "unit",
	                    json_string(d->plan.kind == SWEEP_KIND_SERVE_BENCH ? "request" : "unit"));
	json_object_set_new(root, "confidence", json_real(d->confidence));
	json_t *params = json_array();
	for (size_t i = 0; i < d->plan.n_params; i++) {
		json_t *p = json_object();
		json_object_set_new(p, "name", json_string(d->plan.params[i].name));
		json_object_set_new(p, "numeric", json_boolean(d->plan.params[i].numeric));
		json_t *vals = json_array();
		for (size_t k = 0; k < d->plan.params[i].n_values; k++)
			json_array_append_new(vals, json_string(d->plan.params[i].values[k]));
		json_object_set_new(p, "values", vals);
		json_array_append_new(params, p);
	}
	json_object_set_new(root, "parameters", params);
	size_t ok = 0, failed = 0, skipped = 0;
	bool estimated = false;
	for (size_t i = 0; i < d->n_runs; i++) {
		ok += !strcmp(d->runs[i].state, "ok");
		failed += !strcmp(d->runs[i].state, "failed");
		skipped += !strcmp(d->runs[i].state, "skipped");
		estimated |= d->runs[i].estimated != NULL;
	}
	json_object_set_new(root, "runs", json_integer((json_int_t)d->n_runs));
	json_object_set_new(root, "ok", json_integer((json_int_t)ok));
	json_object_set_new(root, "failed", json_integer((json_int_t)failed));
	json_object_set_new(root, "skipped", json_integer((json_int_t)skipped));
	json_object_set_new(root, "estimated", json_boolean(estimated));
	json_t *configs = json_array();
	for (size_t c = 0; c < d->n_configs; c++)
		json_array_append_new(configs, config_json(d, &d->configs[c]));
	json_object_set_new(root, "configurations", configs);
	json_t *cons = json_array();
	for (size_t i = 0; i < o->n_constraints; i++) {
		char t[128];
		snprintf(t, sizeof t, "%s%s%g", sweep_metric_name(o->constraints[i].metric),
		         o->constraints[i].op, o->constraints[i].value);
		json_array_append_new(cons, json_string(t));
	}
	json_object_set_new(root, "subject_to", cons);
	ssize_t best = sweep_cheapest(d, o->constraints, o->n_constraints);
	json_object_set_new(root, "cheapest", best >= 0 ? config_json(d, &d->configs[best]) : json_null());
	json_object_set_new(root, "optima", optima_json(d));
	json_object_set_new(root, "correlations", correlations_json(d, o));
	/* Every run, for the report's per-run points. */
	json_t *runs = json_array();
	for (size_t i = 0; i < d->n_runs; i++) {
		const struct sweep_run_data *r = &d->runs[i];
		json_t *e = json_object();
		json_object_set_new(e, "position", json_integer((json_int_t)r->position));
		json_object_set_new(e, "config", json_integer((json_int_t)r->config));
		json_object_set_new(e, "rep", json_integer(r->rep));
		json_object_set_new(e, "state", json_string(r->state));
		json_object_set_new(e, "failure", r->failure[0] ? json_string(r->failure) : json_null());
		json_object_set_new(e, "message", r->message ? json_string(r->message) : json_null());
		json_object_set_new(e, "run_id", r->run_id ? json_integer(r->run_id) : json_null());
		json_object_set_new(e, "params", params_object(&d->plan, r->config));
		json_t *m = json_object();
		for (int k = 0; k < SM_N; k++)
			if (isfinite(r->m[k]))
				json_object_set_new(m, sweep_metric_name(k), json_real(r->m[k]));
		json_object_set_new(e, "metrics", m);
		json_object_set_new(e, "estimated", r->estimated ? json_string(r->estimated) : json_null());
		json_array_append_new(runs, e);
	}
	json_object_set_new(root, "run_list", runs);
	return root;
}

static void params_line(const struct sweep_plan *p, size_t config, char *buf, size_t len)
{
	buf[0] = 0;
	for (size_t i = 0; i < p->n_params; i++) {
		size_t l = strlen(buf);
		snprintf(buf + l, len - l, "%s%s=%s", i ? " " : "", p->params[i].name,
		         sweep_plan_value(p, config, i));
	}
}

void sweep_analysis_print(FILE *f, const struct sweep_data *d, json_t *a)
{
	const char *unit = d->plan.kind == SWEEP_KIND_SERVE_BENCH ? "request" : "unit";
	fprintf(f, "sweep %lld%s%s%s: %lld runs, %lld ok, %lld failed, %lld skipped (%s)\n",
	        (long long)d->sweep_id, d->name ? " (" : "", d->name ? d->name : "", d->name ? ")" : "",
	        (long long)json_integer_value(json_object_get(a, "runs")),
	        (long long)json_integer_value(json_object_get(a, "ok")),
	        (long long)json_integer_value(json_object_get(a, "failed")),
	        (long long)json_integer_value(json_object_get(a, "skipped")), d->status ? d->status : "?");
	fprintf(f,
	        "energy per %s over repetitions: mean, sd, %.0f%% interval (Student t); 'run ±' is each "
	        "run's own "
	        "measurement uncertainty\n",
	        unit, d->confidence * 100);
	int w = 24;
	for (size_t c = 0; c < d->n_configs; c++) {
		char pl[256];
		params_line(&d->plan, c, pl, sizeof pl);
		if ((int)strlen(pl) > w)
			w = (int)strlen(pl);
	}
	fprintf(f, "  %-*s %4s %4s %11s %10s %25s %10s\n", w, "configuration", "runs", "ok", "mean", "sd",
	        "interval", "run ±");
	for (size_t c = 0; c < d->n_configs; c++) {
		const struct sweep_config_stats *s = &d->configs[c];
		char pl[256], m[32], sd[32], lo[32], hi[32], u[32], iv[80];
		params_line(&d->plan, c, pl, sizeof pl);
		if (!s->n_ok) {
			fprintf(f, "  %-*s %4zu %4zu  %s%s%s\n", w, pl, s->n_runs, s->n_ok,
			        s->failure[0] ? s->failure : "no result", s->message ? ": " : "",
			        s->message ? s->message : "");
			continue;
		}
		if (isfinite(s->ci_low))
			snprintf(iv, sizeof iv, "[%s, %s]", sweep_fmt_energy(s->ci_low, lo, sizeof lo),
			         sweep_fmt_energy(s->ci_high, hi, sizeof hi));
		else
			snprintf(iv, sizeof iv, "(one run)");
		fprintf(f, "  %-*s %4zu %4zu %11s %10s %25s %10s%s%s\n", w, pl, s->n_runs, s->n_ok,
		        sweep_fmt_energy(s->mean, m, sizeof m), sweep_fmt_energy(s->sd, sd, sizeof sd), iv,
		        sweep_fmt_energy(s->run_uncertainty, u, sizeof u),
		        s->n_failed ? "  some failed: " : "", s->n_failed ? s->failure : "");
	}
	json_t *cons = json_object_get(a, "subject_to");
	char constext[512] = "";
	size_t i;
	json_t *v;
	json_array_foreach(cons, i, v)
	{
		size_t l = strlen(constext);
		snprintf(constext + l, sizeof constext - l, "%s%s", i ? " and " : "", json_string_value(v));
	}
	json_t *best = json_object_get(a, "cheapest");
	if (json_is_object(best)) {
		size_t c = (size_t)json_integer_value(json_object_get(best, "config"));
		const struct sweep_config_stats *s = &d->configs[c];
		char pl[256], m[32], lo[32], hi[32];
		params_line(&d->plan, c, pl, sizeof pl);
		fprintf(f, "cheapest%s%s: %s: %s per %s", constext[0] ? " subject to " : "", constext, pl,
		        sweep_fmt_energy(s->mean, m, sizeof m), unit);
		if (isfinite(s->ci_low))
			fprintf(f, ", %.0f%% interval [%s, %s] (%zu runs)", d->confidence * 100,
			        sweep_fmt_energy(s->ci_low, lo, sizeof lo),
			        sweep_fmt_energy(s->ci_high, hi, sizeof hi), s->n_ok);
		else
			fprintf(f, " (one run: no interval)");
		for (size_t k = 0; k < json_array_size(cons); k++) {
			(void)k;
		}
		fprintf(f, "%s\n",
		        s->estimated ? " [estimated: this machine has no energy sensor for it]" : "");
	} else {
		fprintf(f, "cheapest%s%s: no configuration %s\n", constext[0] ? " subject to " : "", constext,
		        constext[0] ? "meets the constraints" : "has a result");
	}
	json_t *opt = json_object_get(a, "optima");
	if (json_array_size(opt) && d->plan.n_params > 1) {
		fprintf(f, "optimum of each parameter per group of the others:\n");
		json_array_foreach(opt, i, v)
		{
			char m[32], grp[256] = "";
			const char *key;
			json_t *gv;
			json_object_foreach(json_object_get(v, "group"), key, gv)
			{
				size_t l = strlen(grp);
				char val[64];
				if (json_is_string(gv))
					snprintf(val, sizeof val, "%s", json_string_value(gv));
				else
					snprintf(val, sizeof val, "%g", json_number_value(gv));
				snprintf(grp + l, sizeof grp - l, "%s%s=%s", l ? " " : "", key, val);
			}
			fprintf(f, "  %s=%s at %s (%s per %s)\n",
			        json_string_value(json_object_get(v, "parameter")),
			        json_string_value(json_object_get(v, "best")), grp,
			        sweep_fmt_energy(json_number_value(json_object_get(v, "energy_per_unit_j")),
			                         m, sizeof m),
			        unit);
		}
	}
	json_t *corr = json_object_get(a, "correlations");
	if (json_array_size(corr)) {
		fprintf(f, "correlations over the runs that completed:\n  %-16s %-26s %-9s %7s %9s %4s\n",
		        "x", "y", "method", "rho", "p-value", "n");
		json_array_foreach(corr, i, v)
		{
			double rho = json_number_value(json_object_get(v, "rho"));
			double p = json_number_value(json_object_get(v, "p_value"));
			long long n = (long long)json_integer_value(json_object_get(v, "n"));
			char rs[16] = "-", ps[16] = "-";
			if (json_is_number(json_object_get(v, "rho")))
				snprintf(rs, sizeof rs, "%.3f", rho);
			if (json_is_number(json_object_get(v, "p_value")))
				snprintf(ps, sizeof ps, "%.2g", p);
			fprintf(f, "  %-16s %-26s %-9s %7s %9s %4lld%s\n",
			        json_string_value(json_object_get(v, "x")),
			        json_string_value(json_object_get(v, "y")),
			        json_string_value(json_object_get(v, "method")), rs, ps, n,
			        n < 10 ? "  (few runs: read with care)" : "");
		}
	}
	if (json_is_true(json_object_get(a, "estimated")))
		fprintf(f, "note: some energy figures are estimated (no sensor measured them): compare them "
		           "with each "
		           "other, not with measured ones\n");
}

/* --- the verb ------------------------------------------------------------------------ */

enum { OPT_SWEEP = 3700, OPT_DB, OPT_SUBJECT_TO, OPT_METHOD, OPT_CONFIDENCE, OPT_JSON };

int cmd_analyze_sweep(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"sweep", required_argument, NULL, OPT_SWEEP},
	    {"db", required_argument, NULL, OPT_DB},
	    {"subject-to", required_argument, NULL, OPT_SUBJECT_TO},
	    {"method", required_argument, NULL, OPT_METHOD},
	    {"confidence", required_argument, NULL, OPT_CONFIDENCE},
	    {"json", required_argument, NULL, OPT_JSON},
	    {NULL, 0, NULL, 0},
	};
	long long sweep_id = 0;
	const char *db_path = NULL, *json_path = NULL;
	struct sweep_constraint cons[16];
	size_t n_cons = 0;
	enum an_method methods[AN_N_METHODS] = {AN_SPEARMAN};
	size_t n_methods = 1;
	double confidence = 0.95;
	char err[1024];
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		char *end;
		switch (c) {
		case OPT_SWEEP:
			sweep_id = strtoll(optarg, &end, 10);
			if (end == optarg || *end || sweep_id <= 0)
				return cmd_usage_error(VERB, "invalid value '%s' for --sweep (a sweep id)",
				                       optarg);
			break;
		case OPT_DB:
			db_path = optarg;
			break;
		case OPT_SUBJECT_TO:
			if (n_cons == sizeof cons / sizeof cons[0])
				return cmd_usage_error(VERB, "too many --subject-to");
			if (sweep_constraint_parse(optarg, &cons[n_cons], err, sizeof err) < 0)
				return cmd_usage_error(VERB, "--subject-to %s", err);
			n_cons++;
			break;
		case OPT_METHOD: {
			n_methods = 0;
			char *copy = gops_xstrdup(optarg), *save = NULL;
			for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
				if (n_methods == AN_N_METHODS ||
				    an_method_parse(t, &methods[n_methods]) < 0) {
					free(copy);
					return cmd_usage_error(
					    VERB, "unknown --method '%s' (spearman, pearson, kendall)", t);
				}
				n_methods++;
			}
			free(copy);
			break;
		}
		case OPT_CONFIDENCE:
			confidence = strtod(optarg, &end);
			if (end == optarg || *end || !(confidence > 0 && confidence < 1))
				return cmd_usage_error(
				    VERB, "invalid value '%s' for --confidence (between 0 and 1)", optarg);
			break;
		case OPT_JSON:
			json_path = optarg;
			break;
		case ':':
			return cmd_usage_error(VERB, "option '%s' needs a value", argv[optind - 1]);
		default:
			return cmd_usage_error(VERB, "option '%s' does not go with --sweep",
			                       argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cmd_usage_error(VERB, "unexpected argument '%s'", argv[optind]);
	char *path = db_path ? gops_xstrdup(db_path) : gops_db_default_path();
	if (!path || access(path, F_OK) < 0) {
		int st = cmd_error(VERB, "no results database at '%s'", path ? path : "(no home folder)");
		free(path);
		return st;
	}
	struct sweep_store *store;
	int rc = sweep_store_open(&store, path, err, sizeof err);
	free(path);
	if (rc < 0)
		return cmd_error(VERB, "%s", err);
	struct sweep_data d;
	int status = 0;
	if (sweep_data_load(sweep_store_conn(store), sweep_id, confidence, &d, err, sizeof err) < 0) {
		status = cmd_error(VERB, "%s", err);
		goto out;
	}
	struct sweep_analysis_opts o = {cons, n_cons, methods, n_methods};
	json_t *a = sweep_analysis_json(&d, &o);
	bool json_stdout = json_path && !strcmp(json_path, "-");
	sweep_analysis_print(json_stdout ? stderr : stdout, &d, a);
	if (json_path) {
		int flags = JSON_INDENT(2) | JSON_PRESERVE_ORDER;
		if (json_stdout ? json_dumpf(a, stdout, flags) < 0 || fputc('\n', stdout) == EOF
		                : json_dump_file(a, json_path, flags) < 0)
			status = cmd_error(VERB, "cannot write '%s'", json_path);
	}
	json_decref(a);
	sweep_data_release(&d);
out:
	sweep_store_close(store);
	return status;
}
