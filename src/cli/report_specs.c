/* Vega-Lite specifications of the report's figures. Data goes inline ("values"), so each spec
 * stands alone: the HTML embeds it, node renders it to SVG, and a reader can paste it into
 * the Vega editor. */
#include "cli/report_specs.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCHEMA             "https://vega.github.io/schema/vega-lite/v6.json"
#define WIDTH              560
#define HEIGHT             300
#define MAX_BANDS_LABELLED 24
#define MAX_POINTS         4000 /* per domain: more are averaged into bins */

static json_t *num(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static json_t *base_spec(const char *title, const char *subtitle)
{
	json_t *t = json_pack("{s:s}", "text", title);
	/* A subtitle of several clauses ("a; b; c") becomes one line each: one long line would
	 * stretch the figure to its width. */
	if (subtitle) {
		json_t *lines = json_array();
		const char *p = subtitle;
		while (*p) {
			size_t len = strcspn(p, ";");
			json_array_append_new(lines, json_stringn(p, len));
			p += len;
			if (*p == ';')
				p++;
			while (*p == ' ')
				p++;
		}
		json_object_set_new(t, "subtitle", lines);
	}
	return json_pack("{s:s, s:o, s:i, s:i, s:{s:{s:i, s:i}, s:{s:s}}}", "$schema", SCHEMA, "title", t,
	                 "width", WIDTH, "height", HEIGHT, "config", "axis", "labelFontSize", 11,
	                 "titleFontSize", 12, "view", "stroke", "#ddd");
}

/* --- timeline ------------------------------------------------------------------------ */

struct band {
	const char *name;
	double start, end;
	size_t count;
};

/* Consecutive windows of one name (a window per batch) become one band. */
static size_t merge_bands(const struct report_window *w, size_t n, double span, struct band *out)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(w[i].start_s) || !isfinite(w[i].end_s))
			continue;
		if (k && !strcmp(out[k - 1].name, w[i].name) &&
		    w[i].start_s - out[k - 1].end <= span * 0.01 && n > 12) {
			if (w[i].end_s > out[k - 1].end)
				out[k - 1].end = w[i].end_s;
			out[k - 1].count++;
			continue;
		}
		out[k++] = (struct band){w[i].name, w[i].start_s, w[i].end_s, 1};
	}
	return k;
}

