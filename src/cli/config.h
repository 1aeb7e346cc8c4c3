/* The configuration file: $GREENOPS_CONFIG, else $XDG_CONFIG_HOME/greenops/config.toml, else
 * ~/.config/greenops/config.toml (docs/CONFIG.md). It gives defaults to the database, the cost
 * of energy (carbon intensity, PUE, price, currency) and the measuring options (sources,
 * interval, idle, CPU TDP). Precedence: a flag, then an environment variable, then the file,
 * then the built-in default: verbs apply the file's values before they parse their flags, and
 * the database's path goes through gops_db_default_path(), which puts $GREENOPS_DB first. */
#ifndef GOPS_CLI_CONFIG_H
#define GOPS_CLI_CONFIG_H

#include <greenops/greenops.h>
#include <stdbool.h>
#include <stdio.h>

/* Reads the file once, before a verb runs (DISABLED: --no-config). Returns 0, also when the
 * default file does not exist, or prints one line "greenops: FILE:LINE: ..." (naming the key)
 * and returns -1. */
int config_load(bool disabled);

/* What the measuring verbs take from [measure]: each verb applies the keys of the flags it has,
 * right after gops_options_init() and before its flags. */
enum { CONFIG_SOURCES = 1, CONFIG_INTERVAL = 2, CONFIG_IDLE = 4, CONFIG_CPU_TDP = 8 };
void config_monitor_defaults(struct gops_options *o, unsigned which);
/* [cost]: carbon intensity (g/kWh), PUE, price per kWh and currency, where the file gives them. */
void config_cost_defaults(double *carbon, double *pue, double *price, const char **currency);

/* `greenops config`: every setting, its effective value and where it came from. FLAGS[i] is
 * the value given to the verb as the i-th setting's flag, or NULL. */
size_t config_n_settings(void);
const char *config_setting_flag(size_t i);
/* Checks a flag's value for setting I; prints "greenops VERB: invalid value ..." when bad. */
bool config_check_flag(const char *verb, size_t i, const char *arg);
void config_show(FILE *f, const char *const *flags);

#endif
