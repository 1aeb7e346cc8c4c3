/* A sweep plan: what `greenops sweep PLAN.yaml` reads (libyaml), checks against its schema
 * with the file, line and column of every error, and expands into the ordered list of runs
 * it will make. No I/O besides reading the file; nothing here prints. */
#ifndef GOPS_SWEEP_PLAN_H
#define GOPS_SWEEP_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Where something was written in the plan (1-based), for messages. */
struct sweep_mark {
	unsigned line, column;
};

/* A string that may name parameters as {NAME}, and where it was written. */
struct sweep_template {
	char *text;
	struct sweep_mark mark;
	int style_offset; /* 1 when the scalar was quoted: the text starts one column later */
	bool multiline;   /* a block or folded scalar: columns inside it are not exact */
};

struct sweep_param {
	char *name;
	struct sweep_mark mark;
	size_t n_values;
	char **values;
	bool numeric; /* every value parses as a number */
};

enum sweep_kind {
	SWEEP_KIND_RUN,         /* each run is `greenops run ... -- COMMAND` */
	SWEEP_KIND_SERVE_BENCH, /* each run is `greenops serve-bench ARGS` */
};

enum sweep_units {
	SWEEP_UNITS_NONE,    /* whatever the command reports through its windows, if anything */
	SWEEP_UNITS_EXPR,    /* a number or an arithmetic expression of parameters */
	SWEEP_UNITS_WINDOWS, /* taken from the windows the command marks (said explicitly) */
};

struct sweep_service {
	bool present;
	size_t argc;
	struct sweep_template *argv; /* argv, or one shell line when shell */
	bool shell;
	size_t n_params; /* the parameters that make a new service; the others run inside */
	size_t *params;  /* indexes into plan->params */
	struct sweep_template ready_url, ready_log; /* text NULL when not given */
	double ready_timeout_s;
	double stop_timeout_s; /* SIGTERM, then SIGKILL after this */
};

struct sweep_tag {
	char *key;
	struct sweep_template value;
};

struct sweep_plan {
	char *path; /* as given, for messages */
	char *dir;  /* the plan's folder: {plan_dir} */
	char *name;
	enum sweep_kind kind;
	size_t argc;
	struct sweep_template *argv; /* command (run) or serve-bench arguments */
	bool shell;                  /* argv[0] is one line for /bin/sh -c */
	size_t n_params;
	struct sweep_param *params;
	/* An explicit list of combinations (n_params values each), or none: the full grid. */
	size_t n_combos;
	size_t *combos; /* n_combos x n_params value indexes */
	unsigned repetitions;
	unsigned max_repetitions; /* --until-ci's ceiling (default 3 x repetitions) */
	double until_ci_pct;      /* NAN: not asked in the plan */
	bool randomise;
	uint64_t seed;
	enum sweep_units units;
	struct sweep_template units_expr;
	size_t n_tags;
	struct sweep_tag *tags;
	double time_limit_s;       /* 0: none */
	double cooldown_s;         /* fixed pause after each run; 0: none */
	double cooldown_idle_pct;  /* NAN: no wait for idle; else within this % of stored idle */
	double cooldown_timeout_s; /* the longest wait for idle */
	ssize_t ladder;            /* parameter index of the ladder, -1 none */
	bool ladder_stop_at_oom;   /* skip the larger values once one runs out of memory */
	size_t n_run_options;
	struct sweep_template *run_options; /* extra options for greenops run / serve-bench */
	struct sweep_template model;        /* an ONNX file per configuration; text NULL: none */
	struct sweep_service service;
	char *text; /* the plan file as read, stored with the sweep */
	size_t text_len;
};

/* Reads and checks a plan. On error returns -EINVAL (or -errno for an unreadable file) with
 * one line in err: "PATH:LINE:COLUMN: what is wrong". */
int sweep_plan_load(struct sweep_plan *plan, const char *path, char *err, size_t errlen);
/* The same over a buffer (tests, fuzzing); path only names it in messages. */
int sweep_plan_parse(struct sweep_plan *plan, const char *path, const char *buf, size_t len, char *err,
                     size_t errlen);
void sweep_plan_release(struct sweep_plan *plan);

/* --- configurations and runs --------------------------------------------------------- */

/* The number of configurations (grid size or list length). */
size_t sweep_plan_n_configs(const struct sweep_plan *plan);
/* Value index of parameter p in configuration c. */
size_t sweep_plan_value_index(const struct sweep_plan *plan, size_t c, size_t p);
const char *sweep_plan_value(const struct sweep_plan *plan, size_t c, size_t p);
/* The configuration's service group: configurations with equal values of the service's
 * parameters share one (0 when there is no service). */
size_t sweep_plan_service_group(const struct sweep_plan *plan, size_t c);

struct sweep_slot {
	size_t config;
	unsigned rep; /* 1-based */
};
/* The runs in the order they will be made: every configuration `repetitions` times,
 * shuffled with the seed when randomised (runs of one service kept together; a ladder's
 * values ascending). Caller frees *out. */
int sweep_plan_order(const struct sweep_plan *plan, struct sweep_slot **out, size_t *n);

/* Extra values a template may name besides the parameters. */
struct sweep_builtins {
	const char *greenops; /* path of this greenops */
	const char *port;     /* the service's port (NULL outside a service plan) */
	unsigned rep;
	long long sweep_id;
};
/* Expands {NAME} in t for configuration c. {{ and }} are literal braces. Returns a new string,
 * or NULL with err naming the plan's place when a name is unknown. */
char *sweep_expand(const struct sweep_plan *plan, const struct sweep_template *t, size_t c,
                   const struct sweep_builtins *b, char *err, size_t errlen);

/* Evaluates an arithmetic expression (numbers, + - * /, parentheses, unary minus). -EINVAL
 * with a message when it is not one. */
int sweep_eval(const char *expr, double *out, char *err, size_t errlen);
/* The units of configuration c: the expression expanded and evaluated; NAN for none. */
int sweep_plan_units(const struct sweep_plan *plan, size_t c, double *units, char *err, size_t errlen);

/* Parses "90", "90s", "1.5m", "2h" into seconds; -EINVAL otherwise. */
int sweep_parse_duration(const char *s, double *seconds);

#endif
