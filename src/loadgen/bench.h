/* A serve-bench sweep: one run per requested rate, in order, with a cool-down between runs;
 * each run is a named energy window with a steady-state window inside it. Energy comes in
 * through a three-function seam (lg_energy_ops), so the sweep runs and is tested without
 * any sensor; JSON follows docs/CONTRACTS.md's {runs: [...]}. */
#ifndef GOPS_LOADGEN_BENCH_H
#define GOPS_LOADGEN_BENCH_H

#include "loadgen/attrib.h"
#include "loadgen/client.h"
#include "loadgen/metrics.h"
#include "loadgen/schedule.h"

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>

struct lg_energy_value {
	bool valid;
	double energy_j;         /* gross */
	double dynamic_energy_j; /* NAN without an idle baseline */
	double uncertainty_j;
	double duration_s;
};

/* The seam to the energy monitor. begin/end mark windows (t_ns CLOCK_MONOTONIC, possibly a
 * moment ago); get reads a window's energy once the monitor has stopped. */
struct lg_energy_ops {
	int (*begin)(void *ctx, const char *window, int64_t t_ns);
	int (*end)(void *ctx, const char *window, int64_t t_ns, double units);
	int (*get)(void *ctx, const char *window, struct lg_energy_value *out);
	/* Optional: the power timeline of the summed domains, one series per domain, for the
	 * per-request attribution (owned by ctx). Without it, power is taken as constant. */
	int (*power)(void *ctx, const struct lg_power_series **out, size_t *n);
};

struct lg_rate {
	enum lg_arrival kind; /* POISSON here means "the sweep's shape" (poisson/gamma/constant) */
	double rate;          /* requests/s; INFINITY for inf, NAN for trace */
};
/* "20", "5,10,inf", "trace". Returns 0 or -EINVAL with a message. */
int lg_parse_rates(const char *arg, struct lg_rate **out, size_t *n, char *err, size_t errlen);
/* "20" or "inf" or "trace" for tables and window names. */
void lg_rate_label(const struct lg_rate *r, char *buf, size_t len);

struct lg_bench_run {
	struct lg_rate rate;
	char window[48];        /* energy window of the run: "rate=20" */
	char steady_window[64]; /* "rate=20:steady" */
	struct lg_run run;      /* the records: kept for the database and --requests */
	struct lg_summary sum;
	size_t steady_arrivals; /* counted arrivals scheduled inside the steady window */
	bool keeps_up;          /* completions kept pace with arrivals in the steady window */
	bool queue_grows;       /* TTFT grew with the arrival time: the server fell behind */
	struct lg_energy_value energy, steady_energy;
	struct lg_attribution attrib; /* each request's share of the run's energy */
};

struct lg_bench_opts {
	const struct lg_rate *rates;
	size_t n_rates;
	enum lg_arrival shape; /* for finite rates: POISSON, GAMMA or CONSTANT */
	double burstiness;
	size_t num_requests; /* or duration_s */
	double duration_s;
	size_t warmup;
	unsigned long seed;
	double cooldown_s;
	const double *pcts;
	size_t npct;
	struct lg_slo slo;
	size_t max_failures; /* SIZE_MAX: no limit */
	const struct lg_dataset *ds;
	bool multi_turn; /* arrivals are sessions of the dataset's conversations */
	double think_s;  /* multi-turn: from an answer to the next turn */
	struct lg_client *client;
	const struct lg_energy_ops *energy; /* NULL: no energy */
	void *energy_ctx;
	lg_progress_fn progress;
	void *progress_ctx;
	int64_t progress_every_ns;
	/* Called before each run starts (i, its rate) and after it ends. */
	void (*run_begin)(void *ctx, size_t i, const struct lg_bench_run *r);
	void (*run_end)(void *ctx, size_t i, const struct lg_bench_run *r);
	void *run_ctx;
	volatile sig_atomic_t *stop;
	double prefill_weight; /* attribution: work of a prompt token against a decoded one (0: 1) */
};

struct lg_bench {
	struct lg_bench_run *runs;
	size_t n_runs;
	size_t failures;
	bool too_many_failures, stopped;
	bool client_behind; /* a run stopped because the client could not keep its schedule */
	int64_t t_end;      /* the end of the last response of the last run */
	bool energy_filled;
	double prefill_weight;
	char energy_note[256]; /* why energy is missing, "" when it is there */
};

int lg_bench_run(struct lg_bench *b, const struct lg_bench_opts *o, char *err, size_t errlen);
/* After the monitor stopped: reads each run's windows. note: why energy is missing (NULL when
 * ops is given). */
void lg_bench_fill_energy(struct lg_bench *b, const struct lg_energy_ops *ops, void *ctx, const char *note);

struct lg_saturation {
	double throughput_saturated_at; /* first rate whose completions fell behind; NAN none */
	double max_request_throughput;
	double max_throughput_rate;
	double energy_floor_at;  /* the first rate that lowered energy per request by < 2%; NAN */
	double energy_min_at;    /* the rate of the lowest energy per request; NAN */
	bool energy_from_steady; /* those use the steady-state windows */
};
void lg_bench_saturation(const struct lg_bench *b, struct lg_saturation *s);

/* Per-request energy and per-token energy of a run (NAN when unknown). */
double lg_run_energy_per_request(const struct lg_bench_run *r, bool steady, bool dynamic);
double lg_run_energy_per_token(const struct lg_bench_run *r, bool steady, bool dynamic);

json_t *lg_bench_json(const struct lg_bench *b, const struct lg_bench_opts *o);
void lg_bench_release(struct lg_bench *b);

#endif
