/* greenops sweep: runs a plan's configurations x repetitions, each as a child `greenops run`
 * (or `greenops serve-bench` inside a service started per configuration), stores every run with
 * its parameters as tags under one sweep id, classifies failures and goes on; --resume picks up
 * an interrupted sweep where it stopped. The plan itself is read by src/sweep/plan.c. */
#include "cli/commands.h"
#include "cli/db_cli.h"
#include "cli/sweep_child.h"
#include "cli/sweep_exec.h"
#include "base/util.h"
#include "sweep/plan.h"
#include "sweep/store.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char usage_sweep[] =
    "usage: greenops sweep PLAN.yaml [--dry-run] [--resume[=ID]] [--db PATH] [--until-ci PCT]\n"
    "                      [--max-repetitions N] [--seed N] [--show-output]\n"
    "\n"
    "Runs every configuration of the plan (a grid of parameter values, or a list of combinations)\n"
    "the planned number of times, in random order (seeded) unless the plan says otherwise, each\n"
    "as `greenops run` (or `greenops serve-bench` inside the plan's service), and stores each run\n"
    "with its parameters as tags under one sweep id. Failures are classified (exit status, signal,\n"
    "time limit, out of memory, other errors recognised in the output) and the sweep goes on.\n"
    "docs/SWEEP.md describes the plan.\n"
    "\n"
    "  --dry-run           check the plan and print the runs it would make, one a line\n"
    "  --resume[=ID]       go on with the newest unfinished sweep of this plan (or sweep ID),\n"
    "                      skipping the runs that are done; a run that was in flight runs again\n"
    "  --db PATH           results database\n"
    "                      (" HELP_DB_DEFAULT ")\n"
    "  --until-ci PCT      after the planned repetitions, repeat each configuration (up to\n"
    "                      --max-repetitions) until the 95% interval of its energy per unit is\n"
    "                      narrower than PCT% of its mean\n"
    "  --max-repetitions N the most runs of a configuration with --until-ci (default 3 x planned)\n"
    "  --seed N            the order's seed instead of the plan's\n"
    "  --show-output       show each run's output as it comes (it is kept in the database anyway)\n"
    "\n"
    "Then: greenops analyze --sweep ID, greenops report --sweep ID.\n";

#define VERB "sweep"

enum { OPT_DRY_RUN = 3600, OPT_RESUME, OPT_DB, OPT_UNTIL_CI, OPT_MAX_REPS, OPT_SEED, OPT_SHOW_OUTPUT };

static void on_signal(int sig)
{
	(void)sig;
	sweep_interrupted = 1;
}

static void install_signals(void)
{
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static bool parse_number(const char *name, const char *s, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || *end || errno || !(v >= lo && v <= hi)) {
		cmd_usage_error(VERB, "invalid value '%s' for --%s (a number from %g to %g)", s, name, lo,
		                hi);
		return false;
	}
	*out = v;
	return true;
}

static int dry_run(struct sweep_exec *x)
{
	struct sweep_slot *slots;
	size_t n;
	if (sweep_plan_order(x->plan, &slots, &n) < 0)
		return cmd_error(VERB, "out of memory");
	int status = 0;
	for (size_t i = 0; i < n && !status; i++) {
		char *line = sweep_exec_describe(x, &slots[i], i);
		if (!line) {
			status = cmd_error(VERB, "%s", x->err);
			break;
		}
		printf("%s\n", line);
		free(line);
	}
	free(slots);
	if (!status)
		fprintf(stderr, "greenops sweep: %zu runs (%zu configurations x %u repetitions)%s\n", n,
		        sweep_plan_n_configs(x->plan), x->plan->repetitions,
		        x->plan->randomise ? ", shuffled" : "");
	return status;
}

int cmd_sweep(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
	    {"resume", optional_argument, NULL, OPT_RESUME},
	    {"db", required_argument, NULL, OPT_DB},
	    {"until-ci", required_argument, NULL, OPT_UNTIL_CI},
	    {"max-repetitions", required_argument, NULL, OPT_MAX_REPS},
	    {"seed", required_argument, NULL, OPT_SEED},
	    {"show-output", no_argument, NULL, OPT_SHOW_OUTPUT},
	    {NULL, 0, NULL, 0},
	};
	bool dry = false, resume = false, show_output = false;
	int64_t resume_id = 0;
	const char *db_path = NULL;
	double until_ci = NAN, max_reps = NAN, seed = NAN;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_DRY_RUN:
			dry = true;
			break;
		case OPT_RESUME: {
			resume = true;
			double id;
			if (optarg) {
				if (!parse_number("resume", optarg, 1, 1e15, &id))
					return 2;
				resume_id = (int64_t)id;
			}
			break;
		}
		case OPT_DB:
			db_path = optarg;
			break;
		case OPT_UNTIL_CI:
			if (!parse_number("until-ci", optarg, 0.001, 1000, &until_ci))
				return 2;
			break;
		case OPT_MAX_REPS:
			if (!parse_number("max-repetitions", optarg, 1, 10000, &max_reps))
				return 2;
			break;
		case OPT_SEED:
			if (!parse_number("seed", optarg, 0, 4294967295.0, &seed))
				return 2;
			break;
		case OPT_SHOW_OUTPUT:
			show_output = true;
			break;
		case ':':
			return cmd_usage_error(VERB, "option '%s' needs a value", argv[optind - 1]);
		default:
			return cmd_usage_error(VERB, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cmd_usage_error(VERB, "no plan given (greenops sweep PLAN.yaml)");
	if (optind + 1 < argc)
		return cmd_usage_error(VERB, "one plan at a time ('%s' is extra)", argv[optind + 1]);

	struct sweep_plan plan;
	char err[1024];
	if (sweep_plan_load(&plan, argv[optind], err, sizeof err) < 0) {
		sweep_plan_release(&plan);
		return cmd_error(VERB, "%s", err);
	}
	if (isfinite(seed))
		plan.seed = (uint64_t)seed;
	if (isfinite(until_ci))
		plan.until_ci_pct = until_ci;
	if (isfinite(max_reps)) {
		if ((unsigned)max_reps < plan.repetitions) {
			sweep_plan_release(&plan);
			return cmd_usage_error(VERB,
			                       "--max-repetitions %g is below the plan's repetitions (%u)",
			                       max_reps, plan.repetitions);
		}
		plan.max_repetitions = (unsigned)max_reps;
	}

	struct sweep_exec x;
	int status = 0;
	if (sweep_exec_init(&x, &plan, err, sizeof err) < 0) {
		status = cmd_error(VERB, "%s", err);
		goto done;
	}
	x.show_output = show_output;
	if (dry) {
		status = dry_run(&x);
		goto done;
	}
	install_signals();
	status = sweep_exec_run(&x, db_path, resume, resume_id);
done:
	sweep_exec_release(&x);
	sweep_plan_release(&plan);
	return status;
}
