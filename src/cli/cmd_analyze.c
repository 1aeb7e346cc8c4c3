/* greenops analyze: correlations between model or workload features and energy (Spearman,
 * Pearson, Kendall tau-b with SciPy's p-values and Fisher-z intervals), and the optimum search
 * (the x with the lowest mean y, and where increasing x stops paying), over a CSV file or the
 * runs of the results database. The statistics live in src/analysis. */
#include "analysis/optimum.h"
#include "analysis/stats.h"
#include "analysis/table.h"
#include "cli/commands.h"
#include "base/fmt.h"
#include "cli/db_cli.h"
#include "cli/sweep_analysis.h"
#include "base/util.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char usage_analyze[] =
    "usage: greenops analyze [--db PATH | --csv FILE] --x COLS --y COLS [--method LIST]\n"
    "                        [--where COL=VALUE]... [--confidence C] [--json FILE]\n"
    "       greenops analyze [--db PATH | --csv FILE] --optimum --x COL --y COL [--where ...]\n"
    "       greenops analyze --sweep ID [--db PATH] [--subject-to 'METRIC<=VALUE']... [--json FILE]\n"
    "\n"
    "Correlates every column of --x with every column of --y and prints rho, the two-sided\n"
    "p-value (as SciPy computes it), the number of complete pairs and a confidence interval.\n"
    "Rows missing a value in x or y are left out of that pair and counted as dropped. A constant\n"
    "column or fewer than 3 pairs gives no coefficient (null, with a warning), never 0.\n"
    "\n"
    "  --csv FILE        a CSV file with a header line; columns are used as numbers\n"
    "  --db PATH         the results database (" HELP_DB_DEFAULT ");\n"
    "                    columns: each run's energy_j, dynamic_energy_j, duration_s, units,\n"
    "                    energy_per_unit_j, avg_power_w, uncertainty_j, ... and its tags (batch,\n"
    "                    macs_per_param, ...); only completed runs unless --where status=... is given\n"
    "  --table NAME      with --db: runs (default); windows (one row per window: name, units,\n"
    "                    energy_j, energy_per_unit_j, ... and the run's tags); bench-runs\n"
    "                    (serve-bench: rate, energy_per_request_j, energy_per_output_token_j, ...)\n"
    "  --x COLS, --y COLS  comma-separated column names (a tag KEY is also found as tag.KEY)\n"
    "  --method LIST     spearman, pearson, kendall, comma-separated (default spearman)\n"
    "  --where COL=VALUE only rows whose COL equals VALUE (repeatable; all must match)\n"
    "  --confidence C    level of the confidence intervals (default 0.95)\n"
    "  --optimum         instead of correlations: the x with the lowest mean y over repeated runs,\n"
    "                    with its spread, and the first x from which a larger x gains nothing\n"
    "                    (mean within the lowest mean's standard deviation, or within 2%)\n"
    "  --json FILE       also write the results as JSON (- for stdout; the table then goes to stderr)\n"
    "\n"
    "Intervals: Fisher z-transform; variance 1/(n-3) for Pearson, 1.06/(n-3) for Spearman and\n"
    "0.437/(n-4) for Kendall (Fieller, Hartley & Pearson 1957). Kendall's p-value is always the\n"
    "tie-corrected normal approximation (scipy.stats.kendalltau(method='asymptotic')).\n"
    "--sweep ID: per configuration of the sweep, the mean, sd and Student-t interval of energy per\n"
    "unit over its repetitions; the cheapest configuration (--subject-to METRIC<=VALUE, also <, >=,\n"
    "> on the configuration's mean: ttft_p99_ms, e2el_p99_ms, samples_per_s, duration_s, ...); the\n"
    "optimum of each parameter per group of the others; correlations of the numeric parameters and\n"
    "model features (macs, params, macs_per_param) with energy (docs/SWEEP.md).\n"
    "docs/ANALYZE.md has the details.\n";

#define VERB "analyze"

enum {
	OPT_DB = 3300,
	OPT_CSV,
	OPT_TABLE,
	OPT_X,
	OPT_Y,
	OPT_METHOD,
	OPT_WHERE,
	OPT_CONFIDENCE,
	OPT_OPTIMUM,
	OPT_JSON
};

