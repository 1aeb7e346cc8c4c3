/* Parsing of the options shared by the measuring verbs. */
#include "cli/monitor_opts.h"
#include "cli/commands.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

bool parse_double(const char *verb, const char *name, const char *arg, double min, double max, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(arg, &end);
	if (errno || end == arg || *end || isnan(v) || v < min || v > max) {
		cmd_usage_error(verb, "invalid value '%s' for --%s (expected a number from %g to %g)", arg,
		                name, min, max);
		return false;
	}
	*out = v;
	return true;
}

bool monitor_idle_parse(const char *arg, struct gops_options *o)
{
	char *end;
	double v;
	if (!strcmp(arg, "none")) {
		o->idle = GOPS_IDLE_NONE;
	} else if (!strcmp(arg, "stored")) {
		o->idle = GOPS_IDLE_STORED;
	} else if (!strcmp(arg, "measure")) {
		o->idle = GOPS_IDLE_MEASURE, o->idle_seconds = 10;
	} else if (!strncmp(arg, "measure:", 8)) {
		errno = 0;
		v = strtod(arg + 8, &end);
		if (errno || end == arg + 8 || *end || !(v >= 0.5) || v > 3600)
			return false;
		o->idle = GOPS_IDLE_MEASURE, o->idle_seconds = v;
	} else {
		v = strtod(arg, &end);
		if (end == arg || *end || !(v >= 0) || v > 1e6)
			return false;
		o->idle = GOPS_IDLE_WATTS, o->idle_watts = v;
	}
	return true;
}

int monitor_opt(const char *verb, int opt, const char *arg, struct gops_options *o)
{
	double v;
	switch (opt) {
	case OPT_INTERVAL:
		if (!parse_double(verb, "interval", arg, 1, 60000, &v))
			return -1;
		o->interval_ms = (unsigned)v;
		return 1;
	case OPT_SOURCES:
		o->sources = arg;
		return 1;
	case OPT_CPU_TDP:
		if (!parse_double(verb, "cpu-tdp", arg, 1, 5000, &v))
			return -1;
		o->cpu_tdp_w = v;
		return 1;
	case OPT_IDLE:
		if (!monitor_idle_parse(arg, o)) {
			cmd_usage_error(
			    verb, "invalid value '%s' for --idle (none, stored, measure[:SECONDS] or WATTS)",
			    arg);
			return -1;
		}
		return 1;
	}
	return 0;
}