json_t *report_timeline_spec(const char *title, const struct report_sample *s, size_t n,
                             const struct report_window *w, size_t n_windows, const char *subtitle)
{
	double t_end = 0;
	for (size_t i = 0; i < n; i++)
		if (s[i].t_s > t_end)
			t_end = s[i].t_s;
	for (size_t i = 0; i < n_windows; i++)
		if (isfinite(w[i].end_s) && w[i].end_s > t_end)
			t_end = w[i].end_s;
	double span = t_end > 0 ? t_end : 1;

	/* Samples, binned per domain when there are too many to draw. */
	json_t *pts = json_array();
	size_t n_dom = 0;
	const char *doms[32];
	for (size_t i = 0; i < n && n_dom < 32; i++) {
		bool seen = false;
		for (size_t d = 0; d < n_dom && !seen; d++)
			seen = !strcmp(doms[d], s[i].domain);
		if (!seen)
			doms[n_dom++] = s[i].domain;
	}
	for (size_t d = 0; d < n_dom; d++) {
		size_t cnt = 0;
		for (size_t i = 0; i < n; i++)
			cnt += !strcmp(s[i].domain, doms[d]);
		size_t bins = cnt > MAX_POINTS ? MAX_POINTS : 0;
		double *sum = bins ? calloc(bins, sizeof *sum) : NULL,
		       *st = bins ? calloc(bins, sizeof *st) : NULL;
		size_t *c = bins ? calloc(bins, sizeof *c) : NULL;
		for (size_t i = 0; i < n; i++) {
			if (strcmp(s[i].domain, doms[d]) || !isfinite(s[i].watts))
				continue;
			if (!bins) {
				json_array_append_new(pts,
				                      json_pack("{s:o, s:s, s:o}", "t", num(s[i].t_s),
				                                "domain", doms[d], "watts", num(s[i].watts)));
				continue;
			}
			size_t b = (size_t)(s[i].t_s / span * (double)(bins - 1));
			if (b >= bins)
				b = bins - 1;
			sum[b] += s[i].watts;
			st[b] += s[i].t_s;
			c[b]++;
		}
		for (size_t b = 0; b < bins; b++)
			if (c[b])
				json_array_append_new(pts, json_pack("{s:f, s:s, s:f}", "t",
				                                     st[b] / (double)c[b], "domain", doms[d],
				                                     "watts", sum[b] / (double)c[b]));
		free(sum);
		free(st);
		free(c);
	}

	struct band *bands = calloc(n_windows ? n_windows : 1, sizeof *bands);
	size_t nb = merge_bands(w, n_windows, span, bands);
	json_t *bv = json_array();
	/* Label the widest bands only: a label needs room, and hundreds would overlap. Bands are
	 * edged in white so that adjacent windows stay apart. */
	double min_label = span * 0.04;
	size_t labelled = 0;
	for (size_t i = 0; i < nb; i++) {
		char label[160];
		if (bands[i].count > 1)
			snprintf(label, sizeof label, "%s ×%zu", bands[i].name, bands[i].count);
		else
			snprintf(label, sizeof label, "%s", bands[i].name);
		bool show = bands[i].end - bands[i].start >= min_label && labelled < MAX_BANDS_LABELLED;
		labelled += show;
		json_array_append_new(bv, json_pack("{s:f, s:f, s:s, s:s, s:i, s:b}", "start", bands[i].start,
		                                    "end", bands[i].end, "name", bands[i].name, "label",
		                                    label, "count", (int)bands[i].count, "labelled", show));
	}
	free(bands);

	json_t *spec = base_spec(title, subtitle);
	json_t *x = json_pack("{s:s, s:s, s:s, s:{s:[f,f]}}", "field", "t", "type", "quantitative", "title",
	                      "time (s)", "scale", "domain", 0.0, span);
	json_t *layers = json_array();
	if (json_array_size(bv)) {
		json_array_append_new(
		    layers,
		    json_pack(
		        "{s:{s:O}, s:{s:s, s:f, s:s, s:s, s:f}, s:{s:{s:s, s:s, s:s, s:{s:[f,f]}}, s:{s:s}, "
		        "s:[{s:s, s:s}, "
		        "{s:s, s:s, s:s}, {s:s, s:s, s:s}, {s:s, s:s}]}}",
		        "data", "values", bv, "mark", "type", "rect", "fillOpacity", 0.2, "fill", "#4c78a8",
		        "stroke", "white", "strokeWidth", 1.5, "encoding", "x", "field", "start", "type",
		        "quantitative", "title", "time (s)", "scale", "domain", 0.0, span, "x2", "field",
		        "end", "tooltip", "field", "label", "type", "nominal", "field", "start", "type",
		        "quantitative", "title", "start (s)", "field", "end", "type", "quantitative", "title",
		        "end (s)", "field", "count", "type", "quantitative"));
		json_array_append_new(
		    layers,
		    json_pack("{s:{s:O}, s:[{s:s}], s:{s:s, s:s, s:s, s:f, s:i, s:s, s:i, s:i, s:i}, "
		              "s:{s:{s:s, s:s}, s:{s:f}, s:{s:s}}}",
		              "data", "values", bv, "transform", "filter", "datum.labelled", "mark", "type",
		              "text", "align", "left", "baseline", "top", "dx", 3.0, "dy", 3, "color",
		              "#23415e", "fontSize", 11, "limit", 160, "angle", 0, "encoding", "x", "field",
		              "start", "type", "quantitative", "y", "value", 0.0, "text", "field", "label"));
	}
	json_array_append_new(
	    layers,
	    json_pack("{s:{s:O}, s:{s:s, s:f, s:b}, s:{s:O, s:{s:s, s:s, s:s}, s:{s:s, s:s, "
	              "s:s, s:{s:i, s:s}}, s:[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}]}}",
	              "data", "values", pts, "mark", "type", "line", "strokeWidth", 1.4, "clip", 1,
	              "encoding", "x", x, "y", "field", "watts", "type", "quantitative", "title", "power (W)",
	              "color", "field", "domain", "type", "nominal", "title", "domain", "legend",
	              "labelLimit", 400, "orient", "bottom", "tooltip", "field", "t", "type", "quantitative",
	              "field", "domain", "type", "nominal", "field", "watts", "type", "quantitative"));
	json_decref(x);
	json_decref(bv);
	json_decref(pts);
	json_object_set_new(spec, "layer", layers);
	return spec;
}