struct list {
	char **v;
	size_t n;
};

struct args {
	const char *db_path, *csv_path, *table, *json_path;
	struct list x, y, where;
	enum an_method methods[AN_N_METHODS];
	size_t n_methods;
	bool methods_given;
	double confidence;
	bool optimum;
};

static void list_add(struct list *l, char *s)
{
	char **v = realloc(l->v, (l->n + 1) * sizeof *v);
	if (!v)
		abort();
	l->v = v;
	l->v[l->n++] = s;
}

/* Splits a comma-separated list in place; empty items are a usage error. */
static bool split_cols(const char *opt, char *arg, struct list *l)
{
	for (char *p = arg;;) {
		char *c = strchr(p, ',');
		if (c)
			*c = 0;
		if (!*p) {
			cmd_usage_error(VERB, "invalid value for --%s: an empty column name in the list",
			                opt);
			return false;
		}
		list_add(l, p);
		if (!c)
			return true;
		p = c + 1;
	}
}

static bool parse_methods(char *arg, struct args *a)
{
	a->n_methods = 0;
	a->methods_given = true;
	for (char *save = NULL, *t = strtok_r(arg, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		enum an_method m;
		if (an_method_parse(t, &m) < 0) {
			cmd_usage_error(VERB, "unknown method '%s' in --method (spearman, pearson, kendall)",
			                t);
			return false;
		}
		bool dup = false;
		for (size_t i = 0; i < a->n_methods; i++)
			dup |= a->methods[i] == m;
		if (!dup)
			a->methods[a->n_methods++] = m;
	}
	if (!a->n_methods) {
		cmd_usage_error(VERB, "--method needs at least one of spearman, pearson, kendall");
		return false;
	}
	return true;
}

/* Returns 0 to go on, or the exit status of a usage error. */
static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
	    {"db", required_argument, NULL, OPT_DB},
	    {"csv", required_argument, NULL, OPT_CSV},
	    {"table", required_argument, NULL, OPT_TABLE},
	    {"x", required_argument, NULL, OPT_X},
	    {"y", required_argument, NULL, OPT_Y},
	    {"method", required_argument, NULL, OPT_METHOD},
	    {"where", required_argument, NULL, OPT_WHERE},
	    {"confidence", required_argument, NULL, OPT_CONFIDENCE},
	    {"optimum", no_argument, NULL, OPT_OPTIMUM},
	    {"json", required_argument, NULL, OPT_JSON},
	    {0},
	};
	a->methods[0] = AN_SPEARMAN;
	a->n_methods = 1;
	a->confidence = 0.95;
	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case OPT_DB:
			a->db_path = optarg;
			break;
		case OPT_CSV:
			a->csv_path = optarg;
			break;
		case OPT_TABLE:
			a->table = optarg;
			break;
		case OPT_X:
			if (!split_cols("x", optarg, &a->x))
				return 2;
			break;
		case OPT_Y:
			if (!split_cols("y", optarg, &a->y))
				return 2;
			break;
		case OPT_METHOD:
			if (!parse_methods(optarg, a))
				return 2;
			break;
		case OPT_WHERE:
			if (!strchr(optarg, '=') || optarg[0] == '=')
				return cmd_usage_error(
				    VERB, "invalid value '%s' for --where (expected COL=VALUE)", optarg);
			list_add(&a->where, optarg);
			break;
		case OPT_CONFIDENCE: {
			char *end;
			errno = 0;
			double v = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(v > 0 && v < 1))
				return cmd_usage_error(VERB,
				                       "invalid value '%s' for --confidence (expected a "
				                       "number between 0 and 1, e.g. 0.95)",
				                       optarg);
			a->confidence = v;
			break;
		}
		case OPT_OPTIMUM:
			a->optimum = true;
			break;
		case OPT_JSON:
			a->json_path = optarg;
			break;
		case ':':
			return cmd_usage_error(VERB, "option '%s' needs a value", argv[optind - 1]);
		default:
			return cmd_usage_error(VERB, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cmd_usage_error(VERB, "unexpected argument '%s'", argv[optind]);
	if (a->db_path && a->csv_path)
		return cmd_usage_error(VERB,
		                       "--db and --csv exclude each other: analyze one source at a time");
	if (a->table && a->csv_path)
		return cmd_usage_error(VERB, "--table applies to --db, not to --csv");
	if (a->table && strcmp(a->table, "runs") && strcmp(a->table, "windows") &&
	    strcmp(a->table, "bench-runs"))
		return cmd_usage_error(VERB, "unknown table '%s' for --table (runs, windows or bench-runs)",
		                       a->table);
	if (!a->x.n || !a->y.n)
		return cmd_usage_error(VERB, "which columns? --x and --y are both needed");
	if (a->optimum && a->methods_given)
		return cmd_usage_error(VERB, "--method does not apply to --optimum");
	return 0;
}

