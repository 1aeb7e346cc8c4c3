/* Options every measuring verb shares (run, serve-bench, idle): --interval, --sources,
 * --idle, --cpu-tdp. Put MONITOR_LONG_OPTIONS in a getopt_long table and pass unknown codes
 * to monitor_opt(). */
#ifndef GOPS_CLI_MONITOR_OPTS_H
#define GOPS_CLI_MONITOR_OPTS_H

#include <greenops/greenops.h>
#include <getopt.h>
#include <stdbool.h>

enum {
	OPT_INTERVAL = 1000,
	OPT_SOURCES,
	OPT_IDLE,
	OPT_CPU_TDP,
};

#define MONITOR_LONG_OPTIONS                                                                                 \
	{"interval", required_argument, NULL, OPT_INTERVAL},                                                 \
	    {"sources", required_argument, NULL, OPT_SOURCES}, {"idle", required_argument, NULL, OPT_IDLE},  \
	{                                                                                                    \
		"cpu-tdp", required_argument, NULL, OPT_CPU_TDP                                              \
	}

/* Applies one of the shared options. Returns 1 when it handled `opt`, 0 when `opt` is not one
 * of them, -1 after printing a one-line error for a bad value. */
int monitor_opt(const char *verb, int opt, const char *arg, struct gops_options *o);

/* --idle's value: none, stored, measure[:SECONDS] (0.5 to 3600) or WATTS; false when it is
 * none of these (nothing printed). */
bool monitor_idle_parse(const char *arg, struct gops_options *o);

/* Parses a positive number, or prints "greenops VERB: invalid value 'ARG' for --NAME" and fails. */
bool parse_double(const char *verb, const char *name, const char *arg, double min, double max, double *out);

#endif
