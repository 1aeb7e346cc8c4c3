/* greenops report: one self-contained HTML file (the plotting libraries and the data inlined,
 * so it opens offline from disk) plus SVG and PNG figures, for a sweep or a single run. The
 * figures are Vega-Lite specifications (report_specs.c) drawn by vega in the browser and by
 * vega under node for the files (report_assets.c). */
#include "cli/commands.h"
#include "cli/report_assets.h"
#include "cli/report_specs.h"
#include "cli/sweep_analysis.h"
#include "base/util.h"
#include "store/db.h"
#include "sweep/stats.h"
#include "sweep/store.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VERB "report"

const char usage_report[] =
    "usage: greenops report (--sweep ID | --run ID|last) [--db PATH] [-o DIR] [--subject-to C]...\n"
    "                       [--no-figures]\n"
    "\n"
    "Writes DIR/report.html, one file that opens offline in a browser (the plotting libraries and\n"
    "the data are inside it), and each figure as DIR/figures/NAME.svg and .png. For a sweep: energy\n"
    "per unit against each parameter (the repetitions' interval as error bars, the cheapest marked),\n"
    "for serve-bench sweeps energy per request and per token and latency percentiles against the\n"
    "rate (saturation marked), the correlations as a heat map, the power timeline of the cheapest\n"
    "configuration's first run with its windows, and a table of every configuration. For a run: its\n"
    "power timeline and windows. Prints the report's path.\n"
    "\n"
    "  --sweep ID         a sweep (greenops sweep prints its id)\n"
    "  --run ID|last      one stored run\n"
    "  --db PATH          results database\n"
    "                     (" HELP_DB_DEFAULT ")\n"
    "  -o, --output DIR   where to write (default greenops-report-sweep-ID or greenops-report-run-ID)\n"
    "  --subject-to C     the cheapest configuration must meet C (as greenops analyze --sweep)\n"
    "  --no-figures       the HTML only (no node or rsvg-convert needed)\n";

enum { OPT_SWEEP = 3800, OPT_RUN, OPT_DB, OPT_SUBJECT_TO, OPT_NO_FIGURES };

struct figure {
	char name[64];
	char title[160];
	json_t *spec;
};

struct report {
	const char *dir;
	struct figure figs[32];
	size_t n_figs;
	char err[1024];
};

static void add_figure(struct report *r, const char *name, const char *title, json_t *spec)
{
	if (!spec || r->n_figs == sizeof r->figs / sizeof r->figs[0]) {
		json_decref(spec);
		return;
	}
	struct figure *f = &r->figs[r->n_figs++];
	snprintf(f->name, sizeof f->name, "%s", name);
	snprintf(f->title, sizeof f->title, "%s", title);
	f->spec = spec;
}

static void html_text(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '&':
			fputs("&amp;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		default:
			fputc(*s, f);
		}
	}
}

/* --- data from the database ------------------------------------------------------------ */

struct timeline {
	struct report_sample *s;
	size_t n;
	struct report_window *w;
	size_t n_w;
	char **strings;
	size_t n_strings;
};

static const char *keep(struct timeline *t, const unsigned char *s)
{
	t->strings = realloc(t->strings, (t->n_strings + 1) * sizeof *t->strings);
	return t->strings[t->n_strings++] = gops_xstrdup(s ? (const char *)s : "");
}

static void timeline_release(struct timeline *t)
{
	for (size_t i = 0; i < t->n_strings; i++)
		free(t->strings[i]);
	free(t->strings);
	free(t->s);
	free(t->w);
	memset(t, 0, sizeof *t);
}

