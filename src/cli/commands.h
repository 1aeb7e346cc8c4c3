/* The command table's entries: one cmd_<verb>.c per verb. */
#ifndef GOPS_CLI_COMMANDS_H
#define GOPS_CLI_COMMANDS_H

#define CMD_NEEDS_DB 0x1 /* opens the results database */

/* Where the results database is, as every verb's help says it (docs/DATABASE.md in full;
 * "config": the database key of the configuration file, docs/CONFIG.md). */
#define HELP_DB_DEFAULT "default $GREENOPS_DB, else config, else ~/.local/share/greenops/greenops.db"

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	unsigned flags;
	const char *summary; /* one line for `greenops --help` */
	const char *usage;   /* the whole text for `greenops help VERB` */
};

int cmd_run(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_idle(int argc, char **argv);
int cmd_runs(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_export_csv(int argc, char **argv);
int cmd_serve_bench(int argc, char **argv);
int cmd_macs(int argc, char **argv);
int cmd_analyze(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_slurm(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_top(int argc, char **argv);

extern const char usage_run[], usage_list[], usage_idle[], usage_runs[], usage_show[], usage_export_csv[],
    usage_serve_bench[], usage_macs[], usage_analyze[], usage_export[], usage_sweep[], usage_merge[],
    usage_slurm[], usage_report[], usage_config[], usage_top[];

/* The verb NAME, or the verb NAME is another name of (`watch` for `top`); NULL if none. */
const struct cmd *cmd_find(const char *name);
/* Prints "greenops VERB: MSG" to stderr; returns 2 (usage error) for convenience. */
int cmd_usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cmd_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* After getopt_long returned C (':' or '?', with ':' first in the option string): "option
 * '--x' needs a value" or "unknown option '--x'"; returns 2. */
int cmd_option_error(const char *verb, int c, char **argv);

#endif