/* --- sweeps -------------------------------------------------------------------------- */

static const char *unit_word(json_t *a)
{
	const char *u = json_string_value(json_object_get(a, "unit"));
	return u ? u : "unit";
}

/* A field encoding: {"field": F, "type": T[, "title": TITLE]}. */
static json_t *field(const char *f, const char *type, const char *title)
{
	json_t *e = json_pack("{s:s, s:s}", "field", f, "type", type);
	if (title)
		json_object_set_new(e, "title", json_string(title));
	return e;
}

static json_t *layer(json_t *data, json_t *mark, json_t *encoding)
{
	json_t *l =
	    json_pack("{s:{s:O}, s:o, s:o}", "data", "values", data, "mark", mark, "encoding", encoding);
	return l;
}

static bool all_positive_wide(json_t *vals)
{
	double lo = INFINITY, hi = 0;
	size_t i;
	json_t *v;
	json_array_foreach(vals, i, v)
	{
		double x = atof(json_string_value(v));
		if (!(x > 0))
			return false;
		lo = x < lo ? x : lo;
		hi = x > hi ? x : hi;
	}
	return hi / lo >= 16;
}

static json_t *find_param(json_t *a, const char *name)
{
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(a, "parameters"), i, p)
	{
		if (!strcmp(json_string_value(json_object_get(p, "name")), name))
			return p;
	}
	return NULL;
}

/* "arch=small gap=2": the values of the parameters other than `param`, leaving out those
 * that hold one value over the whole sweep (they tell the lines nothing apart, and only push
 * the names that do past the legend's width). */
static void group_label(json_t *a, json_t *params, const char *param, char *buf, size_t len)
{
	buf[0] = 0;
	const char *k;
	json_t *v;
	json_object_foreach(params, k, v)
	{
		if (!strcmp(k, param))
			continue;
		json_t *p = find_param(a, k);
		if (p && json_array_size(json_object_get(p, "values")) == 1)
			continue;
		size_t l = strlen(buf);
		if (json_is_string(v))
			snprintf(buf + l, len - l, "%s%s=%s", l ? " " : "", k, json_string_value(v));
		else
			snprintf(buf + l, len - l, "%s%s=%g", l ? " " : "", k, json_number_value(v));
	}
	if (!buf[0])
		snprintf(buf, len, "all");
}

/* The x axis of a parameter: its values in order; a log2 scale when they span 16x or more
 * (batch sizes 1..1024 would otherwise crowd into the left corner). */
static json_t *x_encoding(json_t *a, const char *param, const char *title)
{
	json_t *p = find_param(a, param);
	bool numeric = json_is_true(json_object_get(p, "numeric"));
	json_t *x = field("x", numeric ? "quantitative" : "ordinal", title ? title : param);
	if (numeric) {
		/* The plan's values are the ticks, and the axis spans them all, failed ones too. */
		json_t *ticks = json_array();
		double lo = INFINITY, hi = -INFINITY;
		size_t i;
		json_t *v;
		json_array_foreach(json_object_get(p, "values"), i, v)
		{
			double d = atof(json_string_value(v));
			json_array_append_new(ticks, json_real(d));
			lo = d < lo ? d : lo;
			hi = d > hi ? d : hi;
		}
		bool log2 = all_positive_wide(json_object_get(p, "values"));
		json_t *scale = json_pack("{s:[f,f], s:b}", "domain", lo, hi, "nice", 0);
		if (log2) {
			json_object_set_new(scale, "type", json_string("log"));
			json_object_set_new(scale, "base", json_integer(2));
		} else {
			json_object_set_new(scale, "zero", json_false());
		}
		if (!(hi > lo))
			json_object_del(scale, "domain");
		json_object_set_new(x, "scale", scale);
		json_object_set_new(
		    x, "axis",
		    json_array_size(ticks) <= 16
		        ? json_pack("{s:o, s:s, s:i}", "values", ticks, "format", "~g", "labelFlush", 0)
		        : (json_decref(ticks), json_pack("{s:s}", "format", "~g")));
	} else {
		/* Names (architectures) are long: slanted, so that neighbours do not overwrite. */
		json_object_set_new(x, "axis",
		                    json_pack("{s:i, s:s}", "labelAngle", -30, "labelAlign", "right"));
		json_object_set_new(x, "sort", json_incref(json_object_get(p, "values")));
		/* Points, not bands: an error bar's caps keep their size instead of spanning a band. */
		json_object_set_new(x, "scale", json_pack("{s:s, s:f}", "type", "point", "padding", 0.5));
	}
	return x;
}