/* --- loading ------------------------------------------------------------------------- */

struct db_load {
	struct an_table *t;
	bool runs; /* the runs table: add avg_power_w */
	size_t energy, duration;
	const char **row; /* the values plus the derived column */
	char avg[40];
};

static int db_row(void *ctx, size_t n, const char *const *names, const char *const *values)
{
	struct db_load *l = ctx;
	size_t extra = l->runs ? 1 : 0;
	if (!values) {
		l->row = calloc(n + extra, sizeof *l->row);
		if (!l->row)
			return -ENOMEM;
		l->energy = l->duration = n;
		for (size_t i = 0; i < n; i++) {
			l->row[i] = names[i];
			if (!strcmp(names[i], "energy_j"))
				l->energy = i;
			else if (!strcmp(names[i], "duration_s"))
				l->duration = i;
		}
		if (extra)
			l->row[n] = "avg_power_w";
		return an_table_set_header(l->t, n + extra, l->row);
	}
	for (size_t i = 0; i < n; i++)
		l->row[i] = values[i];
	if (extra) {
		double e = NAN, d = NAN;
		l->row[n] = NULL;
		if (l->energy < n && l->duration < n && an_parse_number(values[l->energy], &e) == 0 &&
		    an_parse_number(values[l->duration], &d) == 0 && d > 0 && !isnan(e)) {
			snprintf(l->avg, sizeof l->avg, "%.17g", e / d);
			l->row[n] = l->avg;
		}
	}
	return an_table_add_row(l->t, values[0] ? atoll(values[0]) : 0, n + extra, l->row);
}

static int load_db(const struct args *a, struct an_table *t)
{
	struct gops_db *db;
	if (db_cli_open(VERB, a->db_path, GOPS_DB_NO_CREATE, &db))
		return 1;
	enum gops_db_table which = GOPS_DB_TABLE_RUNS;
	if (a->table && gops_db_table_parse(a->table, &which) < 0)
		which = GOPS_DB_TABLE_RUNS;
	an_table_init(t, gops_db_path(db), "run");
	struct db_load l = {.t = t, .runs = which == GOPS_DB_TABLE_RUNS};
	struct gops_db_filter all = {0};
	int rc = gops_db_export(db, which, &all, db_row, &l);
	free(l.row);
	if (rc)
		cmd_error(VERB, "%s", t->err[0] ? t->err : gops_db_error(db));
	int crc = db_cli_close(VERB, db);
	return rc || crc ? 1 : 0;
}

static bool where_names(const struct args *a, const char *col)
{
	size_t n = strlen(col);
	for (size_t i = 0; i < a->where.n; i++)
		if (!strncmp(a->where.v[i], col, n) && a->where.v[i][n] == '=')
			return true;
	return false;
}

static int apply_where(const struct args *a, struct an_table *t)
{
	for (size_t i = 0; i < a->where.n; i++) {
		char *eq = strchr(a->where.v[i], '=');
		*eq = 0;
		int r = an_table_where(t, a->where.v[i], eq + 1);
		*eq = '=';
		if (r < 0)
			return cmd_error(VERB, "%s (in --where %s)", t->err, a->where.v[i]);
	}
	/* Interrupted and failed runs hold partial energies: leave them out unless asked for. */
	size_t status_col;
	if (!a->csv_path && !where_names(a, "status") && an_table_find(t, "status", &status_col) == 0) {
		int dropped = an_table_where(t, "status", "completed");
		if (dropped > 0)
			fprintf(stderr,
			        "greenops analyze: %d run%s not completed left out (--where status=... to "
			        "choose)\n",
			        dropped, dropped == 1 ? "" : "s");
	}
	if (t->n_rows == 0)
		return cmd_error(VERB, "'%s' has no %s to analyze%s", t->source,
		                 a->csv_path ? "rows" : "runs", a->where.n ? " that match --where" : "");
	return 0;
}

