/* Carrying out a sweep: the argv of each run, the loop over the planned runs with resume,
 * ladder stops, services, cool-down, --until-ci's extra repetitions and the progress line. */
#ifndef GOPS_CLI_SWEEP_EXEC_H
#define GOPS_CLI_SWEEP_EXEC_H

#include "cli/sweep_child.h"
#include "sweep/plan.h"
#include "sweep/store.h"

#include <stdbool.h>
#include <stdint.h>

#define PATH_MAX_LEN 4096

struct sweep_exec {
	struct sweep_plan *plan;
	char self[PATH_MAX_LEN];
	bool show_output;
	struct sweep_store *store;
	int64_t sweep_id;
	char *db_path;
	/* the service running now */
	struct sweep_service_proc service;
	bool service_up;
	size_t service_group;
	char port[16];
	/* progress */
	struct sweep_run_row *rows;
	size_t n_rows;
	size_t n_ok, n_failed, n_skipped, n_oom;
	double busy_s;  /* wall time of the runs made in this process, cool-down included */
	size_t n_timed; /* runs that busy_s covers */
	bool tty;
	char err[1024];
};

int sweep_exec_init(struct sweep_exec *x, struct sweep_plan *plan, char *err, size_t errlen);
void sweep_exec_release(struct sweep_exec *x);
/* One line for --dry-run: position, parameters, repetition and the command. NULL with x->err
 * on a template that cannot be expanded. */
char *sweep_exec_describe(struct sweep_exec *x, const struct sweep_slot *slot, size_t position);
/* Runs (or resumes) the sweep; returns greenops's exit status. */
int sweep_exec_run(struct sweep_exec *x, const char *db_path, bool resume, int64_t resume_id);

#endif
