/* greenops show: a stored run again, with the same summary `greenops run` printed (on
 * stdout here), or as the same JSON plus what the database knows about the run. */
#include "cli/commands.h"
#include "cli/db_cli.h"
#include "cli/serve_bench_table.h"
#include "cli/summary.h"
#include "meter/result_json.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char usage_show[] =
    "usage: greenops show RUN [--json FILE|-] [--db PATH]\n"
    "\n"
    "Shows a stored run: when and where it ran, its command, tags and status, then the summary\n"
    "`greenops run` printed. RUN is an id from `greenops runs`, or `last`.\n"
    "\n"
    "  --json FILE      write the run as JSON (the shape of `greenops run --json`, plus id, command,\n"
    "                   host, status); - writes it to stdout instead of the summary\n"
    "  --db PATH        results database (" HELP_DB_DEFAULT ")\n";

enum { OPT_JSON = 3100, OPT_DB };

static double or_zero(double v)
{
	return isnan(v) ? 0 : v;
}

static void print_header(FILE *f, const struct gops_db_run *run, const char *cmd)
{
	char when[32], status[64];
	fprintf(f, "run %lld: %s, started %s on %s\n", (long long)run->id,
	        db_cli_status(run, status, sizeof status),
	        db_cli_local_time(run->started_realtime_ns, true, when, sizeof when),
	        run->hostname ? run->hostname : "?");
	fprintf(f, "  command: %s\n", cmd);
	if (run->cwd)
		fprintf(f, "  in:      %s\n", run->cwd);
	const struct gops_result *r = &run->result;
	if (r->n_tags) {
		fprintf(f, "  tags:   ");
		for (size_t i = 0; i < r->n_tags; i++)
			fprintf(f, " %s=%s", r->tags[i].key, r->tags[i].value);
		fputc('\n', f);
	}
	if (strcmp(run->version, gops_version()))
		fprintf(f, "  measured by greenops %s\n", run->version);
}

/* Runs that never got a result: say why instead of an empty summary. */
static bool print_unfinished(FILE *f, const struct gops_db_run *run)
{
	if (run->result.n_domains)
		return false;
	if (run->lost)
		fprintf(f, "\n  greenops was killed before the run finished: nothing measured was stored\n");
	else if (run->status == GOPS_RUN_RUNNING)
		fprintf(f, "\n  still running: the result is stored when it ends\n");
	else if (run->status == GOPS_RUN_FAILED)
		fprintf(f, "\n  greenops failed before it measured anything\n");
	else
		return false;
	return true;
}

/* Collects each rate's metrics (the JSON serve-bench wrote for it) from the bench-runs table. */
static int collect_metrics(void *ctx, size_t n, const char *const *names, const char *const *values)
{
	if (!values)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(names[i], "metrics") && values[i]) {
			json_t *m = json_loads(values[i], 0, NULL);
			if (m)
				json_array_append_new(ctx, m);
		}
	return 0;
}

/* A serve-bench sweep's rates, as `greenops serve-bench` printed them; NULL for other runs. */
static json_t *load_bench_runs(struct gops_db *db, const struct gops_db_run *run)
{
	if (!run->kind || strcmp(run->kind, "serve-bench"))
		return NULL;
	json_t *runs = json_array();
	struct gops_db_filter only = {.run_id = run->id};
	if (gops_db_export(db, GOPS_DB_TABLE_BENCH_RUNS, &only, collect_metrics, runs) < 0 ||
	    !json_array_size(runs)) {
		json_decref(runs);
		return NULL;
	}
	return runs;
}

static void print_run(FILE *f, const struct gops_db_run *run, json_t *bench_runs)
{
	char *cmd = db_cli_command_line(run->argv, run->argc);
	print_header(f, run, cmd);
	if (!print_unfinished(f, run)) {
		struct summary_ctx c = {
		    .command = cmd,
		    .exit_status = run->exit_status < 0 ? 0 : run->exit_status,
		    .signal = run->signal,
		    .carbon_g_per_kwh = or_zero(run->carbon_g_per_kwh),
		    .pue = or_zero(run->pue),
		    .price_per_kwh = or_zero(run->price_per_kwh),
		    .currency = run->currency,
		};
		summary_print(f, &run->result, &c);
	}
	if (bench_runs) {
		fputc('\n', f);
		serve_bench_table_print(f, bench_runs);
	}
	free(cmd);
}