/* The numbers of one named column, converted once. */
struct column {
	const char *name;
	size_t index;
	double *v;
};

struct columns {
	struct column *v;
	size_t n;
};

static struct column *column_get(struct columns *cs, struct an_table *t, const char *name)
{
	for (size_t i = 0; i < cs->n; i++)
		if (!strcmp(cs->v[i].name, name))
			return &cs->v[i];
	size_t idx;
	if (an_table_find(t, name, &idx) < 0) {
		cmd_error(VERB, "%s", t->err);
		return NULL;
	}
	double *v = malloc((t->n_rows ? t->n_rows : 1) * sizeof *v);
	if (!v)
		abort();
	if (an_table_column(t, idx, v) < 0) {
		cmd_error(VERB, "%s", t->err);
		free(v);
		return NULL;
	}
	struct column *nv = realloc(cs->v, (cs->n + 1) * sizeof *nv);
	if (!nv)
		abort();
	cs->v = nv;
	cs->v[cs->n] = (struct column){name, idx, v};
	return &cs->v[cs->n++];
}

static void columns_release(struct columns *cs)
{
	for (size_t i = 0; i < cs->n; i++)
		free(cs->v[i].v);
	free(cs->v);
}

/* --- output -------------------------------------------------------------------------- */

static json_t *jnum(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static const char *fmt_num(char *buf, size_t len, const char *fmt, double v)
{
	if (isnan(v))
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, fmt, v);
	return buf;
}

/* Below this many pairs a coefficient says little and its p-value, from an approximation,
 * less: the row carries a warning (rho 1.000 p 0 from 3 points is not evidence). */
#define SMALL_SAMPLE 10

static char *undefined_text(const struct an_corr *c, const char *x, const char *y)
{
	switch (c->undefined) {
	case AN_TOO_FEW:
		return gops_xasprintf("%s vs %s: %zu complete pair%s (3 needed): %s rho undefined", x, y,
		                      c->n, c->n == 1 ? "" : "s", an_method_name(c->method));
	case AN_CONSTANT_X:
	case AN_CONSTANT_Y:
		return gops_xasprintf("%s vs %s: '%s' is constant over the %zu pairs: %s rho undefined", x, y,
		                      c->undefined == AN_CONSTANT_X ? x : y, c->n, an_method_name(c->method));
	case AN_NOT_FINITE:
		return gops_xasprintf("%s vs %s: the values are too large for %s: rho undefined", x, y,
		                      an_method_name(c->method));
	default:
		return NULL;
	}
}

static int write_json(json_t *o, const char *path)
{
	int flags = JSON_INDENT(2) | JSON_REAL_PRECISION(15);
	if (!strcmp(path, "-")) {
		if (json_dumpf(o, stdout, flags) || fputc('\n', stdout) == EOF)
			return cmd_error(VERB, "cannot write standard output: %s", strerror(errno));
		return 0;
	}
	char *tmp = gops_xasprintf("%s.tmp.%d", path, (int)getpid());
	if (json_dump_file(o, tmp, flags) != 0) {
		int e = errno;
		unlink(tmp);
		free(tmp);
		return cmd_error(VERB, "cannot write '%s': %s", path, strerror(e ? e : EIO));
	}
	int rc = 0;
	if (rename(tmp, path) < 0) {
		rc = cmd_error(VERB, "cannot write '%s': %s", path, strerror(errno));
		unlink(tmp);
	}
	free(tmp);
	return rc;
}

static json_t *header_json(const struct an_table *t, const struct args *a)
{
	json_t *o = json_object();
	json_object_set_new(o, "source", json_string(t->source));
	json_object_set_new(o, "source_kind", json_string(a->csv_path ? "csv" : "db"));
	json_object_set_new(o, "rows", json_integer((json_int_t)t->n_rows));
	return o;
}

/* --- correlations -------------------------------------------------------------------- */

