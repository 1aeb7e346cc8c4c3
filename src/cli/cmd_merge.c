/* greenops merge: gathers results databases (one per node of a cluster job, or from several
 * machines) into one, so that runs, show, slurm and export-csv see them all. */
#include "cli/commands.h"
#include "store/db.h"
#include "store/db_merge.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char usage_merge[] =
    "usage: greenops merge [--into PATH] DATABASE...\n"
    "\n"
    "Copies the runs of each DATABASE (with their domains, windows, tags, samples, serve-bench\n"
    "runs, devices and idle baselines) into one database, renumbering ids. A run already there\n"
    "(same host, start time, pid and command) is not copied again, so merging the per-node\n"
    "databases of a Slurm job again after more jobs ran adds only the new runs. Each DATABASE is\n"
    "merged in one transaction: a failure leaves the destination as it was before that one.\n"
    "\n"
    "  --into PATH  destination, created when missing (default $GREENOPS_DB, else\n"
    "               $XDG_DATA_HOME/greenops/greenops.db)\n";

enum { OPT_INTO = 3600 };

int cmd_merge(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"into", required_argument, NULL, OPT_INTO},
	    {0},
	};
	const char *into = NULL;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case OPT_INTO:
			into = optarg;
			break;
		case '?':
			if (optopt)
				return cmd_usage_error("merge", "option '%s' needs a value",
				                       argv[optind - 1]);
			return cmd_usage_error("merge", "unknown option '%s'", argv[optind - 1]);
		default:
			return cmd_usage_error("merge", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cmd_usage_error("merge",
		                       "no database to merge (greenops merge [--into PATH] DATABASE...)");
	char *def = into ? NULL : gops_db_default_path();
	const char *dst = into ? into : def;
	if (!dst) {
		free(def);
		return cmd_error("merge",
		                 "no destination: give --into PATH (no $GREENOPS_DB and no home folder)");
	}
	int status = 0;
	for (int i = optind; i < argc; i++) {
		struct gops_db_merge_stats st;
		char err[1024];
		if (gops_db_merge(dst, argv[i], &st, err, sizeof err) < 0) {
			cmd_error("merge", "%s", err);
			status = 1;
			continue;
		}
		fprintf(stderr, "greenops merge: %s: %zu run%s copied, %zu already in %s\n", argv[i],
		        st.runs_copied, st.runs_copied == 1 ? "" : "s", st.runs_present, dst);
	}
	free(def);
	return status;
}
