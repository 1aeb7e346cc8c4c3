/* The sweep loop. Every planned run is a row in the database before anything runs; each row
 * goes pending -> running -> ok | failed | skipped, committed at each step, so an interrupted
 * sweep (SIGINT, SIGKILL, a restart) resumes with at most the run in flight made again. */
#include "cli/sweep_exec.h"

#include "cli/commands.h"
#include "cli/db_cli.h"
#include "cli/sweep_cooldown.h"
#include "sweep/stats.h"
#include "base/util.h"
#include "store/db.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define VERB "sweep"

int sweep_exec_init(struct sweep_exec *x, struct sweep_plan *plan, char *err, size_t errlen)
{
	memset(x, 0, sizeof *x);
	x->plan = plan;
	ssize_t n = readlink("/proc/self/exe", x->self, sizeof x->self - 1);
	if (n <= 0) {
		snprintf(err, errlen, "cannot find this greenops's own path (/proc/self/exe)");
		return -ENOENT;
	}
	x->self[n] = 0;
	x->tty = isatty(2);
	return 0;
}

void sweep_exec_release(struct sweep_exec *x)
{
	sweep_store_close(x->store);
	free(x->rows);
	free(x->db_path);
	x->store = NULL;
	x->rows = NULL;
	x->db_path = NULL;
}

/* --- argv ---------------------------------------------------------------------------- */

struct argv {
	char **v;
	size_t n;
};

static void argv_add(struct argv *a, const char *s)
{
	a->v = realloc(a->v, (a->n + 2) * sizeof *a->v);
	a->v[a->n++] = gops_xstrdup(s);
	a->v[a->n] = NULL;
}

static void argv_free(struct argv *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	a->v = NULL;
	a->n = 0;
}

static bool add_expanded(struct sweep_exec *x, struct argv *a, const struct sweep_template *t, size_t config,
                         const struct sweep_builtins *b)
{
	char *s = sweep_expand(x->plan, t, config, b, x->err, sizeof x->err);
	if (!s)
		return false;
	argv_add(a, s);
	free(s);
	return true;
}

static void builtins_of(struct sweep_exec *x, const struct sweep_slot *slot, struct sweep_builtins *b)
{
	*b =
	    (struct sweep_builtins){.greenops = x->self,
	                            .port = x->plan->service.present ? (x->port[0] ? x->port : "PORT") : NULL,
	                            .rep = slot->rep,
	                            .sweep_id = x->sweep_id};
}

/* The measured command alone (what the plan wrote, expanded). */
static bool command_argv(struct sweep_exec *x, const struct sweep_slot *slot, struct argv *a)
{
	struct sweep_builtins b;
	builtins_of(x, slot, &b);
	if (x->plan->shell && x->plan->kind == SWEEP_KIND_RUN) {
		argv_add(a, "/bin/sh");
		argv_add(a, "-c");
	}
	for (size_t i = 0; i < x->plan->argc; i++)
		if (!add_expanded(x, a, &x->plan->argv[i], slot->config, &b))
			return false;
	return true;
}

static void params_text(const struct sweep_plan *p, size_t config, char *buf, size_t len)
{
	buf[0] = 0;
	for (size_t i = 0; i < p->n_params; i++) {
		size_t l = strlen(buf);
		snprintf(buf + l, len - l, "%s%s=%s", i ? " " : "", p->params[i].name,
		         sweep_plan_value(p, config, i));
	}
}

char *sweep_exec_describe(struct sweep_exec *x, const struct sweep_slot *slot, size_t position)
{
	struct argv a = {0};
	if (!command_argv(x, slot, &a)) {
		argv_free(&a);
		return NULL;
	}
	char params[512];
	params_text(x->plan, slot->config, params, sizeof params);
	char *cmd = db_cli_command_line(a.v, a.n);
	char units[64] = "";
	double u;
	if (sweep_plan_units(x->plan, slot->config, &u, x->err, sizeof x->err) == 0 && isfinite(u))
		snprintf(units, sizeof units, "  units=%g", u);
	char *line =
	    gops_xasprintf("%4zu  %s  rep=%u%s  %s%s", position + 1, params, slot->rep, units,
	                   x->plan->kind == SWEEP_KIND_SERVE_BENCH ? "greenops serve-bench " : "", cmd);
	free(cmd);
	argv_free(&a);
	return line;
}