/* The axis title of a parameter: the request rate and the batch size with their units. */
static const char *param_title(const char *param, char *buf, size_t len)
{
	if (!strcmp(param, "rate"))
		return "request rate (requests/s)";
	if (!strcmp(param, "batch") || !strcmp(param, "batch_size"))
		snprintf(buf, len, "batch size (samples per batch)");
	else
		snprintf(buf, len, "%s", param);
	return buf;
}

/* Joules shown in the unit that keeps the largest value between 1 and 1000. */
struct energy_unit {
	double scale;
	const char *name;
};

static struct energy_unit energy_unit_for(double max_j)
{
	static const struct energy_unit units[] = {
	    {1e3, "kJ"}, {1, "J"}, {1e-3, "mJ"}, {1e-6, "µJ"}, {1e-9, "nJ"}};
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (max_j >= units[i].scale)
			return (struct energy_unit){1 / units[i].scale, units[i].name};
	return (struct energy_unit){1e9, "nJ"};
}

static double metric_of(json_t *c, const char *metric)
{
	json_t *m = !strcmp(metric, "energy_per_unit_j")
	                ? json_object_get(c, "energy_per_unit_j")
	                : json_object_get(json_object_get(c, "metrics"), metric);
	return json_is_number(m) ? json_number_value(m) : NAN;
}

static double number_or_nan(json_t *v)
{
	return json_is_number(v) ? json_number_value(v) : NAN;
}

struct curve {
	json_t *configs, *runs;
	struct energy_unit unit;
	bool has_interval, clipped;
	size_t n_groups;
	json_t *failed; /* configurations with no result: {x, failure} */
};

/* One point per configuration with its interval (energy per unit only: the other metrics are
 * means without one), and one per completed run. An interval below zero is clipped there:
 * energy is not negative, and the table keeps the interval as computed. */