static double col(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

static int load_timeline(sqlite3 *conn, int64_t run_id, struct timeline *t)
{
	memset(t, 0, sizeof *t);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(conn, "SELECT t_s, domain, watts FROM samples WHERE run_id = ? ORDER BY t_s",
	                       -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_int64(st, 1, run_id);
	size_t cap = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (t->n == cap)
			t->s = realloc(t->s, (cap = cap ? cap * 2 : 1024) * sizeof *t->s);
		t->s[t->n++] =
		    (struct report_sample){col(st, 0), keep(t, sqlite3_column_text(st, 1)), col(st, 2)};
	}
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(
	        conn,
	        "SELECT name, start_s, end_s, units, energy_j FROM windows WHERE run_id = ? ORDER BY "
	        "start_s, position",
	        -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_int64(st, 1, run_id);
	cap = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (t->n_w == cap)
			t->w = realloc(t->w, (cap = cap ? cap * 2 : 64) * sizeof *t->w);
		t->w[t->n_w++] = (struct report_window){keep(t, sqlite3_column_text(st, 0)), col(st, 1),
		                                        col(st, 2), col(st, 3), col(st, 4)};
	}
	sqlite3_finalize(st);
	return 0;
}

/* --- writing --------------------------------------------------------------------------- */

static const char css[] =
    "body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:1000px;"
    "color:#222;padding:0 1em}h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:2em;"
    "border-bottom:1px solid #ddd}.summary{color:#444}.estimated{background:#fff4ce;border:1px solid "
    "#e0c060;padding:.6em 1em;border-radius:4px}.fig{margin:.5em 0}.files{font-size:.85em;color:#777}"
    "table{border-collapse:collapse;font-size:.9em;margin-top:.5em}td,th{border-bottom:1px solid "
    "#eee;padding:.3em .7em;text-align:right}th{background:#f6f6f6}td:first-child,th:first-child{text-align:"
    "left}tr.best{background:#fde8e8;font-weight:600}.fail{color:#a33}#report-errors:empty{display:none}"
    "#report-errors{color:#a00}code{background:#f3f3f3;padding:0 .25em}";

static void write_figures_html(FILE *f, const struct report *r, bool files)
{
	for (size_t i = 0; i < r->n_figs; i++) {
		fprintf(f, "<section><h2>");
		html_text(f, r->figs[i].title);
		fprintf(f, "</h2><div class=\"fig\" id=\"fig%zu\"></div>", i);
		if (files)
			fprintf(f, "<p class=\"files\">figures/%s.svg, figures/%s.png</p>", r->figs[i].name,
			        r->figs[i].name);
		fprintf(f, "</section>\n");
	}
}

static void write_embed_script(FILE *f, const struct report *r)
{
	fputs(
	    "<pre id=\"report-errors\"></pre>\n<script>\n"
	    "const reportErrors = [];\n"
	    "window.addEventListener('error', e => reportErrors.push(String(e.message)));\n"
	    "const consoleError = console.error;\n"
	    "console.error = (...a) => { reportErrors.push(a.map(String).join(' ')); consoleError(...a); };\n"
	    "const specs = [\n",
	    f);
	for (size_t i = 0; i < r->n_figs; i++) {
		/* Escaped slashes: no "</script" can close this element from inside the data. */
		char *s = json_dumps(r->figs[i].spec, JSON_COMPACT | JSON_ESCAPE_SLASH);
		fprintf(f, "%s,\n", s ? s : "null");
		free(s);
	}
	fputs(
	    "];\n"
	    "Promise.all(specs.map((s, i) => vegaEmbed('#fig' + i, s, {actions: false, renderer: 'svg'})))\n"
	    "  .then(() => { document.body.dataset.rendered = String(specs.length); })\n"
	    "  .catch(e => reportErrors.push(String(e)))\n"
	    "  .finally(() => {\n"
	    "    document.getElementById('report-errors').textContent = reportErrors.join('\\n');\n"
	    "    document.body.dataset.done = '1';\n"
	    "  });\n"
	    "</script>\n",
	    f);
}

static void config_table(FILE *f, const struct sweep_data *d, json_t *a)
{
	const struct sweep_plan *p = &d->plan;
	json_t *best = json_object_get(a, "cheapest");
	long long best_c = json_is_object(best) ? json_integer_value(json_object_get(best, "config")) : -1;
	bool bench = p->kind == SWEEP_KIND_SERVE_BENCH;
	fputs("<h2>Configurations</h2>\n<table><tr>", f);
	for (size_t i = 0; i < p->n_params; i++) {
		fputs("<th>", f);
		html_text(f, p->params[i].name);
		fputs("</th>", f);
	}
	fprintf(f,
	        "<th>runs</th><th>ok</th><th>energy per %s</th><th>sd</th><th>%.0f%% interval</th><th>run "
	        "±</th><th>%s</th><th>outcome</th></tr>\n",
	        bench ? "request" : "unit", d->confidence * 100, bench ? "TTFT p99" : "units/s");
	for (size_t c = 0; c < d->n_configs; c++) {
		const struct sweep_config_stats *s = &d->configs[c];
		fprintf(f, "<tr%s>", (long long)c == best_c ? " class=\"best\"" : "");
		for (size_t i = 0; i < p->n_params; i++) {
			fputs("<td>", f);
			html_text(f, sweep_plan_value(p, c, i));
			fputs("</td>", f);
		}
		char m[32], sd[32], lo[32], hi[32], u[32];
		fprintf(f, "<td>%zu</td><td>%zu</td><td>%s</td><td>%s</td>", s->n_runs, s->n_ok,
		        sweep_fmt_energy(s->mean, m, sizeof m), sweep_fmt_energy(s->sd, sd, sizeof sd));
		if (isfinite(s->ci_low))
			fprintf(f, "<td>[%s, %s]</td>", sweep_fmt_energy(s->ci_low, lo, sizeof lo),
			        sweep_fmt_energy(s->ci_high, hi, sizeof hi));
		else
			fputs("<td>–</td>", f);
		fprintf(f, "<td>%s</td>", sweep_fmt_energy(s->run_uncertainty, u, sizeof u));
		double extra = s->metric_mean[bench ? SM_TTFT_P99 : SM_UNITS_PER_S];
		if (isfinite(extra))
			fprintf(f, "<td>%.4g%s</td>", extra, bench ? " ms" : "");
		else
			fputs("<td>–</td>", f);
		if (s->failure[0]) {
			fputs("<td class=\"fail\">", f);
			html_text(f, s->failure);
			if (s->message) {
				fputs(": ", f);
				html_text(f, s->message);
			}
			fputs("</td>", f);
		} else {
			fprintf(f, "<td>%s%s</td>", (long long)c == best_c ? "cheapest" : "ok",
			        s->estimated ? " (estimated)" : "");
		}
		fputs("</tr>\n", f);
	}
	fputs("</table>\n", f);
}

static int make_dir(const char *path, char *err, size_t errlen)
{
	if (mkdir(path, 0777) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create '%s': %s", path, strerror(errno));
		return -errno;
	}
	return 0;
}

static int write_report(struct report *r, const char *title, void (*body)(FILE *, void *), void *ctx,
                        bool figures)
{
	char err[1024];
	const char *assets = report_assets_dir(err, sizeof err);
	if (!assets) {
		snprintf(r->err, sizeof r->err, "%s", err);
		return -ENOENT;
	}
	if (make_dir(r->dir, r->err, sizeof r->err) < 0)
		return -EIO;
	char *path = gops_xasprintf("%s/report.html", r->dir);
	char *tmp = gops_xasprintf("%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f) {
		snprintf(r->err, sizeof r->err, "cannot write '%s': %s", tmp, strerror(errno));
		free(path);
		free(tmp);
		return -EIO;
	}
	fputs("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>", f);
	html_text(f, title);
	fprintf(f, "</title>\n<style>%s</style>\n", css);
	int rc = report_assets_inline(f, assets, r->err, sizeof r->err);
	fputs("</head>\n<body>\n", f);
	body(f, ctx);
	write_figures_html(f, r, figures);
	write_embed_script(f, r);
	fputs("</body></html>\n", f);
	if (fclose(f) != 0 && !rc) {
		snprintf(r->err, sizeof r->err, "cannot write '%s'", tmp);
		rc = -EIO;
	}
	if (!rc && rename(tmp, path) < 0) {
		snprintf(r->err, sizeof r->err, "cannot write '%s': %s", path, strerror(errno));
		rc = -EIO;
	}
	unlink(tmp);
	free(tmp);
	if (!rc && figures && r->n_figs) {
		char *fdir = gops_xasprintf("%s/figures", r->dir);
		rc = make_dir(fdir, r->err, sizeof r->err);
		struct report_figure rf[32];
		for (size_t i = 0; !rc && i < r->n_figs; i++)
			rf[i] = (struct report_figure){r->figs[i].spec,
			                               gops_xasprintf("%s/%s.svg", fdir, r->figs[i].name),
			                               gops_xasprintf("%s/%s.png", fdir, r->figs[i].name)};
		if (!rc) {
			rc = report_render(assets, rf, r->n_figs, r->err, sizeof r->err);
			for (size_t i = 0; i < r->n_figs; i++) {
				free(rf[i].svg);
				free(rf[i].png);
			}
		}
		free(fdir);
		if (rc < 0) {
			fprintf(stderr,
			        "greenops report: %s; the HTML is complete, the figure files are not\n",
			        r->err);
			rc = 0;
		}
	}
	if (!rc)
		printf("%s\n", path);
	free(path);
	return rc;
}

/* --- a sweep --------------------------------------------------------------------------- */

struct sweep_ctx {
	struct sweep_data *d;
	json_t *a;
	bool has_timeline;
	long long timeline_run;
};

static void sweep_body(FILE *f, void *p)
{
	struct sweep_ctx *c = p;
	struct sweep_data *d = c->d;
	json_t *a = c->a;
	fputs("<h1>", f);
	fprintf(f, "Sweep %lld", (long long)d->sweep_id);
	if (d->name) {
		fputs(": ", f);
		html_text(f, d->name);
	}
	fputs("</h1>\n<p class=\"summary\">", f);
	fprintf(f, "%lld runs (%lld ok, %lld failed, %lld skipped), %s, started %s. ",
	        (long long)json_integer_value(json_object_get(a, "runs")),
	        (long long)json_integer_value(json_object_get(a, "ok")),
	        (long long)json_integer_value(json_object_get(a, "failed")),
	        (long long)json_integer_value(json_object_get(a, "skipped")), d->status ? d->status : "?",
	        d->started_at ? d->started_at : "?");
	json_t *best = json_object_get(a, "cheapest");
	const char *unit = d->plan.kind == SWEEP_KIND_SERVE_BENCH ? "request" : "unit";
	if (json_is_object(best)) {
		const struct sweep_config_stats *s =
		    &d->configs[json_integer_value(json_object_get(best, "config"))];
		char m[32], lo[32], hi[32];
		fputs("Cheapest", f);
		json_t *cons = json_object_get(a, "subject_to");
		for (size_t i = 0; i < json_array_size(cons); i++) {
			fputs(i ? " and " : " subject to <code>", f);
			html_text(f, json_string_value(json_array_get(cons, i)));
		}
		if (json_array_size(cons))
			fputs("</code>", f);
		fputs(": <b>", f);
		for (size_t i = 0; i < d->plan.n_params; i++) {
			fprintf(f, "%s", i ? ", " : "");
			html_text(f, d->plan.params[i].name);
			fputc('=', f);
			html_text(f, sweep_plan_value(&d->plan, s->config, i));
		}
		fprintf(f, "</b>, %s per %s", sweep_fmt_energy(s->mean, m, sizeof m), unit);
		if (isfinite(s->ci_low))
			fprintf(f, " (%.0f%% interval %s to %s over %zu runs)", d->confidence * 100,
			        sweep_fmt_energy(s->ci_low, lo, sizeof lo),
			        sweep_fmt_energy(s->ci_high, hi, sizeof hi), s->n_ok);
		fputs(".", f);
	} else {
		fputs("No configuration has a result that meets the constraints.", f);
	}
	fputs("</p>\n", f);
	if (json_is_true(json_object_get(a, "estimated")))
		fputs("<p class=\"estimated\"><b>Estimated figures.</b> This machine has no energy sensor "
		      "for some of "
		      "what was measured: those figures come from a model of CPU load and memory, not from "
		      "hardware "
		      "counters. Compare them with each other, not with measured figures.</p>\n",
		      f);
	if (!c->has_timeline)
		fputs(
		    "<p class=\"files\">No power timeline: the runs were stored without their samples.</p>\n",
		    f);
	config_table(f, d, a);
}

static int report_sweep(struct report *r, sqlite3 *conn, int64_t id, const struct sweep_constraint *cons,
                        size_t n_cons, bool figures)
{
	struct sweep_data d;
	char err[1024];
	int rc = sweep_data_load(conn, id, 0.95, &d, err, sizeof err);
	if (rc < 0) {
		snprintf(r->err, sizeof r->err, "%s", err);
		sweep_data_release(&d);
		return rc;
	}
	enum an_method m = AN_SPEARMAN;
	struct sweep_analysis_opts o = {cons, n_cons, &m, 1};
	json_t *a = sweep_analysis_json(&d, &o);
	const char *unit = d.plan.kind == SWEEP_KIND_SERVE_BENCH ? "request" : "unit";
	bool bench = d.plan.kind == SWEEP_KIND_SERVE_BENCH;
	ssize_t rate_p = -1;
	for (size_t i = 0; bench && i < d.plan.n_params; i++)
		if (!strcmp(d.plan.params[i].name, "rate"))
			rate_p = (ssize_t)i;
	if (rate_p >= 0) {
		add_figure(r, "energy-per-request-rate", "Energy per request against the request rate",
		           report_rate_energy_spec(a, "rate", "energy_per_unit_j",
		                                   "Energy per request against the rate"));
		add_figure(r, "energy-per-token-rate", "Energy per output token against the request rate",
		           report_rate_energy_spec(a, "rate", "energy_per_output_token_j",
		                                   "Energy per output token against the rate"));
		add_figure(r, "latency-rate", "Latency percentiles against the request rate",
		           report_latency_spec(a, "rate"));
	}
	for (size_t i = 0; i < d.plan.n_params; i++) {
		if ((ssize_t)i == rate_p || d.plan.params[i].n_values < 2)
			continue;
		char name[64], title[160];
		snprintf(name, sizeof name, "energy-%s", d.plan.params[i].name);
		for (char *q = name; *q; q++)
			if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", *q))
				*q = '_';
		snprintf(title, sizeof title, "Energy per %s against %s", unit, d.plan.params[i].name);
		add_figure(r, name, title, report_param_spec(a, d.plan.params[i].name));
	}
	add_figure(r, "correlations", "Correlations of parameters and model features with energy",
	           report_corr_spec(a));
	/* The timeline of the cheapest configuration's first run (or the first run that has one). */
	struct sweep_ctx ctx = {&d, a, false, 0};
	json_t *best = json_object_get(a, "cheapest");
	long long best_c = json_is_object(best) ? json_integer_value(json_object_get(best, "config")) : -1;
	for (int pass = 0; pass < 2 && !ctx.has_timeline; pass++)
		for (size_t i = 0; i < d.n_runs && !ctx.has_timeline; i++) {
			const struct sweep_run_data *run = &d.runs[i];
			if (!run->run_id || strcmp(run->state, "ok") ||
			    (pass == 0 && (long long)run->config != best_c))
				continue;
			struct timeline t;
			if (load_timeline(conn, run->run_id, &t) == 0 && t.n) {
				char title[200], sub[300];
				snprintf(title, sizeof title, "Power of run %lld", (long long)run->run_id);
				char params[200] = "";
				for (size_t k = 0; k < d.plan.n_params; k++) {
					size_t l = strlen(params);
					snprintf(params + l, sizeof params - l, "%s%s=%s", k ? " " : "",
					         d.plan.params[k].name,
					         sweep_plan_value(&d.plan, run->config, k));
				}
				snprintf(sub, sizeof sub,
				         "%s, repetition %u; shaded: the windows the workload marked%s",
				         params, run->rep,
				         run->estimated ? "; ESTIMATED power (no sensor)" : "");
				add_figure(r, "power-timeline", "Power timeline with windows",
				           report_timeline_spec(title, t.s, t.n, t.w, t.n_w, sub));
				ctx.has_timeline = true;
				ctx.timeline_run = run->run_id;
			}
			timeline_release(&t);
		}
	char title[200];
	snprintf(title, sizeof title, "greenops report: sweep %lld%s%s", (long long)id, d.name ? " " : "",
	         d.name ? d.name : "");
	rc = write_report(r, title, sweep_body, &ctx, figures);
	json_decref(a);
	sweep_data_release(&d);
	return rc;
}

/* --- a run ----------------------------------------------------------------------------- */

struct run_ctx {
	long long id;
	size_t n_windows;
	bool has_samples;
	char *command, *started_at, *status;
	double duration_s, energy_j, uncertainty_j, units, energy_per_unit_j;
};

static void run_body(FILE *f, void *p)
{
	struct run_ctx *c = p;
	char e[32], u[32], pu[32];
	fprintf(f, "<h1>Run %lld</h1>\n<p class=\"summary\"><code>", c->id);
	html_text(f, c->command);
	fputs("</code>, ", f);
	html_text(f, c->status);
	fputs(", started ", f);
	html_text(f, c->started_at);
	fprintf(f, ", %.3g s: %s", c->duration_s, sweep_fmt_energy(c->energy_j, e, sizeof e));
	if (isfinite(c->uncertainty_j))
		fprintf(f, " ± %s", sweep_fmt_energy(c->uncertainty_j, u, sizeof u));
	if (isfinite(c->energy_per_unit_j))
		fprintf(f, ", %s per unit over %.6g units",
		        sweep_fmt_energy(c->energy_per_unit_j, pu, sizeof pu), c->units);
	fprintf(f, "; %zu windows.%s</p>\n", c->n_windows,
	        c->has_samples
	            ? ""
	            : " The run was stored without its samples (greenops run --samples): no timeline.");
}

static char *text_col(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);
	return gops_xstrdup(s ? (const char *)s : "");
}

