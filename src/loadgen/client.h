/* The open-loop HTTP client of serve-bench: one thread drives libcurl's multi interface,
 * sends each request at its scheduled CLOCK_MONOTONIC time, parses the streamed response as
 * it arrives and keeps one record per request. It never prints; progress and the
 * steady-state marks go to callbacks. */
#ifndef GOPS_LOADGEN_CLIENT_H
#define GOPS_LOADGEN_CLIENT_H

#include "loadgen/dataset.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum lg_status {
	LG_PENDING = 0, /* never sent (the run was stopped first) */
	LG_OK,
	LG_FAILED,
};

/* Why a request failed; the record's `error` has the detail. */
enum lg_err {
	LG_ERR_NONE = 0,
	LG_ERR_CONNECT,   /* refused, unreachable, name not resolved */
	LG_ERR_TIMEOUT,   /* --timeout expired */
	LG_ERR_HTTP,      /* a status other than 2xx */
	LG_ERR_EVENT,     /* the server streamed an error event */
	LG_ERR_MALFORMED, /* an event that is not a JSON object, an oversized event, no [DONE] */
	LG_ERR_DROPPED,   /* the connection closed mid-response */
	LG_ERR_NO_TOKENS, /* a complete stream without a single token */
	LG_ERR_TRANSPORT, /* anything else libcurl reported */
	LG_ERR_ABORTED,   /* in flight when the run was stopped */
};
const char *lg_err_name(enum lg_err e);

/* One request, as the results database will store it. Times are CLOCK_MONOTONIC ns; 0 when
 * the moment never came. */
struct lg_record {
	int64_t t_sched;         /* scheduled arrival: every latency counts from here */
	int64_t t_admit;         /* a --max-concurrency slot let it go (t_sched without a limit) */
	int64_t t_start;         /* handed to libcurl */
	int64_t t_sent;          /* libcurl about to send (t_start + connect time) */
	int64_t t_first;         /* first event carrying generated text */
	int64_t t_end;           /* last byte of the response, or the failure */
	int64_t prompt_tokens;   /* server's usage, -1 unknown; as wide as the server's JSON */
	int64_t output_tokens;   /* usage's completion_tokens, else the text-carrying events */
	int32_t chunks;          /* text-carrying events */
	int32_t reads;           /* pieces libcurl delivered: events per read = chunks / reads */
	uint32_t itl_off, itl_n; /* gaps between chunks in the run's itl_us arena */
	uint32_t item;           /* dataset item (multi-turn: the conversation) */
	uint32_t session;        /* multi-turn: the session (the run's arrival it belongs to) */
	uint32_t turn;           /* multi-turn: the turn in its session, from 0; else 0 */
	int16_t http_status;
	uint8_t status;      /* enum lg_status */
	uint8_t err;         /* enum lg_err */
	bool usage;          /* output_tokens came from the server's usage */
	bool new_connection; /* libcurl opened a connection for it (none was idle) */
	bool warmup;         /* not counted */
	char *error;         /* failure detail, NULL when ok */
};

struct lg_client_opts {
	const char *url;          /* the whole endpoint URL */
	const char *api_key;      /* sent as a bearer token; NULL none */
	int http_version;         /* 1 (HTTP/1.1) or 2 (HTTP/2; prior knowledge on http://) */
	unsigned max_concurrency; /* 0: no limit */
	long timeout_ms;          /* per request; 0 none */
	bool use_jansson;         /* parse every event with jansson instead of the fast reader */
};

struct lg_client;
int lg_client_new(struct lg_client **out, const struct lg_client_opts *o, char *err, size_t errlen);
void lg_client_free(struct lg_client *c);

struct lg_progress {
	size_t total, sent, finished, failed, in_flight, held;
	double elapsed_s; /* since the first scheduled arrival */
	double planned_s; /* the schedule's span */
};
typedef void (*lg_progress_fn)(void *ctx, const struct lg_progress *p);

enum lg_mark {
	LG_MARK_START,        /* the first counted arrival */
	LG_MARK_STEADY_BEGIN, /* load reached its plateau (see docs/SERVE_BENCH.md) */
	LG_MARK_STEADY_END,   /* the tail began */
	LG_MARK_END,          /* the last counted response ended */
};
typedef void (*lg_mark_fn)(void *ctx, enum lg_mark m, int64_t t_ns);

struct lg_run_spec {
	const int64_t *offsets; /* arrival offsets (ns), warmup arrivals first */
	size_t n;
	size_t n_warmup;
	const struct lg_dataset *ds; /* request i sends item (first_item + i) % ds->n */
	size_t first_item;
	/* Multi-turn (the dataset has convs): arrival i starts a session of conversation
	 * (first_item + i) % ds->n; each later turn is sent think_ns after the previous answer
	 * ended, carrying the conversation so far with the server's own answers. A failed turn
	 * ends its session: its later turns are never sent. */
	bool multi_turn;
	int64_t think_ns;
	int64_t lead_ns; /* the first arrival is this long after the call; 0: 2 ms */
	lg_progress_fn progress;
	void *progress_ctx;
	int64_t progress_every_ns;
	lg_mark_fn mark;
	void *mark_ctx;
	volatile sig_atomic_t *stop; /* non-zero: stop sending, abort what is in flight */
	size_t failures_allowed;     /* abort the run when counted failures exceed it */
};

struct lg_run {
	struct lg_record *rec; /* multi-turn: session by session, each session's turns in order */
	size_t n, n_warmup;
	bool multi_turn;
	uint32_t *itl_us; /* every gap between text-carrying events, microseconds */
	size_t n_itl, cap_itl;
	int64_t t0;           /* the run's time origin: offsets count from here */
	int64_t steady_begin; /* 0: no plateau was observed */
	int64_t steady_end;
	double cpu_s;  /* CPU time of the client thread during the run */
	double spin_s; /* of which polling with nothing to do while an arrival was close */
	bool stopped;  /* by the stop flag */
	bool too_many_failures;
	bool client_behind; /* the client fell LG_MAX_BEHIND_NS behind its schedule: stopped */
};

/* A client this far behind its own schedule measures itself, not the server: the run stops. */
#define LG_MAX_BEHIND_NS 1000000000LL

/* Opens about n connections before a run (HTTP/1.1 only), by as many concurrent GETs of url
 * (answers ignored), and keeps that many open however light the load: a burst of arrivals
 * then reuses them instead of opening connections, which on loopback cost the client several
 * times a request. Gives up after timeout_ns. Returns 0 or a negative errno. */
int lg_client_prewarm(struct lg_client *c, const char *url, size_t n, int64_t timeout_ns);

/* Runs one schedule to the end. Returns 0 (failed requests are results, not errors), or a
 * negative errno with a message when the run could not be carried out. */
int lg_client_run(struct lg_client *c, const struct lg_run_spec *s, struct lg_run *out, char *err,
                  size_t errlen);
void lg_run_release(struct lg_run *r);

#endif