static void curve_points(json_t *a, const char *param, const char *metric, struct curve *cv)
{
	cv->configs = json_array();
	cv->runs = json_array();
	cv->has_interval = cv->clipped = false;
	cv->n_groups = 0;
	cv->failed = json_array();
	json_t *groups = json_object();
	json_t *best = json_object_get(a, "cheapest");
	long long best_c = json_is_object(best) ? json_integer_value(json_object_get(best, "config")) : -1;
	bool per_unit = !strcmp(metric, "energy_per_unit_j");
	double max_j = 0;
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(a, "configurations"), i, c)
	{
		double y = metric_of(c, metric);
		if (isfinite(y) && y > max_j)
			max_j = y;
	}
	cv->unit = energy_unit_for(max_j);
	double k = cv->unit.scale;
	/* The cheapest per line (the optimum of the parameter in each group). */
	json_t *optima = json_object_get(a, "optima");
	json_array_foreach(json_object_get(a, "configurations"), i, c)
	{
		json_t *params = json_object_get(c, "params");
		double y = metric_of(c, metric);
		const char *failure = json_string_value(json_object_get(c, "failure"));
		if (!isfinite(y) && failure && per_unit)
			json_array_append_new(
			    cv->failed,
			    json_pack("{s:O, s:s}", "x", json_object_get(params, param), "failure", failure));
		if (!isfinite(y))
			continue;
		double lo = per_unit ? number_or_nan(json_object_get(c, "ci_low_j")) : NAN;
		double hi = per_unit ? number_or_nan(json_object_get(c, "ci_high_j")) : NAN;
		if (isfinite(lo) && lo < 0) {
			lo = 0;
			cv->clipped = true;
		}
		cv->has_interval |= isfinite(lo) && isfinite(hi);
		bool optimum = false;
		size_t j;
		json_t *o;
		json_array_foreach(optima, j, o)
		{
			if (!strcmp(json_string_value(json_object_get(o, "parameter")), param) &&
			    json_integer_value(json_object_get(o, "config")) == (json_int_t)i)
				optimum = true;
		}
		char g[256], label[64];
		group_label(a, params, param, g, sizeof g);
		json_object_set_new(groups, g, json_true());
		snprintf(label, sizeof label, "cheapest: %.3g %s", y * k, cv->unit.name);
		json_array_append_new(cv->configs,
		                      json_pack("{s:O, s:o, s:o, s:o, s:s, s:b, s:b, s:i, s:s}", "x",
		                                json_object_get(params, param), "y", num(y * k), "lo",
		                                num(lo * k), "hi", num(hi * k), "group", g, "best",
		                                (long long)i == best_c, "optimum", per_unit && optimum, "ok",
		                                (int)json_integer_value(json_object_get(c, "ok")), "label",
		                                label));
	}
	cv->n_groups = json_object_size(groups);
	json_decref(groups);
	json_t *r;
	json_array_foreach(json_object_get(a, "run_list"), i, r)
	{
		if (strcmp(json_string_value(json_object_get(r, "state")), "ok"))
			continue;
		double y = number_or_nan(json_object_get(json_object_get(r, "metrics"), metric));
		if (!isfinite(y))
			continue;
		char g[256];
		group_label(a, json_object_get(r, "params"), param, g, sizeof g);
		json_array_append_new(
		    cv->runs, json_pack("{s:O, s:f, s:s, s:I}", "x",
		                        json_object_get(json_object_get(r, "params"), param), "y", y * k,
		                        "group", g, "run", json_integer_value(json_object_get(r, "run_id"))));
	}
}

/* The layers of a metric against a parameter: each run a faint dot, each configuration's mean
 * on a line per group with its interval as an error bar, the optimum of each line ringed and
 * the cheapest configuration marked and labelled with its value. */