/* The run's row; -ENOENT when there is none. */
static int load_run(sqlite3 *conn, int64_t id, struct run_ctx *c)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(
	        conn,
	        "SELECT command, started_at, status, duration_s, energy_j, uncertainty_j, units, "
	        "energy_per_unit_j FROM runs WHERE id = ?",
	        -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	int rc = -ENOENT;
	if (sqlite3_step(st) == SQLITE_ROW) {
		c->command = text_col(st, 0);
		c->started_at = text_col(st, 1);
		c->status = text_col(st, 2);
		c->duration_s = col(st, 3);
		c->energy_j = col(st, 4);
		c->uncertainty_j = col(st, 5);
		c->units = col(st, 6);
		c->energy_per_unit_j = col(st, 7);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

static int report_run(struct report *r, sqlite3 *conn, int64_t id, bool figures)
{
	if (id == GOPS_DB_LAST) {
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(conn, "SELECT MAX(id) FROM runs", -1, &st, NULL) == SQLITE_OK &&
		    sqlite3_step(st) == SQLITE_ROW)
			id = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	struct run_ctx ctx = {.id = id};
	int rc = load_run(conn, id, &ctx);
	if (rc == -ENOENT && id == GOPS_DB_LAST)
		snprintf(r->err, sizeof r->err, "there is no run in the database");
	else if (rc == -ENOENT)
		snprintf(r->err, sizeof r->err, "there is no run %lld", (long long)id);
	struct timeline t;
	if (!rc && load_timeline(conn, id, &t) < 0) {
		snprintf(r->err, sizeof r->err, "cannot read run %lld", (long long)id);
		rc = -EIO;
	}
	if (rc < 0)
		return rc;
	ctx.n_windows = t.n_w;
	ctx.has_samples = t.n > 0;
	if (t.n) {
		char title[64];
		snprintf(title, sizeof title, "Power of run %lld", (long long)id);
		add_figure(r, "power-timeline", "Power timeline with windows",
		           report_timeline_spec(title, t.s, t.n, t.w, t.n_w,
		                                "shaded: the windows the workload marked"));
	}
	timeline_release(&t);
	char title[64];
	snprintf(title, sizeof title, "greenops report: run %lld", (long long)id);
	rc = write_report(r, title, run_body, &ctx, figures);
	free(ctx.command);
	free(ctx.started_at);
	free(ctx.status);
	return rc;
}

int cmd_report(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"sweep", required_argument, NULL, OPT_SWEEP},
	    {"run", required_argument, NULL, OPT_RUN},
	    {"db", required_argument, NULL, OPT_DB},
	    {"output", required_argument, NULL, 'o'},
	    {"subject-to", required_argument, NULL, OPT_SUBJECT_TO},
	    {"no-figures", no_argument, NULL, OPT_NO_FIGURES},
	    {NULL, 0, NULL, 0},
	};
	long long sweep_id = 0, run_id = 0;
	const char *db_path = NULL, *out = NULL;
	struct sweep_constraint cons[16];
	size_t n_cons = 0;
	bool figures = true;
	char err[1024];
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":o:", longopts, NULL)) != -1) {
		char *end;
		switch (c) {
		case OPT_SWEEP:
			sweep_id = strtoll(optarg, &end, 10);
			if (end == optarg || *end || sweep_id <= 0)
				return cmd_usage_error(VERB, "invalid value '%s' for --sweep (a sweep id)",
				                       optarg);
			break;
		case OPT_RUN:
			if (!strcmp(optarg, "last")) {
				run_id = GOPS_DB_LAST;
				break;
			}
			run_id = strtoll(optarg, &end, 10);
			if (end == optarg || *end || run_id <= 0)
				return cmd_usage_error(
				    VERB, "invalid value '%s' for --run (a run id or last)", optarg);
			break;
		case OPT_DB:
			db_path = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case OPT_SUBJECT_TO:
			if (n_cons == sizeof cons / sizeof cons[0])
				return cmd_usage_error(VERB, "too many --subject-to");
			if (sweep_constraint_parse(optarg, &cons[n_cons], err, sizeof err) < 0)
				return cmd_usage_error(VERB, "--subject-to %s", err);
			n_cons++;
			break;
		case OPT_NO_FIGURES:
			figures = false;
			break;
		case ':':
			return cmd_usage_error(VERB, "option '%s' needs a value", argv[optind - 1]);
		default:
			return cmd_usage_error(VERB, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cmd_usage_error(VERB, "unexpected argument '%s'", argv[optind]);
	if (!sweep_id == !run_id)
		return cmd_usage_error(VERB, "give one of --sweep ID or --run ID");
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
	char dflt[64];
	if (!out) {
		if (sweep_id)
			snprintf(dflt, sizeof dflt, "greenops-report-sweep-%lld", sweep_id);
		else if (run_id == GOPS_DB_LAST)
			snprintf(dflt, sizeof dflt, "greenops-report-run-last");
		else
			snprintf(dflt, sizeof dflt, "greenops-report-run-%lld", run_id);
		out = dflt;
	}
	struct report r = {.dir = out};
	rc = sweep_id ? report_sweep(&r, sweep_store_conn(store), sweep_id, cons, n_cons, figures)
	              : report_run(&r, sweep_store_conn(store), run_id, figures);
	for (size_t i = 0; i < r.n_figs; i++)
		json_decref(r.figs[i].spec);
	sweep_store_close(store);
	return rc < 0 ? cmd_error(VERB, "%s", r.err) : 0;
}