/* The whole child argv: greenops run|serve-bench with the sweep's options, then the command. */
static bool run_argv(struct sweep_exec *x, const struct sweep_slot *slot, const char *json_path,
                     struct argv *a)
{
	const struct sweep_plan *p = x->plan;
	struct sweep_builtins b;
	builtins_of(x, slot, &b);
	argv_add(a, x->self);
	argv_add(a, p->kind == SWEEP_KIND_SERVE_BENCH ? "serve-bench" : "run");
	argv_add(a, "--db");
	argv_add(a, x->db_path);
	argv_add(a, "--json");
	argv_add(a, json_path);
	if (p->kind == SWEEP_KIND_RUN) {
		argv_add(a, "--samples"); /* the report draws a run's power timeline from them */
		char *t = gops_xasprintf("sweep=%lld", (long long)x->sweep_id);
		argv_add(a, "--tag");
		argv_add(a, t);
		free(t);
		t = gops_xasprintf("rep=%u", slot->rep);
		argv_add(a, "--tag");
		argv_add(a, t);
		free(t);
		for (size_t i = 0; i < p->n_params; i++) {
			t = gops_xasprintf("%s=%s", p->params[i].name, sweep_plan_value(p, slot->config, i));
			argv_add(a, "--tag");
			argv_add(a, t);
			free(t);
		}
		for (size_t i = 0; i < p->n_tags; i++) {
			char *v = sweep_expand(p, &p->tags[i].value, slot->config, &b, x->err, sizeof x->err);
			if (!v)
				return false;
			t = gops_xasprintf("%s=%s", p->tags[i].key, v);
			free(v);
			argv_add(a, "--tag");
			argv_add(a, t);
			free(t);
		}
		double units;
		if (sweep_plan_units(p, slot->config, &units, x->err, sizeof x->err) < 0)
			return false;
		if (isfinite(units)) {
			char num[64];
			snprintf(num, sizeof num, "%.17g", units);
			argv_add(a, "--units");
			argv_add(a, num);
		}
		if (p->model.text) {
			argv_add(a, "--model");
			if (!add_expanded(x, a, &p->model, slot->config, &b))
				return false;
		}
	}
	for (size_t i = 0; i < p->n_run_options; i++)
		if (!add_expanded(x, a, &p->run_options[i], slot->config, &b))
			return false;
	if (p->kind == SWEEP_KIND_RUN)
		argv_add(a, "--");
	return command_argv(x, slot, a);
}

/* --- one run ------------------------------------------------------------------------- */

static const char *signal_name(int sig)
{
	const char *s = sigabbrev_np(sig);
	return s ? s : "?";
}

struct outcome_text {
	char message[512];
	char failure[16];
};

static void classify(const struct sweep_exec *x, const struct sweep_child_result *r, json_t *json,
                     struct sweep_outcome *o, struct outcome_text *t)
{
	int ws = r->wait_status;
	o->exit_status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	o->signal = WIFSIGNALED(ws) ? WTERMSIG(ws) : 0;
	if (json) {
		json_t *e = json_object_get(json, "exit_status"), *s = json_object_get(json, "signal");
		if (json_is_integer(e))
			o->exit_status = (int)json_integer_value(e);
		o->signal = json_is_integer(s) ? (int)json_integer_value(s) : 0;
	}
	bool measured = json || x->plan->kind == SWEEP_KIND_SERVE_BENCH;
	const char *cls = NULL;
	t->message[0] = 0;
	if (r->timed_out) {
		cls = "time-limit";
		snprintf(t->message, sizeof t->message, "stopped at the time limit of %g s",
		         x->plan->time_limit_s);
	} else if (o->exit_status == 0 && !o->signal && measured) {
		cls = NULL;
	} else if (r->oom_line[0]) {
		cls = "oom";
		snprintf(t->message, sizeof t->message, "%s", r->oom_line);
	} else if (!measured) {
		cls = "error";
		snprintf(t->message, sizeof t->message, "%s",
		         r->error_line[0] ? r->error_line : "greenops could not measure the command");
	} else if (o->signal) {
		cls = "signal";
		snprintf(t->message, sizeof t->message, "killed by SIG%s%s%s", signal_name(o->signal),
		         r->error_line[0] ? ": " : "", r->error_line);
	} else {
		cls = "exit-status";
		snprintf(t->message, sizeof t->message, "exit status %d%s%s", o->exit_status,
		         r->error_line[0] ? ": " : "", r->error_line);
	}
	o->state = cls ? SWEEP_RUN_FAILED : SWEEP_RUN_OK;
	if (cls)
		gops_strlcpy(t->failure, cls, sizeof t->failure);
	o->failure = cls ? t->failure : NULL;
	o->message = t->message[0] ? t->message : NULL;
	o->duration_s = r->duration_s;
	o->output_tail = r->tail;
}