static int correlations(const struct args *a, struct an_table *t, FILE *out)
{
	struct columns cs = {0};
	json_t *arr = json_array();
	double *xs = malloc((t->n_rows + 1) * sizeof *xs), *ys = malloc((t->n_rows + 1) * sizeof *ys);
	int status = 0;
	if (!xs || !ys)
		abort();
	int wx = 1, wy = 1;
	for (size_t i = 0; i < a->x.n; i++)
		wx = (int)strlen(a->x.v[i]) > wx ? (int)strlen(a->x.v[i]) : wx;
	for (size_t i = 0; i < a->y.n; i++)
		wy = (int)strlen(a->y.v[i]) > wy ? (int)strlen(a->y.v[i]) : wy;
	/* Every column is checked before anything is printed: a bad one is one clean error. */
	for (size_t i = 0; i < a->x.n + a->y.n && !status; i++)
		if (!column_get(&cs, t, i < a->x.n ? a->x.v[i] : a->y.v[i - a->x.n]))
			status = 1;
	if (status)
		goto out;
	char ci_head[32];
	snprintf(ci_head, sizeof ci_head, "%g%% CI", a->confidence * 100);
	fprintf(out, "%-*s  %-*s  %-8s  %6s  %7s  %7s  %9s  %s\n", wx, "x", wy, "y", "method", "n", "dropped",
	        "rho", "p-value", ci_head);
	for (size_t i = 0; i < a->x.n; i++)
		for (size_t j = 0; j < a->y.n; j++) {
			struct column *cx = column_get(&cs, t, a->x.v[i]),
			              *cy = column_get(&cs, t, a->y.v[j]);
			size_t dropped, n = an_pairs(cx->v, cy->v, t->n_rows, xs, ys, &dropped);
			for (size_t k = 0; k < a->n_methods; k++) {
				struct an_corr c;
				if (an_correlate(a->methods[k], xs, ys, n, a->confidence, &c) < 0)
					abort();
				char *warn = undefined_text(&c, a->x.v[i], a->y.v[j]);
				if (!warn && c.n < SMALL_SAMPLE)
					warn = gops_xasprintf("%s vs %s: only %zu pairs: the p-value and "
					                      "interval are rough below "
					                      "%d pairs%s",
					                      a->x.v[i], a->y.v[j], c.n, SMALL_SAMPLE,
					                      isnan(c.ci_low) ? ", and no interval is defined"
					                                      : "");
				if (warn)
					fprintf(stderr, "greenops analyze: warning: %s\n", warn);
				char rho[32], p[32], lo[32], hi[32];
				fmt_num(rho, sizeof rho, "%.3f", c.rho);
				fmt_num(p, sizeof p, "%.3g", c.p_value);
				fmt_num(lo, sizeof lo, "%.3f", c.ci_low);
				fmt_num(hi, sizeof hi, "%.3f", c.ci_high);
				fprintf(out, "%-*s  %-*s  %-8s  %6zu  %7zu  %7s  %9s  [%s, %s]\n", wx,
				        a->x.v[i], wy, a->y.v[j], an_method_name(c.method), c.n, dropped, rho,
				        p, lo, hi);
				json_t *o = json_object();
				json_object_set_new(o, "x", json_string(a->x.v[i]));
				json_object_set_new(o, "y", json_string(a->y.v[j]));
				json_object_set_new(o, "method", json_string(an_method_name(c.method)));
				json_object_set_new(o, "rho", jnum(c.rho));
				json_object_set_new(o, "p_value", jnum(c.p_value));
				json_object_set_new(o, "n", json_integer((json_int_t)c.n));
				json_object_set_new(o, "dropped", json_integer((json_int_t)dropped));
				json_object_set_new(o, "ci_low", jnum(c.ci_low));
				json_object_set_new(o, "ci_high", jnum(c.ci_high));
				json_object_set_new(o, "confidence", json_real(c.confidence));
				json_object_set_new(o, "ci_method", json_string(c.ci_method));
				json_object_set_new(o, "warning", warn ? json_string(warn) : json_null());
				json_array_append_new(arr, o);
				free(warn);
			}
		}
	if (a->json_path) {
		json_t *doc = header_json(t, a);
		json_object_set_new(doc, "correlations", json_incref(arr));
		status = write_json(doc, a->json_path);
		json_decref(doc);
	}
out:
	json_decref(arr);
	free(xs);
	free(ys);
	columns_release(&cs);
	return status;
}

