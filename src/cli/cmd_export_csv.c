/* greenops export-csv: one table of the results database as CSV (RFC 4180, header row, empty
 * field for a missing value), flat enough for pandas.read_csv. */
#include "cli/commands.h"
#include "cli/csv.h"
#include "cli/db_cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char usage_export_csv[] =
    "usage: greenops export-csv TABLE [--run ID|last] [--tag KEY=VALUE]... [--limit N] [-o FILE]\n"
    "                           [--db PATH]\n"
    "\n"
    "Writes one table of the results database as CSV with a header row (stdout unless -o).\n"
    "Every table has the run's id and one column per run tag (tag.KEY) so rows can be grouped.\n"
    "\n"
    "TABLE is one of:\n"
    "  runs         one row per run: times, command, status, energies, units, carbon and cost\n"
    "  domains      one row per run and domain (gpu0, package-0, ...): energy, method, power\n"
    "  windows      one row per window: name, start and end, units, energy, energy per unit\n"
    "  samples      power samples of runs made with --samples\n"
    "  bench-runs   one row per rate of each serve-bench sweep, with its metrics\n"
    "  requests     one row per serve-bench request: times, tokens, status, error\n"
    "\n"
    "  --run ID     only this run (an id from `greenops runs`, or last)\n"
    "  --tag K=V    only runs with this tag (K alone: with any value); repeatable\n"
    "  --limit N    only the newest N runs\n"
    "  -o FILE      write FILE (replaced whole, only once everything is written)\n"
    "  --db PATH    results database (" HELP_DB_DEFAULT ")\n";

enum { OPT_RUN = 3200, OPT_TAG, OPT_LIMIT, OPT_DB };

static int csv_row(void *ctx, size_t n, const char *const *names, const char *const *values)
{
	FILE *f = ctx;
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputc(',', f);
		csv_text(f, values ? values[i] : names[i]);
	}
	fputc('\n', f);
	return ferror(f) ? -EIO : 0;
}

struct target {
	const char *path; /* NULL: stdout */
	char *tmp;
	FILE *f;
};

/* -o FILE is written beside it and renamed at the end: a failed export leaves the old file. */
static int target_open(struct target *t)
{
	if (!t->path) {
		t->f = stdout;
		return 0;
	}
	t->tmp = malloc(strlen(t->path) + 32);
	if (!t->tmp)
		abort();
	sprintf(t->tmp, "%s.tmp.%d", t->path, (int)getpid());
	t->f = fopen(t->tmp, "w");
	if (!t->f) {
		int e = errno;
		free(t->tmp);
		t->tmp = NULL;
		return cmd_error("export-csv", "cannot write '%s': %s", t->path, strerror(e));
	}
	return 0;
}

static int target_close(struct target *t, bool ok)
{
	if (!t->path) {
		if (fflush(stdout) != 0)
			return cmd_error("export-csv", "cannot write standard output: %s", strerror(errno));
		return ok ? 0 : 1;
	}
	int bad = fclose(t->f) != 0;
	int rc = 0;
	if (ok && bad)
		rc = cmd_error("export-csv", "cannot write '%s': %s", t->path, strerror(errno));
	else if (ok && rename(t->tmp, t->path) < 0)
		rc = cmd_error("export-csv", "cannot write '%s': %s", t->path, strerror(errno));
	if (!ok || rc)
		unlink(t->tmp);
	free(t->tmp);
	return ok ? rc : 1;
}

static int count_run(void *ctx, const struct gops_db_run *run)
{
	(*(size_t *)ctx)++;
	return 0;
}

/* --run of a run that does not exist is a mistake, not an empty table. */
static bool run_exists(struct gops_db *db, const struct gops_db_filter *f)
{
	struct gops_db_filter only = {.run_id = f->run_id};
	size_t n = 0;
	if (gops_db_runs_foreach(db, &only, count_run, &n))
		return cmd_error("export-csv", "%s", gops_db_error(db)), false;
	if (!n) {
		if (f->run_id == GOPS_DB_LAST)
			cmd_error("export-csv", "no runs stored in '%s'", gops_db_path(db));
		else
			cmd_error("export-csv", "no run %lld in '%s'", (long long)f->run_id,
			          gops_db_path(db));
	}
	return n > 0;
}

int cmd_export_csv(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"run", required_argument, NULL, OPT_RUN},     {"tag", required_argument, NULL, OPT_TAG},
	    {"limit", required_argument, NULL, OPT_LIMIT}, {"output", required_argument, NULL, 'o'},
	    {"db", required_argument, NULL, OPT_DB},       {0},
	};
	struct db_cli_tags tags = {0};
	struct gops_db_filter flt = {0};
	struct target out = {0};
	const char *table = NULL, *db_path = NULL;
	int c, status = 2;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "-:o:", opts, NULL)) != -1) {
		switch (c) {
		case 1:
			if (table) {
				cmd_usage_error("export-csv",
				                "unexpected argument '%s' (one TABLE at a time)", optarg);
				goto done;
			}
			table = optarg;
			break;
		case OPT_RUN:
			if (!db_cli_parse_run("export-csv", optarg, &flt.run_id))
				goto done;
			break;
		case OPT_TAG:
			if (!db_cli_tag_add("export-csv", &tags, optarg, true))
				goto done;
			break;
		case OPT_LIMIT:
			if (!db_cli_parse_count("export-csv", "limit", optarg, &flt.limit))
				goto done;
			break;
		case 'o':
			out.path = strcmp(optarg, "-") ? optarg : NULL;
			break;
		case OPT_DB:
			db_path = optarg;
			break;
		default:
			cmd_option_error("export-csv", c, argv);
			goto done;
		}
	}
	enum gops_db_table t;
	if (!table) {
		cmd_usage_error("export-csv",
		                "which table? runs, domains, windows, samples, bench-runs or requests");
		goto done;
	}
	if (gops_db_table_parse(table, &t)) {
		cmd_usage_error(
		    "export-csv",
		    "unknown table '%s' (runs, domains, windows, samples, bench-runs or requests)", table);
		goto done;
	}
	flt.tags = tags.v;
	flt.n_tags = tags.n;
	struct gops_db *db;
	status = 1;
	if (db_cli_open("export-csv", db_path, GOPS_DB_NO_CREATE, &db))
		goto done;
	if (flt.run_id && !run_exists(db, &flt)) {
		db_cli_close("export-csv", db);
		goto done;
	}
	if (target_open(&out)) {
		db_cli_close("export-csv", db);
		goto done;
	}
	int rc = gops_db_export(db, t, &flt, csv_row, out.f);
	if (rc == -EIO && ferror(out.f))
		cmd_error("export-csv", "cannot write '%s': %s", out.path ? out.path : "standard output",
		          strerror(errno));
	else if (rc)
		cmd_error("export-csv", "%s", gops_db_error(db));
	bool closed = !db_cli_close("export-csv", db);
	status = target_close(&out, !rc && closed);
done:
	db_cli_tags_release(&tags);
	return status;
}