static void tag_run(struct sweep_exec *x, int64_t run_id, const struct sweep_slot *slot)
{
	const struct sweep_plan *p = x->plan;
	char v[64];
	snprintf(v, sizeof v, "%lld", (long long)x->sweep_id);
	sweep_store_tag_run(x->store, run_id, "sweep", v);
	snprintf(v, sizeof v, "%u", slot->rep);
	sweep_store_tag_run(x->store, run_id, "rep", v);
	for (size_t i = 0; i < p->n_params; i++)
		sweep_store_tag_run(x->store, run_id, p->params[i].name,
		                    sweep_plan_value(p, slot->config, i));
	struct sweep_builtins b;
	builtins_of(x, slot, &b);
	for (size_t i = 0; i < p->n_tags; i++) {
		char *val = sweep_expand(p, &p->tags[i].value, slot->config, &b, x->err, sizeof x->err);
		if (val)
			sweep_store_tag_run(x->store, run_id, p->tags[i].key, val);
		free(val);
	}
}

static json_t *read_json(const char *path)
{
	json_error_t e;
	return json_load_file(path, 0, &e);
}

/* Makes one run; returns 0, or -EINTR when the sweep was interrupted during it (the row
 * goes back to pending), or a store error. */
static int run_one(struct sweep_exec *x, struct sweep_run_row *row)
{
	const char *tmp = getenv("TMPDIR");
	char json_path[256];
	snprintf(json_path, sizeof json_path, "%s/greenops-sweep-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	int fd = mkostemp(json_path, O_CLOEXEC);
	if (fd < 0) {
		snprintf(x->err, sizeof x->err, "cannot create a temporary file in '%s': %s",
		         tmp ? tmp : "/tmp", strerror(errno));
		return -errno;
	}
	close(fd);
	struct argv a = {0};
	int rc = 0;
	struct sweep_outcome o = {.exit_status = -1};
	struct outcome_text t;
	struct sweep_child_result *r = calloc(1, sizeof *r);
	if (!run_argv(x, &row->slot, json_path, &a)) {
		/* A template that cannot be expanded here is the plan's fault, found before running. */
		o = (struct sweep_outcome){.state = SWEEP_RUN_FAILED,
		                           .failure = "error",
		                           .message = x->err,
		                           .exit_status = -1,
		                           .duration_s = NAN};
		rc = sweep_store_run_finished(x->store, x->sweep_id, row->position, &o);
		row->state = SWEEP_RUN_FAILED;
		goto out;
	}
	if ((rc = sweep_store_run_started(x->store, x->sweep_id, row->position)) < 0)
		goto out;
	row->state = SWEEP_RUN_RUNNING;
	int64_t since = gops_realtime_ns() - 1000000000LL; /* clocks of two processes: a margin */
	if ((rc = sweep_child_run(a.v, x->plan->time_limit_s, x->show_output, r)) < 0) {
		snprintf(t.message, sizeof t.message, "cannot start '%s': %s", a.v[0], strerror(-rc));
		o = (struct sweep_outcome){.state = SWEEP_RUN_FAILED,
		                           .failure = "error",
		                           .message = t.message,
		                           .exit_status = -1,
		                           .duration_s = NAN};
		rc = sweep_store_run_finished(x->store, x->sweep_id, row->position, &o);
		row->state = SWEEP_RUN_FAILED;
		goto out;
	}
	json_t *json = read_json(json_path);
	if (x->plan->kind == SWEEP_KIND_SERVE_BENCH && json) {
		json_decref(json); /* serve-bench's JSON is per rate; the exit status tells */
		json = NULL;
	}
	classify(x, r, json, &o, &t);
	json_decref(json);
	int64_t run_id = 0;
	if (sweep_store_find_run(x->store, r->pid, since, &run_id) == 0) {
		o.run_id = run_id;
		tag_run(x, run_id, &row->slot);
	}
	if (r->interrupted && !r->timed_out) {
		/* Not a result: the run goes back to the list, to be made again on --resume. */
		o = (struct sweep_outcome){.state = SWEEP_RUN_PENDING,
		                           .message = "interrupted",
		                           .run_id = run_id,
		                           .exit_status = -1,
		                           .duration_s = r->duration_s,
		                           .output_tail = r->tail};
		sweep_store_run_finished(x->store, x->sweep_id, row->position, &o);
		row->state = SWEEP_RUN_PENDING;
		rc = -EINTR;
		goto out;
	}
	if (x->plan->service.present && x->service_up && !sweep_service_alive(&x->service)) {
		char last[200];
		sweep_service_last_line(&x->service, last, sizeof last);
		if (o.state == SWEEP_RUN_OK || !o.failure || strcmp(o.failure, "oom")) {
			o.state = SWEEP_RUN_FAILED;
			o.failure = "service";
			snprintf(t.message, sizeof t.message, "the service ended during the run%s%s",
			         last[0] ? ": " : "", last);
			o.message = t.message;
		}
	}
	rc = sweep_store_run_finished(x->store, x->sweep_id, row->position, &o);
	row->state = o.state;
	gops_strlcpy(row->failure, o.failure ? o.failure : "", sizeof row->failure);
	row->duration_s = r->duration_s;
	if (o.state == SWEEP_RUN_FAILED) {
		char params[512];
		params_text(x->plan, row->slot.config, params, sizeof params);
		fprintf(stderr, "%sgreenops sweep: %s rep %u failed (%s): %s\n", x->tty ? "\r\033[K" : "",
		        params, row->slot.rep, o.failure, o.message ? o.message : "");
	}
out:
	unlink(json_path);
	argv_free(&a);
	free(r);
	return rc;
}

/* --- ladder, services, progress ------------------------------------------------------ */

/* A ladder stops at its first out-of-memory: the larger values of the same other parameters
 * would run out too. */
static bool ladder_stopped(const struct sweep_exec *x, const struct sweep_run_row *row, char *why, size_t len)
{
	const struct sweep_plan *p = x->plan;
	if (p->ladder < 0 || !p->ladder_stop_at_oom)
		return false;
	size_t lp = (size_t)p->ladder;
	size_t mine = sweep_plan_value_index(p, row->slot.config, lp);
	for (size_t i = 0; i < x->n_rows; i++) {
		const struct sweep_run_row *o = &x->rows[i];
		if (o->state != SWEEP_RUN_FAILED || strcmp(o->failure, "oom"))
			continue;
		if (sweep_plan_value_index(p, o->slot.config, lp) > mine)
			continue;
		bool same = true;
		for (size_t k = 0; same && k < p->n_params; k++)
			same = k == lp || sweep_plan_value_index(p, o->slot.config, k) ==
			                      sweep_plan_value_index(p, row->slot.config, k);
		if (same) {
			snprintf(why, len, "the ladder stopped: %s=%s ran out of memory", p->params[lp].name,
			         sweep_plan_value(p, o->slot.config, lp));
			return true;
		}
	}
	return false;
}

static void stop_service(struct sweep_exec *x)
{
	if (!x->service_up)
		return;
	bool clean;
	char how[160];
	sweep_service_stop(&x->service, x->plan->service.stop_timeout_s, &clean, how, sizeof how);
	fprintf(stderr, "%sgreenops sweep: service %s%s\n", x->tty ? "\r\033[K" : "", how,
	        clean ? ", cleanly" : "");
	x->service_up = false;
	x->port[0] = 0;
}

static int start_service(struct sweep_exec *x, size_t config)
{
	const struct sweep_service *sv = &x->plan->service;
	int port = sweep_free_port();
	if (port < 0) {
		snprintf(x->err, sizeof x->err, "cannot find a free port for the service");
		return port;
	}
	snprintf(x->port, sizeof x->port, "%d", port);
	struct sweep_slot slot = {config, 1};
	struct sweep_builtins b;
	builtins_of(x, &slot, &b);
	struct argv a = {0};
	if (sv->shell) {
		argv_add(&a, "/bin/sh");
		argv_add(&a, "-c");
	}
	char *url = NULL, *log_line = NULL;
	int rc = -EINVAL;
	for (size_t i = 0; i < sv->argc; i++)
		if (!add_expanded(x, &a, &sv->argv[i], config, &b))
			goto out;
	if (sv->ready_url.text &&
	    !(url = sweep_expand(x->plan, &sv->ready_url, config, &b, x->err, sizeof x->err)))
		goto out;
	if (sv->ready_log.text &&
	    !(log_line = sweep_expand(x->plan, &sv->ready_log, config, &b, x->err, sizeof x->err)))
		goto out;
	char what[256] = "";
	for (size_t i = 0; i < sv->n_params; i++) {
		size_t l = strlen(what);
		snprintf(what + l, sizeof what - l, "%s%s=%s", i ? " " : "",
		         x->plan->params[sv->params[i]].name,
		         sweep_plan_value(x->plan, config, sv->params[i]));
	}
	int64_t t0 = gops_now_ns();
	if ((rc = sweep_service_start(a.v, &x->service, x->err, sizeof x->err)) < 0)
		goto out;
	x->service_up = true;
	x->service_group = sweep_plan_service_group(x->plan, config);
	rc = sweep_service_wait_ready(&x->service, url, log_line, sv->ready_timeout_s, x->err, sizeof x->err);
	if (rc == 0)
		fprintf(stderr, "%sgreenops sweep: service%s%s ready on port %s after %.1f s\n",
		        x->tty ? "\r\033[K" : "", what[0] ? " for " : "", what, x->port,
		        (double)(gops_now_ns() - t0) / 1e9);
out:
	free(url);
	free(log_line);
	argv_free(&a);
	return rc;
}

static void fmt_eta(double s, char *buf, size_t len)
{
	if (!isfinite(s))
		snprintf(buf, len, "?");
	else if (s < 60)
		snprintf(buf, len, "%.0f s", s);
	else if (s < 3600)
		snprintf(buf, len, "%dm%02ds", (int)s / 60, (int)s % 60);
	else
		snprintf(buf, len, "%dh%02dm", (int)s / 3600, (int)s % 3600 / 60);
}

static size_t count_state(const struct sweep_exec *x, enum sweep_run_state st)
{
	size_t n = 0;
	for (size_t i = 0; i < x->n_rows; i++)
		n += x->rows[i].state == st;
	return n;
}

static void progress(struct sweep_exec *x, const struct sweep_run_row *row, const char *what)
{
	size_t done = count_state(x, SWEEP_RUN_OK) + count_state(x, SWEEP_RUN_FAILED) +
	              count_state(x, SWEEP_RUN_SKIPPED);
	size_t left = x->n_rows - done;
	double eta = x->n_timed ? x->busy_s / (double)x->n_timed * (double)left : NAN;
	char eta_s[32], params[512];
	fmt_eta(eta, eta_s, sizeof eta_s);
	params_text(x->plan, row->slot.config, params, sizeof params);
	fprintf(stderr, "%sgreenops sweep %lld: [%zu/%zu] %s rep %u%s%s | %zu ok, %zu failed%s | ETA %s%s",
	        x->tty ? "\r\033[K" : "", (long long)x->sweep_id, done + (what ? 0 : 1), x->n_rows, params,
	        row->slot.rep, what ? ": " : "", what ? what : "", count_state(x, SWEEP_RUN_OK),
	        count_state(x, SWEEP_RUN_FAILED), count_state(x, SWEEP_RUN_SKIPPED) ? ", some skipped" : "",
	        eta_s, x->tty ? "" : "\n");
	fflush(stderr);
}

static int interruptible_sleep(double s)
{
	int64_t end = gops_now_ns() + (int64_t)(s * 1e9);
	while (gops_now_ns() < end) {
		if (sweep_interrupted)
			return -EINTR;
		usleep(50000);
	}
	return 0;
}

static int cool_down(struct sweep_exec *x)
{
	const struct sweep_plan *p = x->plan;
	if (p->cooldown_s > 0 && interruptible_sleep(p->cooldown_s) < 0)
		return -EINTR;
	if (isfinite(p->cooldown_idle_pct)) {
		char msg[512];
		int rc = sweep_cooldown_until_idle(x->db_path, p->cooldown_idle_pct, p->cooldown_timeout_s,
		                                   msg, sizeof msg);
		if (rc == -EINTR)
			return rc;
		if (rc < 0 || msg[0])
			fprintf(stderr, "%sgreenops sweep: cool-down: %s\n", x->tty ? "\r\033[K" : "", msg);
	}
	return 0;
}

/* --- the loop ------------------------------------------------------------------------ */

static int load_rows(struct sweep_exec *x)
{
	free(x->rows);
	x->rows = NULL;
	int rc = sweep_store_runs(x->store, x->sweep_id, &x->rows, &x->n_rows);
	if (rc < 0)
		snprintf(x->err, sizeof x->err, "%s", sweep_store_error(x->store));
	return rc;
}

static int open_sweep(struct sweep_exec *x, const char *db_path, bool resume, int64_t resume_id)
{
	char err[1024];
	int rc = sweep_store_open(&x->store, db_path, err, sizeof err);
	if (rc < 0) {
		snprintf(x->err, sizeof x->err, "%s", err);
		return rc;
	}
	/* The children write to exactly this file, wherever the default pointed. */
	char *p = db_path ? realpath(db_path, NULL) : gops_db_default_path();
	x->db_path = p ? p : gops_xstrdup(db_path ? db_path : "");
	char hash[17];
	sweep_plan_hash(x->plan, hash);
	if (!resume) {
		struct sweep_slot *slots;
		size_t n;
		if ((rc = sweep_plan_order(x->plan, &slots, &n)) < 0)
			return rc;
		rc = sweep_store_create(x->store, x->plan, slots, n, &x->sweep_id);
		free(slots);
		if (rc < 0) {
			snprintf(x->err, sizeof x->err, "%s", sweep_store_error(x->store));
			return rc;
		}
		return load_rows(x);
	}
	if (resume_id) {
		struct sweep_info info;
		if ((rc = sweep_store_info(x->store, resume_id, &info)) < 0) {
			snprintf(x->err, sizeof x->err, "%s", sweep_store_error(x->store));
			return rc;
		}
		bool same = !strcmp(info.plan_hash, hash);
		bool completed = !strcmp(info.status, "completed");
		sweep_info_release(&info);
		if (!same) {
			snprintf(x->err, sizeof x->err,
			         "'%s' is not the plan sweep %lld ran (it changed since?)", x->plan->path,
			         (long long)resume_id);
			return -EINVAL;
		}
		if (completed) {
			snprintf(x->err, sizeof x->err, "sweep %lld has completed: nothing to resume",
			         (long long)resume_id);
			return -EALREADY;
		}
		x->sweep_id = resume_id;
	} else if ((rc = sweep_store_find_unfinished(x->store, hash, &x->sweep_id)) < 0) {
		if (rc == -ENOENT)
			snprintf(
			    x->err, sizeof x->err,
			    "no unfinished sweep of '%s' in '%s' (it completed, or the plan changed since)",
			    x->plan->path, x->db_path);
		else
			snprintf(x->err, sizeof x->err, "%s", sweep_store_error(x->store));
		return rc;
	}
	if ((rc = load_rows(x)) < 0)
		return rc;
	/* A row left running was the run in flight when the sweep died: it is made again. */
	size_t done = 0;
	for (size_t i = 0; i < x->n_rows; i++) {
		if (x->rows[i].state == SWEEP_RUN_RUNNING)
			x->rows[i].state = SWEEP_RUN_PENDING;
		done += x->rows[i].state != SWEEP_RUN_PENDING;
	}
	fprintf(stderr, "greenops sweep: resuming sweep %lld: %zu of %zu runs done\n", (long long)x->sweep_id,
	        done, x->n_rows);
	return sweep_store_set_status(x->store, x->sweep_id, "running");
}

/* Makes every pending row in order. Returns 0, -EINTR, or a store error. */
static int run_pending(struct sweep_exec *x)
{
	for (size_t i = 0; i < x->n_rows; i++) {
		struct sweep_run_row *row = &x->rows[i];
		if (row->state != SWEEP_RUN_PENDING)
			continue;
		if (sweep_interrupted)
			return -EINTR;
		char why[256];
		if (ladder_stopped(x, row, why, sizeof why)) {
			struct sweep_outcome o = {
			    .state = SWEEP_RUN_SKIPPED, .message = why, .exit_status = -1, .duration_s = NAN};
			row->state = SWEEP_RUN_SKIPPED;
			int rc = sweep_store_run_finished(x->store, x->sweep_id, row->position, &o);
			if (rc < 0)
				return rc;
			continue;
		}
		if (x->plan->service.present) {
			size_t g = sweep_plan_service_group(x->plan, row->slot.config);
			if (x->service_up && (g != x->service_group || !sweep_service_alive(&x->service)))
				stop_service(x);
			if (!x->service_up) {
				int rc = start_service(x, row->slot.config);
				if (rc == -EINTR)
					return rc;
				if (rc < 0) {
					fprintf(stderr, "%sgreenops sweep: %s\n", x->tty ? "\r\033[K" : "",
					        x->err);
					char msg[1100];
					snprintf(msg, sizeof msg, "%s", x->err);
					stop_service(x);
					/* Every run of this service fails the same way. */
					for (size_t k = i; k < x->n_rows; k++) {
						struct sweep_run_row *o = &x->rows[k];
						if (o->state != SWEEP_RUN_PENDING ||
						    sweep_plan_service_group(x->plan, o->slot.config) != g)
							continue;
						struct sweep_outcome out = {.state = SWEEP_RUN_FAILED,
						                            .failure = "service",
						                            .message = msg,
						                            .exit_status = -1,
						                            .duration_s = NAN};
						o->state = SWEEP_RUN_FAILED;
						gops_strlcpy(o->failure, "service", sizeof o->failure);
						if ((rc = sweep_store_run_finished(x->store, x->sweep_id,
						                                   o->position, &out)) < 0)
							return rc;
					}
					continue;
				}
			}
		}
		if (x->tty)
			progress(x, row, NULL);
		int64_t t0 = gops_now_ns();
		int rc = run_one(x, row);
		if (rc < 0)
			return rc;
		bool last = true;
		for (size_t k = i + 1; k < x->n_rows && last; k++)
			last = x->rows[k].state != SWEEP_RUN_PENDING;
		if (!last && cool_down(x) < 0)
			return -EINTR;
		x->busy_s += (double)(gops_now_ns() - t0) / 1e9;
		x->n_timed++;
		if (!x->tty)
			progress(x, row, row->state == SWEEP_RUN_OK ? "ok" : row->failure);
	}
	return 0;
}

/* --until-ci: another round for each configuration whose interval is still too wide. */
static int add_round(struct sweep_exec *x, size_t *added)
{
	*added = 0;
	struct sweep_config_stats *st;
	size_t n;
	int rc = sweep_stats_load(sweep_store_conn(x->store), x->sweep_id, x->plan, 0.95, &st, &n, x->err,
	                          sizeof x->err);
	if (rc < 0)
		return rc;
	struct sweep_slot *slots = calloc(n ? n : 1, sizeof *slots);
	for (size_t c = 0; c < n; c++) {
		const struct sweep_config_stats *s = &st[c];
		unsigned reps = 0;
		for (size_t i = 0; i < x->n_rows; i++)
			if (x->rows[i].slot.config == s->config && x->rows[i].slot.rep > reps)
				reps = x->rows[i].slot.rep;
		if (s->n_ok == 0 || reps >= x->plan->max_repetitions)
			continue; /* nothing to average, or the ceiling */
		if (isfinite(s->ci_rel_pct) && s->ci_rel_pct <= x->plan->until_ci_pct)
			continue;
		slots[(*added)++] = (struct sweep_slot){s->config, reps + 1};
	}
	sweep_stats_free(st, n);
	if (*added)
		rc = sweep_store_append(x->store, x->sweep_id, x->plan, slots, *added);
	free(slots);
	if (rc < 0) {
		snprintf(x->err, sizeof x->err, "%s", sweep_store_error(x->store));
		return rc;
	}
	return *added ? load_rows(x) : 0;
}

static void summary(struct sweep_exec *x, bool interrupted)
{
	size_t ok = count_state(x, SWEEP_RUN_OK), failed = count_state(x, SWEEP_RUN_FAILED),
	       skipped = count_state(x, SWEEP_RUN_SKIPPED), pending = count_state(x, SWEEP_RUN_PENDING);
	if (x->tty)
		fprintf(stderr, "\r\033[K");
	char classes[256] = "";
	static const char *const names[] = {"oom", "exit-status", "signal", "time-limit", "error", "service"};
	for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
		size_t n = 0;
		for (size_t i = 0; i < x->n_rows; i++)
			n += x->rows[i].state == SWEEP_RUN_FAILED && !strcmp(x->rows[i].failure, names[k]);
		if (n) {
			size_t l = strlen(classes);
			snprintf(classes + l, sizeof classes - l, "%s%zu %s", l ? ", " : "", n, names[k]);
		}
	}
	printf("sweep %lld%s%s%s: %zu runs: %zu ok, %zu failed%s%s%s", (long long)x->sweep_id,
	       x->plan->name ? " (" : "", x->plan->name ? x->plan->name : "", x->plan->name ? ")" : "",
	       x->n_rows, ok, failed, classes[0] ? " (" : "", classes, classes[0] ? ")" : "");
	if (skipped)
		printf(", %zu skipped", skipped);
	if (pending)
		printf(", %zu not run", pending);
	printf("\n");
	if (interrupted)
		printf("interrupted: go on with: greenops sweep %s --resume=%lld --db %s\n", x->plan->path,
		       (long long)x->sweep_id, x->db_path);
	else
		printf("next: greenops analyze --sweep %lld --db %s\n", (long long)x->sweep_id, x->db_path);
}

int sweep_exec_run(struct sweep_exec *x, const char *db_path, bool resume, int64_t resume_id)
{
	int rc = open_sweep(x, db_path, resume, resume_id);
	if (rc < 0)
		return cmd_error(VERB, "%s", x->err);
	rc = run_pending(x);
	while (rc == 0 && isfinite(x->plan->until_ci_pct)) {
		size_t added;
		if ((rc = add_round(x, &added)) < 0 || !added)
			break;
		fprintf(
		    stderr,
		    "%sgreenops sweep: %zu configurations not yet within %g%%: one more repetition each\n",
		    x->tty ? "\r\033[K" : "", added, x->plan->until_ci_pct);
		rc = run_pending(x);
	}
	stop_service(x);
	bool interrupted = rc == -EINTR;
	if (rc < 0 && !interrupted) {
		sweep_store_set_status(x->store, x->sweep_id, "failed");
		return cmd_error(VERB, "%s", x->err[0] ? x->err : sweep_store_error(x->store));
	}
	if (sweep_store_set_status(x->store, x->sweep_id, interrupted ? "interrupted" : "completed") < 0)
		return cmd_error(VERB, "%s", sweep_store_error(x->store));
	summary(x, interrupted);
	return interrupted ? 130 : 0;
}
