/* greenops config: the effective settings and where each comes from, as `git config
 * --show-origin` (config.h has the file and the precedence). */
#include "cli/commands.h"
#include "cli/config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char usage_config[] =
    "usage: greenops config [--show] [SETTING FLAGS...]\n"
    "\n"
    "Prints every setting the configuration file may give, where its effective value comes\n"
    "from (flag:--NAME, env:VARIABLE, file:PATH:LINE or default) and the value, one a line. The\n"
    "first that gives a value wins, in that order. The file is $GREENOPS_CONFIG, else\n"
    "$XDG_CONFIG_HOME/greenops/config.toml, else ~/.config/greenops/config.toml; an empty\n"
    "GREENOPS_CONFIG, or 'greenops --no-config VERB', reads none. An unknown key or a malformed\n"
    "line in it is an error for every verb (exit 2), naming the file, the line and the key.\n"
    "\n"
    "  --show               print the settings (what config does without options too)\n"
    "\n"
    "The flags of `greenops run` that the settings stand for may be given, to see what a command\n"
    "line would use: --db PATH, --carbon-intensity G, --pue X, --price P, --currency NAME,\n"
    "--sources LIST, --interval MS, --idle MODE, --cpu-tdp W.\n"
    "\n"
    "Keys (docs/CONFIG.md): database; [cost] carbon_intensity, pue, price_per_kwh, currency;\n"
    "[measure] sources, interval_ms, idle, cpu_tdp_w.\n";

int cmd_config(int argc, char **argv)
{
	size_t n = config_n_settings();
	struct option *lo = calloc(n + 2, sizeof *lo);
	const char **given = calloc(n, sizeof *given);
	if (!lo || !given)
		abort();
	for (size_t i = 0; i < n; i++)
		lo[i] = (struct option){config_setting_flag(i), required_argument, NULL, 1000 + (int)i};
	lo[n] = (struct option){"show", no_argument, NULL, 's'};
	int c, status = 0;
	opterr = 0;
	optind = 1;
	while (!status && (c = getopt_long(argc, argv, "+:", lo, NULL)) != -1) {
		if (c == 's')
			continue;
		if (c >= 1000 && c < 1000 + (int)n) {
			if (!config_check_flag("config", (size_t)(c - 1000), optarg))
				status = 2;
			given[c - 1000] = optarg;
			continue;
		}
		status = cmd_option_error("config", c, argv);
	}
	if (!status && optind < argc)
		status = cmd_usage_error("config", "unexpected argument '%s'", argv[optind]);
	if (!status)
		config_show(stdout, given);
	free(lo);
	free(given);
	return status;
}