static json_t *curve_layers(json_t *a, const char *param, const char *metric, const char *ytitle,
                            bool mark_best, struct curve *cv)
{
	curve_points(a, param, metric, cv);
	char xt[128], yt[160];
	json_t *x = x_encoding(a, param, param_title(param, xt, sizeof xt));
	snprintf(yt, sizeof yt, "%s (%s)", ytitle, cv->unit.name);
	json_t *y = json_pack("{s:s, s:s, s:s, s:{s:b}}", "field", "y", "type", "quantitative", "title", yt,
	                      "scale", "zero", 0);
	json_t *color = field("group", "nominal", "configuration");
	json_object_set_new(color, "legend",
	                    cv->n_groups > 1 ? json_pack("{s:s}", "orient", "bottom") : json_null());
	json_t *layers = json_array();
	json_array_append_new(
	    layers,
	    layer(cv->runs, json_pack("{s:s, s:f, s:f}", "type", "circle", "opacity", 0.35, "size", 22.0),
	          json_pack("{s:O, s:O, s:O, s:[o,o,o]}", "x", x, "y", y, "color", color, "tooltip",
	                    field("group", "nominal", "configuration"), field("y", "quantitative", yt),
	                    field("run", "quantitative", "run"))));
	if (cv->has_interval)
		json_array_append_new(
		    layers,
		    layer(cv->configs,
		          json_pack("{s:s, s:b, s:f}", "type", "errorbar", "ticks", 1, "thickness", 1.5),
		          json_pack("{s:O, s:{s:s, s:s, s:s}, s:{s:s}, s:O}", "x", x, "y", "field", "lo",
		                    "type", "quantitative", "title", yt, "y2", "field", "hi", "color",
		                    color)));
	/* Means of a numeric parameter on a line; of named ones (architectures), points alone: a
	 * line between names would suggest an order that is not there. */
	bool numeric = json_is_true(json_object_get(find_param(a, param), "numeric"));
	json_array_append_new(
	    layers,
	    layer(cv->configs,
	          numeric ? json_pack("{s:s, s:{s:b}, s:f}", "type", "line", "point", "filled", 1,
	                              "strokeWidth", 2.0)
	                  : json_pack("{s:s, s:b, s:f}", "type", "point", "filled", 1, "size", 70.0),
	          json_pack("{s:O, s:O, s:O, s:[o,o,o,o,o]}", "x", x, "y", y, "color", color, "tooltip",
	                    field("group", "nominal", "configuration"), field("y", "quantitative", yt),
	                    field("lo", "quantitative", "interval from"),
	                    field("hi", "quantitative", "interval to"),
	                    field("ok", "quantitative", "runs"))));
	if (json_array_size(cv->failed)) {
		/* What failed stays on the axis, named by its class ("oom"), along the bottom. */
		json_array_append_new(
		    layers,
		    json_pack("{s:{s:O}, s:{s:s, s:s, s:s, s:s, s:i, s:s}, s:{s:O, s:{s:f}, "
		              "s:{s:s}}}",
		              "data", "values", cv->failed, "mark", "type", "text", "color", "#b22222",
		              "baseline", "bottom", "fontWeight", "bold", "dy", -4, "align", "center",
		              "encoding", "x", x, "y", "value", (double)HEIGHT, "text", "field", "failure"));
	}
	if (mark_best) {
		json_array_append_new(
		    layers, json_pack("{s:{s:O}, s:[{s:s}], s:{s:s, s:b, s:f, s:s, s:f}, s:{s:O, s:O}}",
		                      "data", "values", cv->configs, "transform", "filter", "datum.optimum",
		                      "mark", "type", "point", "filled", 0, "size", 260.0, "color", "#333",
		                      "strokeWidth", 1.2, "encoding", "x", x, "y", y));
		json_array_append_new(
		    layers, json_pack("{s:{s:O}, s:[{s:s}], s:{s:s, s:s, s:f, s:s, s:b}, s:{s:O, s:O}}",
		                      "data", "values", cv->configs, "transform", "filter", "datum.best",
		                      "mark", "type", "point", "shape", "diamond", "size", 240.0, "color",
		                      "#d62728", "filled", 1, "encoding", "x", x, "y", y));
		json_array_append_new(
		    layers,
		    json_pack("{s:{s:O}, s:[{s:s}], s:{s:s, s:i, s:s, s:s, s:i}, s:{s:O, s:O, s:{s:s}}}",
		              "data", "values", cv->configs, "transform", "filter", "datum.best", "mark",
		              "type", "text", "dy", -20, "color", "#d62728", "fontWeight", "bold", "fontSize",
		              12, "encoding", "x", x, "y", y, "text", "field", "label"));
	}
	json_decref(x);
	json_decref(y);
	json_decref(color);
	return layers;
}

static void finish_curve(json_t *spec, json_t *layers, struct curve *cv)
{
	json_object_set_new(spec, "layer", layers);
	json_decref(cv->configs);
	json_decref(cv->runs);
	json_decref(cv->failed);
}

json_t *report_param_spec(json_t *analysis, const char *param)
{
	char title[160], ytitle[96], bars[64] = "", sub[400];
	snprintf(title, sizeof title, "Energy per %s against %s", unit_word(analysis), param);
	snprintf(ytitle, sizeof ytitle, "energy per %s", unit_word(analysis));
	struct curve cv;
	json_t *layers = curve_layers(analysis, param, "energy_per_unit_j", ytitle, true, &cv);
	if (cv.has_interval)
		snprintf(bars, sizeof bars, ", error bars: its %.0f%% interval",
		         json_number_value(json_object_get(analysis, "confidence")) * 100);
	snprintf(sub, sizeof sub,
	         "mean of the repetitions%s%s; faint dots: single runs, ringed: the cheapest of each line%s",
	         cv.has_interval ? bars : " (one run each: no interval)", cv.clipped ? " (clipped at 0)" : "",
	         json_is_true(json_object_get(analysis, "estimated")) ? "; ESTIMATED power (no energy sensor)"
	                                                              : "");
	json_t *spec = base_spec(title, sub);
	finish_curve(spec, layers, &cv);
	return spec;
}

