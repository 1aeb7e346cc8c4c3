/* Where a measured run goes: the results database, --json, --timeline and the summary.
 * Shared by `greenops run` and anything else that measures a span of its own. */
#ifndef GOPS_CLI_RUN_OUTPUT_H
#define GOPS_CLI_RUN_OUTPUT_H

#include <greenops/greenops.h>
#include <stdbool.h>
#include <stdint.h>

struct run_output {
	const char *json_path, *timeline_path, *plot_path, *db_path, *model_path;
	/* --export-csv, --export-json, --export-markdown: the executions and their statistics;
	 * -o: the summary, to this file instead of stderr ("-" for each: stdout) */
	const char *export_csv_path, *export_json_path, *export_md_path, *summary_path;
	bool no_db, store_samples, quiet;
	double carbon, pue, price;
	const char *currency; /* NULL: none named */
	char **argv;
	const char *command;
	const char *verb;
	const char *const *tag_kv; /* --tag KEY=VALUE as given */
	size_t n_tag_kv;
	double units;      /* --units, NAN none */
	double cpu_span_s; /* greenops's own CPU time while the child ran, NAN unknown */
	/* and before and after it: start-up to the sources' opening (database, libraries), the
	 * sources' opening (NVML's init), the start edge, the end edge; NAN unknown */
	double cpu_setup_s, cpu_open_s, cpu_start_s, cpu_end_s;
	unsigned repetitions; /* --min-duration: times the command ran (0: option not given) */
	/* --repeat N: executions asked for (0: option not given), warmups run before the span,
	 * executions measured (each the window named "repetition" of that rank) and the exit
	 * status of each (128+N for signal N) */
	unsigned repeat, warmup, n_runs;
	int *run_status;
	/* each warmup's duration and exit status, for the exports (warmup entries) */
	double *warmup_s;
	int *warmup_status;
	/* private */
	const struct gops_options *opts;
	void *db;
	int64_t run_id;
	struct gops_idle_value *idle;
	size_t n_idle;
	char **idle_names;
	char **model_tags; /* KEY=VALUE from --model */
	size_t n_model_tags;
};

void run_output_init(struct run_output *o);
/* Checks every output path (--json, --timeline, --plot, the exports, -o) before anything
 * runs: at most one of them is "-", --plot names a .svg or .png, and each file's folder exists
 * and is writable. Prints one line naming the path; returns < 0 when one is not usable. */
int run_output_check_paths(const struct run_output *o);
/* Whether an output goes to stdout (then the command's stdout goes to stderr). */
bool run_output_takes_stdout(const struct run_output *o);
/* greenops's own CPU time so far (all its threads), in seconds. */
double run_output_self_cpu(void);
/* Opens the database and loads what the options need (stored baseline, model counts).
 * Prints its own one-line error; returns < 0 on failure. */
int run_output_prepare(struct run_output *o, struct gops_options *opts);
void run_output_tag_model(struct run_output *o, gops_monitor *m);
/* Records the run as started (so an interrupted greenops still leaves a row). */
void run_output_begin(struct run_output *o, gops_monitor *m);
/* Writes the result everywhere; returns < 0 when an output could not be written. */
int run_output_finish(struct run_output *o, gops_monitor *m, int exit_status, int signal);
/* The command never ran: the started row is marked failed with the exit status greenops
 * itself returns (127 not found, 126 found but not executable). */
void run_output_abandon(struct run_output *o, int exit_status);
void run_output_release(struct run_output *o);
/* --repeat: mean, sample standard deviation, extremes and Student-t 95% interval of the mean
 * of N values; NAN where N is too small (sd and interval need 2). */
struct rep_stats {
	size_t n;
	double mean, sd, min, max, ci_lo, ci_hi;
};
void run_output_stats(const double *v, size_t n, struct rep_stats *s);
/* --min-duration: energy per repetition and its uncertainty (the span's, shared out). */
void run_output_per_repetition(const struct gops_result *r, unsigned n, double *energy_j, double *unc_j);

#endif