/* --- optimum ------------------------------------------------------------------------- */

static json_t *group_json(const struct an_group *g)
{
	json_t *o = json_object();
	json_object_set_new(o, "x", json_real(g->x));
	json_object_set_new(o, "n", json_integer((json_int_t)g->n));
	json_object_set_new(o, "mean", jnum(g->mean));
	json_object_set_new(o, "sd", jnum(g->sd));
	json_object_set_new(o, "min", jnum(g->min));
	json_object_set_new(o, "max", jnum(g->max));
	return o;
}

/* Figures in fixed notation with significant digits (no 1e-05 for a small energy per unit). */
static const char *sig(char *buf, size_t len, double v, int digits)
{
	return gops_fmt_sig(buf, len, v, digits);
}

/* A figure of column NAME: with its unit and an SI prefix where the name says the unit
 * (energy_per_unit_j -> "82.2 mJ", avg_power_w -> "412 W"), else as a plain number. */
static const char *ysig(char *buf, size_t len, const char *name, double v, int digits)
{
	size_t n = strlen(name);
	if (n > 2 && !strcmp(name + n - 2, "_j"))
		return gops_fmt_si(buf, len, v, "J", digits);
	if (n > 2 && !strcmp(name + n - 2, "_w"))
		return gops_fmt_si(buf, len, v, "W", digits);
	if (n > 2 && !strcmp(name + n - 2, "_s"))
		return gops_fmt_si(buf, len, v, "s", digits);
	return sig(buf, len, v, digits);
}

static void print_optimum(FILE *out, const char *xn, const char *yn, const struct an_optimum *o,
                          size_t dropped)
{
	const struct an_group *b = &o->groups[o->best], *p = &o->groups[o->plateau];
	char sd[GOPS_FMT_LEN], m[GOPS_FMT_LEN], x[GOPS_FMT_LEN], tol[GOPS_FMT_LEN];
	fprintf(out, "%s by %s: %zu pairs in %zu groups, %zu dropped\n", yn, xn, o->n, o->n_groups, dropped);
	fprintf(out, "  %14s  %5s  %14s  %12s\n", xn, "runs", "mean", "sd");
	for (size_t i = 0; i < o->n_groups; i++) {
		const struct an_group *g = &o->groups[i];
		fprintf(out, "  %14s  %5zu  %14s  %12s%s%s\n", sig(x, sizeof x, g->x, 6), g->n,
		        ysig(m, sizeof m, yn, g->mean, 4), ysig(sd, sizeof sd, yn, g->sd, 3),
		        i == o->best ? "  <- lowest" : "",
		        i == o->plateau && i != o->best ? "  <- no further gain from here" : "");
	}
	fprintf(out, "lowest mean %s: %s (sd %s, %zu run%s) at %s = %s\n", yn,
	        ysig(m, sizeof m, yn, b->mean, 4), ysig(sd, sizeof sd, yn, b->sd, 3), b->n,
	        b->n == 1 ? "" : "s", xn, sig(x, sizeof x, b->x, 6));
	if (o->best == 0)
		fprintf(out, "no gain from a larger %s: the lowest mean is at the smallest, %s = %s\n", xn,
		        xn, x);
	else if (o->plateau == o->best)
		fprintf(out,
		        "every smaller %s is more than %s (%s) above it: the gain goes on up to %s = %s\n",
		        xn, ysig(tol, sizeof tol, yn, o->tolerance, 3),
		        o->rule == AN_TOL_SPREAD ? "its sd" : "2%", xn, x);
	else
		fprintf(out, "no further gain past %s = %s: its mean %s is within %s (%s) of the lowest\n",
		        xn, sig(x, sizeof x, p->x, 6), ysig(m, sizeof m, yn, p->mean, 4),
		        ysig(tol, sizeof tol, yn, o->tolerance, 3),
		        o->rule == AN_TOL_SPREAD ? "the lowest group's sd" : "2%");
}

