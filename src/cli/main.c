/* greenops: the command table and the dispatcher (git's commands[] pattern). */
#include "cli/commands.h"
#include "cli/config.h"

#include <greenops/greenops.h>

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct cmd commands[] = {
    {"run", cmd_run, CMD_NEEDS_DB, "measure the energy of a command", usage_run},
    {"list", cmd_list, 0, "show the energy sensors found and what a run would sum", usage_list},
    {"idle", cmd_idle, CMD_NEEDS_DB, "measure and store the idle power of every domain", usage_idle},
    {"runs", cmd_runs, CMD_NEEDS_DB, "list stored runs", usage_runs},
    {"show", cmd_show, CMD_NEEDS_DB, "show a stored run again", usage_show},
    {"export-csv", cmd_export_csv, CMD_NEEDS_DB, "write runs, windows or samples as CSV", usage_export_csv},
    {"serve-bench", cmd_serve_bench, CMD_NEEDS_DB,
     "load an LLM server and measure energy per request and token", usage_serve_bench},
    {"macs", cmd_macs, 0, "count MACs and parameters of an ONNX model", usage_macs},
    {"analyze", cmd_analyze, CMD_NEEDS_DB, "correlations between model features and energy", usage_analyze},
    {"export", cmd_export, 0, "serve live power and energy to Prometheus", usage_export},
    {"sweep", cmd_sweep, CMD_NEEDS_DB, "run a plan of configurations x repetitions, resumable", usage_sweep},
    {"merge", cmd_merge, CMD_NEEDS_DB, "gather results databases (one per node) into one", usage_merge},
    {"slurm", cmd_slurm, CMD_NEEDS_DB, "a Slurm job's energy per step, node and GPU", usage_slurm},
    {"report", cmd_report, CMD_NEEDS_DB, "write an HTML report with figures of a sweep or a run",
     usage_report},
    {"config", cmd_config, 0, "show the settings in effect and where each comes from", usage_config},
    {"top", cmd_top, 0, "show every domain's power live (also: greenops watch)", usage_top},
};

/* Other names of verbs, found by cmd_find but not listed apart. */
static const struct {
	const char *alias, *verb;
} aliases[] = {
    {"watch", "top"},
};

const struct cmd *cmd_find(const char *name)
{
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
		if (strcmp(aliases[i].alias, name) == 0)
			return cmd_find(aliases[i].verb);
	return NULL;
}

static int vmsg(const char *verb, const char *fmt, va_list ap)
{
	fprintf(stderr, "greenops%s%s: ", verb ? " " : "", verb ? verb : "");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	return 0;
}

int cmd_usage_error(const char *verb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg(verb, fmt, ap);
	va_end(ap);
	if (verb)
		fprintf(stderr, "see 'greenops help %s'\n", verb);
	return 2;
}

int cmd_error(const char *verb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg(verb, fmt, ap);
	va_end(ap);
	return 1;
}

int cmd_option_error(const char *verb, int c, char **argv)
{
	if (c == ':')
		return cmd_usage_error(verb, "option '%s' needs a value", argv[optind - 1]);
	return cmd_usage_error(verb, "unknown option '%s'", argv[optind - 1]);
}

static void print_help(FILE *f)
{
	fprintf(f,
	        "usage: greenops [--version] [--help] [--no-config] VERB [ARGS...]\n\n"
	        "Measures what machine-learning work costs in energy, from the hardware's own sensors.\n\n"
	        "  --no-config  read no configuration file (docs/CONFIG.md; 'greenops config' shows it)\n\n"
	        "verbs:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'greenops help VERB' shows a verb's options.\n");
}

/* perf's run_builtin: a write error on stdout (a full disk, a closed pipe) is a failure. */
static int finish_stdout(int status)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (errno != EPIPE)
			fprintf(stderr, "greenops: cannot write standard output: %s\n", strerror(errno));
		return status ? status : 1;
	}
	return status;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		print_help(stderr);
		return 2;
	}
	bool no_config = !strcmp(argv[1], "--no-config");
	if (no_config && argc < 3) {
		print_help(stderr);
		return 2;
	}
	if (no_config)
		argc--, argv++;
	const char *verb = argv[1];
	if (!strcmp(verb, "--help") || !strcmp(verb, "-h")) {
		print_help(stdout);
		return finish_stdout(0);
	}
	if (!strcmp(verb, "--version") || !strcmp(verb, "version")) {
		printf("greenops %s\n", gops_version());
		return finish_stdout(0);
	}
	if (!strcmp(verb, "help")) {
		if (argc < 3) {
			print_help(stdout);
			return finish_stdout(0);
		}
		const struct cmd *c = cmd_find(argv[2]);
		if (!c)
			return cmd_usage_error(NULL, "'%s' is not a greenops verb; see 'greenops --help'",
			                       argv[2]);
		fputs(c->usage, stdout);
		return finish_stdout(0);
	}
	if (verb[0] == '-')
		return cmd_usage_error(NULL, "unknown option '%s'; see 'greenops --help'", verb);
	const struct cmd *c = cmd_find(verb);
	if (!c)
		return cmd_usage_error(NULL, "'%s' is not a greenops verb; see 'greenops --help'", verb);
	for (int i = 2; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(c->usage, stdout);
			return finish_stdout(0);
		} else if (!strcmp(argv[i], "--")) {
			break;
		}
	if (config_load(no_config) < 0)
		return 2;
	return finish_stdout(c->fn(argc - 1, argv + 1));
}
