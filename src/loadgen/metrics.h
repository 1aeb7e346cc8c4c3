/* serve-bench's metrics, exactly as docs/CONTRACTS.md defines them: TTFT, TPOT, ITL and E2EL timed
 * from each request's scheduled arrival, throughputs over the run's duration, goodput under
 * SLOs, and the steady-state window's counts. Pure functions of a run's records. */
#ifndef GOPS_LOADGEN_METRICS_H
#define GOPS_LOADGEN_METRICS_H

#include "loadgen/client.h"

#include <stdbool.h>
#include <stddef.h>

#define LG_MAX_PCT     8
#define LG_MAX_REASONS 16
#define LG_TREND_MIN   20

/* A distribution in milliseconds; NAN fields when it has no value. */
struct lg_dist {
	size_t n;
	double mean, median, p90, p99;
	double pct[LG_MAX_PCT]; /* the extra percentiles asked for */
};

/* Service-level objectives in milliseconds; NAN: not set. */
struct lg_slo {
	double ttft_ms, tpot_ms, e2el_ms;
};

struct lg_reason {
	enum lg_err err;
	char label[48]; /* "http 500", "connection failed", ... */
	size_t count;
	char example[200]; /* the first request's detail */
};

struct lg_summary {
	size_t num_requests; /* counted requests in the schedule */
	size_t sent, completed, failed, not_sent;
	double schedule_rate; /* the schedule's own rate (req/s) */
	double achieved_rate; /* what the client actually sent: (sent - 1) / span of send times */
	double duration_s;    /* first scheduled arrival to the end of the last response */
	double request_throughput, output_token_throughput;
	long long total_input_tokens; /* -1 when the server sent no usage */
	long long total_output_tokens;
	bool output_tokens_approximate; /* some responses had no usage: chunks were counted */
	struct lg_dist ttft, tpot, itl, e2el;
	struct lg_dist queue;    /* client-side wait for a --max-concurrency slot */
	struct lg_dist lateness; /* the loop handed it to libcurl this late (start - admit) */
	bool slo_set;
	size_t good;
	double goodput, slo_attainment;
	size_t n_reasons;
	struct lg_reason reasons[LG_MAX_REASONS];
	/* The steady-state window (see docs/SERVE_BENCH.md); valid is false without a plateau. */
	bool steady_valid;
	double steady_begin_s, steady_end_s; /* from the first scheduled arrival */
	size_t steady_completed;             /* counted requests that ended inside it */
	double steady_output_tokens;         /* tokens streamed inside it */
	/* Queueing over the arrival period: median TTFT of the first and last quarter of the
	 * completed counted requests (in schedule order), and its growth per second of schedule
	 * between the two; NAN with fewer than LG_TREND_MIN completed. */
	double ttft_first_quarter_ms, ttft_last_quarter_ms, ttft_growth_ms_per_s;
	double reads_per_response; /* mean reads of a completed response */
	size_t connections_opened; /* requests that needed a new connection */
	double cpu_s, cpu_us_per_request;
	double spin_s, busy_us_per_request; /* polling for a close arrival; the CPU time without it */
};

/* Distribution of v[0..n) (sorted in place), percentiles by linear interpolation as numpy. */
void lg_dist_compute(struct lg_dist *d, double *v, size_t n, const double *pcts, size_t npct);

int lg_summarize(const struct lg_run *r, const double *pcts, size_t npct, const struct lg_slo *slo,
                 struct lg_summary *s);

/* Multi-turn: the counted requests of one turn index (0 = each session's first). TTFT grows
 * with the history a turn carries. */
struct lg_turn_stat {
	size_t sessions; /* sessions that have this turn */
	size_t sent, completed, failed;
	struct lg_dist ttft, e2el;
	double prompt_tokens_mean; /* server's usage; NAN when unknown */
};
/* One entry per turn index up to the longest session's; *out malloc'd (NULL, 0 when none). */
int lg_turn_stats(const struct lg_run *r, struct lg_turn_stat **out, size_t *n);

#endif