static int optima(const struct args *a, struct an_table *t, FILE *out)
{
	struct columns cs = {0};
	json_t *arr = json_array();
	double *xs = malloc((t->n_rows + 1) * sizeof *xs), *ys = malloc((t->n_rows + 1) * sizeof *ys);
	int status = 0;
	if (!xs || !ys)
		abort();
	for (size_t i = 0; i < a->x.n + a->y.n && !status; i++)
		if (!column_get(&cs, t, i < a->x.n ? a->x.v[i] : a->y.v[i - a->x.n]))
			status = 1;
	for (size_t i = 0; i < a->x.n && !status; i++)
		for (size_t j = 0; j < a->y.n; j++) {
			struct column *cx = column_get(&cs, t, a->x.v[i]),
			              *cy = column_get(&cs, t, a->y.v[j]);
			size_t dropped, n = an_pairs(cx->v, cy->v, t->n_rows, xs, ys, &dropped);
			json_t *o = json_object();
			json_object_set_new(o, "x", json_string(a->x.v[i]));
			json_object_set_new(o, "y", json_string(a->y.v[j]));
			json_object_set_new(o, "n", json_integer((json_int_t)n));
			json_object_set_new(o, "dropped", json_integer((json_int_t)dropped));
			struct an_optimum opt;
			if (n == 0 || an_optimum(xs, ys, n, &opt) < 0) {
				char *w = gops_xasprintf("%s by %s: no complete pairs", a->y.v[j], a->x.v[i]);
				fprintf(stderr, "greenops analyze: warning: %s\n", w);
				json_object_set_new(o, "warning", json_string(w));
				free(w);
				json_array_append_new(arr, o);
				continue;
			}
			if (i || j)
				fputc('\n', out);
			print_optimum(out, a->x.v[i], a->y.v[j], &opt, dropped);
			if (opt.n_groups < 3)
				fprintf(stderr,
				        "greenops analyze: warning: %s by %s: only %zu distinct %s value%s\n",
				        a->y.v[j], a->x.v[i], opt.n_groups, a->x.v[i],
				        opt.n_groups == 1 ? "" : "s");
			json_object_set_new(o, "best", group_json(&opt.groups[opt.best]));
			json_object_set_new(o, "plateau", group_json(&opt.groups[opt.plateau]));
			json_object_set_new(o, "tolerance", jnum(opt.tolerance));
			json_object_set_new(o, "tolerance_rule",
			                    json_string(opt.rule == AN_TOL_SPREAD ? "sd" : "2%"));
			json_t *g = json_array();
			for (size_t k = 0; k < opt.n_groups; k++)
				json_array_append_new(g, group_json(&opt.groups[k]));
			json_object_set_new(o, "groups", g);
			json_object_set_new(o, "warning", json_null());
			json_array_append_new(arr, o);
			an_optimum_release(&opt);
		}
	if (!status && a->json_path) {
		json_t *doc = header_json(t, a);
		json_object_set_new(doc, "optima", json_incref(arr));
		status = write_json(doc, a->json_path);
		json_decref(doc);
	}
	json_decref(arr);
	free(xs);
	free(ys);
	columns_release(&cs);
	return status;
}

int cmd_analyze(int argc, char **argv)
{
	/* A sweep has its own statistics (src/cli/sweep_analysis.c). */
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--sweep") || !strncmp(argv[i], "--sweep=", 8))
			return cmd_analyze_sweep(argc, argv);
	struct args a = {0};
	struct an_table t = {0};
	int status = parse_args(argc, argv, &a);
	if (status)
		goto out;
	if (a.csv_path) {
		an_table_init(&t, a.csv_path, "line");
		if (an_table_read_csv(&t, a.csv_path) < 0) {
			status = cmd_error(VERB, "%s", t.err);
			goto out;
		}
	} else {
		status = load_db(&a, &t);
		if (status)
			goto out;
	}
	status = apply_where(&a, &t);
	if (status)
		goto out;
	FILE *out = a.json_path && !strcmp(a.json_path, "-") ? stderr : stdout;
	status = a.optimum ? optima(&a, &t, out) : correlations(&a, &t, out);
out:
	an_table_release(&t);
	free(a.x.v);
	free(a.y.v);
	free(a.where.v);
	return status;
}