/* The lowest rate whose runs did not keep to their schedule: the server saturated there. */
static double saturation_rate(json_t *analysis, const char *rate_param)
{
	double sat = INFINITY;
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(analysis, "configurations"), i, c)
	{
		json_t *k = json_object_get(json_object_get(c, "metrics"), "keeps_up");
		json_t *x = json_object_get(json_object_get(c, "params"), rate_param);
		if (json_is_number(k) && json_number_value(k) < 0.5 && json_is_number(x) &&
		    json_number_value(x) < sat)
			sat = json_number_value(x);
	}
	return sat;
}

static void add_saturation(json_t *layers, double sat)
{
	if (!isfinite(sat))
		return;
	json_array_append_new(
	    layers, json_pack("{s:{s:[{s:f}]}, s:{s:s, s:[i,i], s:s, s:f}, s:{s:{s:s, s:s}}}", "data",
	                      "values", "x", sat, "mark", "type", "rule", "strokeDash", 6, 4, "color", "#777",
	                      "strokeWidth", 1.5, "encoding", "x", "field", "x", "type", "quantitative"));
	json_array_append_new(
	    layers, json_pack("{s:{s:[{s:f}]}, s:{s:s, s:s, s:s, s:s, s:i, s:i, s:s}, s:{s:{s:s, s:s}}}",
	                      "data", "values", "x", sat, "mark", "type", "text", "text", "saturated",
	                      "align", "left", "baseline", "top", "dx", 4, "y", 4, "color", "#555",
	                      "encoding", "x", "field", "x", "type", "quantitative"));
}

json_t *report_rate_energy_spec(json_t *analysis, const char *rate_param, const char *metric,
                                const char *title)
{
	bool per_request = !strcmp(metric, "energy_per_unit_j");
	struct curve cv;
	json_t *layers =
	    curve_layers(analysis, rate_param, metric,
	                 per_request ? "energy per request" : "energy per output token", per_request, &cv);
	double sat = saturation_rate(analysis, rate_param);
	add_saturation(layers, sat);
	char sub[300];
	snprintf(sub, sizeof sub, "%s%s%s",
	         per_request ? "mean of the repetitions with its interval; the cheapest configuration marked"
	                     : "mean of the repetitions; faint dots: single runs",
	         isfinite(sat) ? "; dashed: the first rate the server could not keep up with"
	                       : "; the server kept up at every rate",
	         json_is_true(json_object_get(analysis, "estimated")) ? "; ESTIMATED power" : "");
	json_t *spec = base_spec(title, sub);
	finish_curve(spec, layers, &cv);
	return spec;
}

