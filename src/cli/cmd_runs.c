/* greenops runs: the stored runs, newest first, as a table or as JSON, filtered by tag. */
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

const char usage_runs[] =
    "usage: greenops runs [--tag KEY=VALUE]... [--limit N] [--json FILE|-] [--db PATH]\n"
    "\n"
    "Lists the runs stored in the results database, newest first: id, start, command, duration,\n"
    "energy (gross), energy per unit and status. A run whose greenops was killed shows as 'lost'.\n"
    "\n"
    "  --tag KEY=VALUE  only runs with this tag (KEY alone: with any value); repeatable, all must match\n"
    "  --limit N        at most N runs (default 20; 0 for all)\n"
    "  --json FILE      also write the runs as a JSON array ('-': JSON alone on stdout)\n"
    "  --db PATH        results database (" HELP_DB_DEFAULT ")\n";

enum { OPT_TAG = 3000, OPT_LIMIT, OPT_JSON, OPT_DB };

#define COMMAND_WIDTH 40

struct listing {
	bool json;
	json_t *array;
	size_t n;
};

static int print_row(void *ctx, const struct gops_db_run *run)
{
	struct listing *l = ctx;
	char date[32], dur[32], energy[32], unit[32], status[64];
	if (l->n++ == 0)
		printf("%6s  %-16s  %-*s  %9s  %10s  %10s  %s\n", "ID", "STARTED", COMMAND_WIDTH, "COMMAND",
		       "DURATION", "ENERGY", "PER UNIT", "STATUS");
	char *cmd = db_cli_command_line(run->argv, run->argc);
	/* Cut long commands on a character boundary of UTF-8 text. */
	if (strlen(cmd) > COMMAND_WIDTH) {
		size_t cut = COMMAND_WIDTH - 3;
		while (cut > 0 && (cmd[cut] & 0xc0) == 0x80)
			cut--;
		memcpy(cmd + cut, "...", 4);
	}
	const struct gops_result *r = &run->result;
	printf("%6lld  %-16s  %-*s  %9s  %10s  %10s  %s\n", (long long)run->id,
	       db_cli_local_time(run->started_realtime_ns, false, date, sizeof date), COMMAND_WIDTH, cmd,
	       db_cli_duration(r->duration_s, dur, sizeof dur),
	       db_cli_energy(r->energy_j, energy, sizeof energy),
	       db_cli_energy(r->energy_per_unit_j, unit, sizeof unit),
	       db_cli_status(run, status, sizeof status));
	free(cmd);
	return 0;
}

static int json_row(void *ctx, const struct gops_db_run *run)
{
	struct listing *l = ctx;
	const struct gops_result *r = &run->result;
	json_t *o = json_object();
	json_t *argv = json_array();
	for (size_t i = 0; i < run->argc; i++)
		json_array_append_new(argv, gops_json_text(run->argv[i]));
	json_t *tags = json_object();
	for (size_t i = 0; i < r->n_tags; i++)
		gops_json_set_text(tags, r->tags[i].key, r->tags[i].value);
	char when[40];
	json_object_set_new(o, "id", json_integer(run->id));
	json_object_set_new(o, "kind", json_string(run->kind));
	json_object_set_new(o, "host", json_string(run->hostname));
	json_object_set_new(o, "start_time",
	                    json_string(gops_iso_time(run->started_realtime_ns, when, sizeof when)));
	json_object_set_new(o, "command", argv);
	json_object_set_new(o, "cwd", gops_json_text(run->cwd));
	json_object_set_new(o, "status", json_string(gops_run_status_name(run->status)));
	json_object_set_new(o, "lost", json_boolean(run->lost));
	json_object_set_new(o, "exit_status",
	                    run->exit_status >= 0 ? json_integer(run->exit_status) : json_null());
	json_object_set_new(o, "signal", run->signal ? json_integer(run->signal) : json_null());
	json_object_set_new(o, "duration_s", gops_json_num(r->duration_s));
	json_object_set_new(o, "energy_j", gops_json_num(r->energy_j));
	json_object_set_new(o, "dynamic_energy_j", gops_json_num(r->dynamic_energy_j));
	json_object_set_new(o, "uncertainty_j", gops_json_num(r->uncertainty_j));
	json_object_set_new(o, "units", gops_json_num(r->units));
	json_object_set_new(o, "energy_per_unit_j", gops_json_num(r->energy_per_unit_j));
	json_object_set_new(o, "idle_source", json_string(r->idle_source));
	json_object_set_new(o, "tags", tags);
	json_array_append_new(l->array, o);
	l->n++;
	return 0;
}