static json_t *run_json(const struct gops_db_run *run)
{
	json_t *o =
	    gops_result_json_object(&run->result, run->exit_status < 0 ? 0 : run->exit_status, run->signal);
	/* Monotonic times mean nothing once the run's boot is over. */
	json_object_del(o, "start_monotonic_ns");
	json_object_del(o, "end_monotonic_ns");
	if (run->exit_status < 0)
		json_object_set_new(o, "exit_status", json_null());
	json_t *argv = json_array();
	for (size_t i = 0; i < run->argc; i++)
		json_array_append_new(argv, json_string(run->argv[i]));
	json_object_set_new(o, "id", json_integer(run->id));
	json_object_set_new(o, "kind", json_string(run->kind));
	json_object_set_new(o, "host", json_string(run->hostname));
	json_object_set_new(o, "command", argv);
	json_object_set_new(o, "cwd", run->cwd ? json_string(run->cwd) : json_null());
	json_object_set_new(o, "status", json_string(gops_run_status_name(run->status)));
	json_object_set_new(o, "lost", json_boolean(run->lost));
	json_object_set_new(o, "measured_by", json_string(run->version));
	json_t *opts = run->options_json ? json_loads(run->options_json, 0, NULL) : NULL;
	json_object_set_new(o, "options", opts ? opts : json_object());
	json_object_set_new(o, "carbon_g_per_kwh", gops_json_num(run->carbon_g_per_kwh));
	json_object_set_new(o, "pue", gops_json_num(run->pue));
	json_object_set_new(o, "price_per_kwh", gops_json_num(run->price_per_kwh));
	json_object_set_new(o, "currency", run->currency ? json_string(run->currency) : json_null());
	/* Derived figures, as the summary prints them: energy x PUE x intensity (or price). */
	double kwh = run->result.energy_j * (isnan(run->pue) ? 1 : run->pue) / 3.6e6;
	json_object_set_new(o, "carbon_g", gops_json_num(kwh * run->carbon_g_per_kwh));
	json_object_set_new(o, "cost", gops_json_num(kwh * run->price_per_kwh));
	return o;
}

static int write_json(const struct gops_db_run *run, const char *path)
{
	json_t *o = run_json(run);
	char *s = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
	json_decref(o);
	if (!s)
		return cmd_error("show", "cannot encode run %lld as JSON", (long long)run->id);
	FILE *f = strcmp(path, "-") ? fopen(path, "w") : stdout;
	if (!f) {
		int e = errno;
		free(s);
		return cmd_error("show", "cannot write '%s': %s", path, strerror(e));
	}
	fprintf(f, "%s\n", s);
	free(s);
	if (f == stdout ? fflush(f) != 0 : fclose(f) != 0)
		return cmd_error("show", "cannot write '%s': %s", path, strerror(errno));
	return 0;
}

int cmd_show(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", required_argument, NULL, OPT_JSON},
	    {"db", required_argument, NULL, OPT_DB},
	    {0},
	};
	const char *json_path = NULL, *db_path = NULL, *which = NULL;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "-:", opts, NULL)) != -1) {
		switch (c) {
		case 1:
			if (which)
				return cmd_usage_error("show", "unexpected argument '%s' (one RUN at a time)",
				                       optarg);
			which = optarg;
			break;
		case OPT_JSON:
			json_path = optarg;
			break;
		case OPT_DB:
			db_path = optarg;
			break;
		default:
			return cmd_option_error("show", c, argv);
		}
	}
	if (!which)
		return cmd_usage_error("show", "which run? give an id from 'greenops runs', or 'last'");
	int64_t id;
	if (!db_cli_parse_run("show", which, &id))
		return 2;
	struct gops_db *db;
	if (db_cli_open("show", db_path, GOPS_DB_NO_CREATE, &db))
		return 1;
	struct gops_db_run run;
	int rc = gops_db_run_load(db, id, &run);
	if (rc) {
		cmd_error("show", "%s", gops_db_error(db));
		db_cli_close("show", db);
		return 1;
	}
	json_t *bench_runs = load_bench_runs(db, &run);
	int status = db_cli_close("show", db) ? 1 : 0;
	if (!json_path || strcmp(json_path, "-"))
		print_run(stdout, &run, bench_runs);
	json_decref(bench_runs);
	if (json_path && write_json(&run, json_path))
		status = 1;
	gops_db_run_release(&run);
	return status;
}