json_t *report_latency_spec(json_t *analysis, const char *rate_param)
{
	static const struct {
		const char *metric, *kind, *pct;
	} series[] = {{"ttft_median_ms", "time to first token", "p50"},
	              {"ttft_p90_ms", "time to first token", "p90"},
	              {"ttft_p99_ms", "time to first token", "p99"},
	              {"e2el_median_ms", "end to end", "p50"},
	              {"e2el_p90_ms", "end to end", "p90"},
	              {"e2el_p99_ms", "end to end", "p99"}};
	json_t *vals = json_array();
	size_t i, n_groups = 0;
	char groups[16][256];
	json_t *c;
	json_array_foreach(json_object_get(analysis, "configurations"), i, c)
	{
		char g[256];
		group_label(analysis, json_object_get(c, "params"), rate_param, g, sizeof g);
		bool seen = false;
		for (size_t k = 0; k < n_groups && !seen; k++)
			seen = !strcmp(groups[k], g);
		if (!seen && n_groups < 16)
			snprintf(groups[n_groups++], sizeof groups[0], "%s", g);
		for (size_t k = 0; k < sizeof series / sizeof series[0]; k++) {
			json_t *m = json_object_get(json_object_get(c, "metrics"), series[k].metric);
			if (!json_is_number(m) || !(json_number_value(m) > 0))
				continue;
			json_array_append_new(
			    vals, json_pack("{s:O, s:f, s:s, s:s, s:s}", "x",
			                    json_object_get(json_object_get(c, "params"), rate_param), "y",
			                    json_number_value(m), "kind", series[k].kind, "percentile",
			                    series[k].pct, "group", g));
		}
	}
	json_t *spec =
	    base_spec("Latency percentiles against the request rate",
	              n_groups > 1 ? "mean over the repetitions; line style: the server's configuration"
	                           : "mean over the repetitions");
	json_object_set_new(spec, "width", json_integer(300));
	json_object_set_new(spec, "height", json_integer(240));
	json_t *x = x_encoding(analysis, rate_param, "request rate (requests/s)");
	json_object_set_new(spec, "data", json_pack("{s:o}", "values", vals));
	json_object_set_new(spec, "mark",
	                    json_pack("{s:s, s:b, s:f}", "type", "line", "point", 1, "strokeWidth", 2.0));
	json_t *color = field("percentile", "ordinal", "percentile");
	json_object_set_new(color, "scale",
	                    json_pack("{s:[s,s,s], s:[s,s,s]}", "domain", "p50", "p90", "p99", "range",
	                              "#9ecae1", "#3182bd", "#08306b"));
	json_t *enc =
	    json_pack("{s:o, s:{s:s, s:s, s:s, s:{s:s}, s:{s:s}}, s:o, s:{s:s, s:s, s:[s,s], s:{s:s}}, "
	              "s:[o,o,o,o]}",
	              "x", x, "y", "field", "y", "type", "quantitative", "title", "latency (ms)", "scale",
	              "type", "log", "axis", "format", "~g", "color", color, "column", "field", "kind",
	              "type", "nominal", "sort", "time to first token", "end to end", "header", "title", "",
	              "tooltip", field("kind", "nominal", "latency"), field("percentile", "ordinal", NULL),
	              field("group", "nominal", "server"), field("y", "quantitative", "ms"));
	if (n_groups > 1)
		json_object_set_new(enc, "strokeDash", field("group", "nominal", "server"));
	json_object_set_new(spec, "encoding", enc);
	json_object_set_new(spec, "resolve", json_pack("{s:{s:s}}", "scale", "y", "independent"));
	return spec;
}

json_t *report_corr_spec(json_t *analysis)
{
	json_t *corr = json_object_get(analysis, "correlations");
	if (!json_array_size(corr))
		return NULL;
	json_t *vals = json_array();
	size_t i;
	json_t *c;
	json_array_foreach(corr, i, c)
	{
		if (strcmp(json_string_value(json_object_get(c, "method")), "spearman") &&
		    json_array_size(corr) > 1 && i > 0)
			continue;
		json_t *rho = json_object_get(c, "rho");
		char txt[32] = "–";
		if (json_is_number(rho))
			snprintf(txt, sizeof txt, "%.2f", json_number_value(rho));
		json_array_append_new(vals, json_pack("{s:O, s:O, s:O, s:O, s:O, s:s}", "x",
		                                      json_object_get(c, "x"), "y", json_object_get(c, "y"),
		                                      "rho", rho, "p", json_object_get(c, "p_value"), "n",
		                                      json_object_get(c, "n"), "label", txt));
	}
	json_t *spec = base_spec("Correlations with energy", "Spearman's rho over the runs that completed");
	json_object_set_new(spec, "width", json_integer(360));
	json_object_set_new(spec, "height", json_integer(200));
	json_object_set_new(spec, "data", json_pack("{s:o}", "values", vals));
	json_t *enc =
	    json_pack("{s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s}}", "x", "field", "x", "type", "nominal", "title",
	              "parameter or model feature", "y", "field", "y", "type", "nominal", "title", "metric");
	json_object_set_new(
	    spec, "layer",
	    json_pack("[{s:{s:s}, s:{s:{s:s, s:s, s:s, s:{s:s, s:[i,i]}}, s:[{s:s}, {s:s}, {s:s, s:s}, {s:s, "
	              "s:s}, {s:s, s:s}]}}, {s:{s:s, s:i}, s:{s:{s:s}}}]",
	              "mark", "type", "rect", "encoding", "color", "field", "rho", "type", "quantitative",
	              "title", "rho", "scale", "scheme", "redblue", "domain", -1, 1, "tooltip", "field", "x",
	              "field", "y", "field", "rho", "type", "quantitative", "field", "p", "type",
	              "quantitative", "field", "n", "type", "quantitative", "mark", "type", "text",
	              "fontSize", 12, "encoding", "text", "field", "label"));
	json_object_set_new(spec, "encoding", enc);
	return spec;
}