/* The array to FILE, or to stdout for "-". */
static int write_json(json_t *array, const char *path)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "w") : stdout;
	if (!f)
		return cmd_error("runs", "cannot write '%s': %s", path, strerror(errno)), -1;
	int bad = json_dumpf(array, f, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) < 0 || fputc('\n', f) == EOF;
	if (f == stdout ? fflush(f) != 0 || bad : fclose(f) != 0 || bad)
		return cmd_error("runs", "cannot write '%s': %s", path, strerror(errno ? errno : EIO)), -1;
	return 0;
}

int cmd_runs(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"tag", required_argument, NULL, OPT_TAG},
	    {"limit", required_argument, NULL, OPT_LIMIT},
	    {"json", required_argument, NULL, OPT_JSON},
	    {"db", required_argument, NULL, OPT_DB},
	    {0},
	};
	struct db_cli_tags tags = {0};
	struct listing l = {0};
	size_t limit = 20;
	const char *db_path = NULL, *json_path = NULL;
	int c, status = 2;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:", opts, NULL)) != -1) {
		switch (c) {
		case OPT_TAG:
			if (!db_cli_tag_add("runs", &tags, optarg, true))
				goto out;
			break;
		case OPT_LIMIT:
			if (!db_cli_parse_count("runs", "limit", optarg, &limit))
				goto out;
			break;
		case OPT_JSON:
			json_path = optarg;
			l.json = true;
			break;
		case OPT_DB:
			db_path = optarg;
			break;
		default:
			cmd_option_error("runs", c, argv);
			goto out;
		}
	}
	if (optind < argc) {
		cmd_usage_error("runs", "unexpected argument '%s'", argv[optind]);
		goto out;
	}
	struct gops_db *db;
	char *def = db_path ? NULL : gops_db_default_path();
	char err[512];
	int rc = gops_db_open(&db, db_path ? db_path : def, GOPS_DB_NO_CREATE, err, sizeof err);
	bool fresh = rc == -ENOENT && !db_path && def;
	if (fresh) {
		/* Nothing measured yet on this machine is not an error for a listing. */
		fprintf(stderr, "greenops runs: no runs stored yet (no database at '%s')\n", def);
		if (l.json) {
			json_t *empty = json_array();
			if (write_json(empty, json_path) < 0)
				rc = -EIO, fresh = false, err[0] = 0;
			json_decref(empty);
		}
	}
	free(def);
	if (rc) {
		status = fresh ? 0 : err[0] ? cmd_error("runs", "%s", err) : 1;
		goto out;
	}
	struct gops_db_filter f = {.tags = tags.v, .n_tags = tags.n, .limit = limit};
	bool to_stdout = l.json && !strcmp(json_path, "-");
	if (l.json)
		l.array = json_array();
	rc = l.json ? gops_db_runs_foreach(db, &f, json_row, &l) : 0;
	if (!rc && !to_stdout) {
		l.n = 0;
		rc = gops_db_runs_foreach(db, &f, print_row, &l);
	}
	if (rc)
		cmd_error("runs", "%s", gops_db_error(db));
	status = rc ? 1 : 0;
	if (db_cli_close("runs", db))
		status = 1;
	if (l.json) {
		if (!status && write_json(l.array, json_path) < 0)
			status = 1;
		json_decref(l.array);
	}
	if (!status && l.n == 0 && !to_stdout)
		fprintf(stderr, "greenops runs: no runs%s\n", tags.n ? " with these tags" : " stored yet");
out:
	db_cli_tags_release(&tags);
	return status;
}
