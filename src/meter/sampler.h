/* The sampler's interface: the per-domain record it fills (read by meter.c) and the thread
 * that fills it. It reads the sources it is given and knows nothing of the monitor's windows,
 * tags or results; failures come back as return values and domain notes. */
#ifndef GOPS_METER_SAMPLER_H
#define GOPS_METER_SAMPLER_H

#include "meter/attrib.h"
#include "meter/series.h"
#include "sources/source.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Both element types begin with their time: meter.c searches either by it. */
struct power_sample {
	int64_t t_ns;
	double watts;
	double cum_j; /* trapezoid integral of power from the series' first sample to this one */
	/* The hardware's own average power read beside it and its running integral, where the
	 * domain has one (dom_state.avg_ok); NAN from the first failed read on. */
	double avg_w, avg_cum_j;
};

/* A counter reading. t_ns is when the value was true (the update time where known, else the
 * read time less half the update period); t_unc_ns bounds that time's error. */
struct anchor {
	int64_t t_ns;
	int64_t t_unc_ns;
	double joules;
};

/* A counter reading that cannot be trusted as a difference from the one before it: the
 * sampler marks it (reset, implausible rise), the meter bridges or refuses the stretch. */
enum counter_fault {
	FAULT_NONE,
	FAULT_RESET,      /* went backwards without a plausible wrap */
	FAULT_TOO_FAST,   /* rose faster than the domain's max power allows: wraps were missed */
	FAULT_FROZEN,     /* did not move over several update periods (meter.c) */
	FAULT_LOW,        /* rose far less than instant power integrates to (meter.c) */
	FAULT_UNREADABLE, /* could not be read from some moment to the end of the span */
};
#define MAX_COUNTER_MARKS 64

struct counter_mark {
	size_t anchor;          /* the stretch from anchor-1 to this anchor is not a measurement */
	enum counter_fault why; /* FAULT_RESET or FAULT_TOO_FAST */
};

/* Per counter reading, filled by meter.c while it computes a result: the energy the domain
 * had used by then, with untrusted stretches replaced by integrated power. */
struct anchor_fix {
	double joules;
	enum counter_fault gap_before; /* why the stretch ending here was bridged (NONE: counter) */
	double gap_unc_j;              /* uncertainty of that bridge */
};

/* A counter read the sampler has planned. */
enum planned_kind {
	READ_DATED,  /* one read between updates: the value of the update before it */
	READ_BEFORE, /* just before a predicted update */
	READ_AFTER,  /* just after it: the pair brackets the update */
};
struct planned_read {
	int64_t at_ns;
	int64_t update_ns; /* the predicted update it is about (0: none predicted) */
	int64_t until_ns;  /* READ_AFTER keeps reading until then */
	enum planned_kind kind;
};
#define PLAN_MAX 16

/* One domain as the sampler reads it (and meter.c judges). */
struct dom_state {
	struct gops_domain info;
	struct series power;   /* struct power_sample */
	struct series anchors; /* struct anchor */
	int64_t last_anchor_read_ns;
	int64_t last_power_read_ns;
	int64_t read_cost_ns; /* cheapest counter read seen: its CPU cost */
	int64_t lost_at_ns;   /* GOPS_ELOST seen: the span of this domain ends here (0 none) */
	bool energy_ok, power_ok;
	bool avg_ok; /* averaged power is read beside instant power (power_sample.avg_w) */
	int64_t last_avg_read_ns;
	double last_avg_w;
	bool discontinuity;
	bool stuck_checked;
	/* Counter faults seen by the sampler (sampler.c), judged by the meter (meter.c). */
	struct counter_mark marks[MAX_COUNTER_MARKS];
	size_t n_marks;
	bool too_many_marks;        /* more faults than marks: the whole counter is suspect */
	bool counter_too_fast;      /* a rise above max power: wraps may be missed anywhere */
	int64_t counter_failing_ns; /* first failed read since the last good one (0: none) */
	char counter_fail_text[160];
	struct anchor_fix *fix; /* meter.c, during meter_compute only (NULL otherwise) */
	size_t n_fix;
	int64_t tail_gap_ns; /* meter.c: counter not read from here to the end (0: none) */
	unsigned read_errors;
	char last_error[160];
	double measured_period_s;
	/* Slow counters: the update grid, tracked so that every reading is dated to an update
	 * known to a few ms, and the reads planned around window edges and anchors. */
	int64_t sync_first_ns, sync_last_ns; /* detected update times (0 unknown) */
	int64_t sync_periods;                /* periods between first and last */
	int64_t sync_unc_ns;                 /* half-width of the last detected update's bracket */
	double prior_period_s;               /* remembered or nominal, until ten periods are seen */
	int64_t anchor_due_ns;               /* next mid-run reading wanted */
	struct planned_read plan[PLAN_MAX];  /* sorted by time */
	unsigned n_plan;
	double probe_prev_j;
	int64_t probe_prev_mid;
	int64_t probe_prev_dur;   /* how long that read took */
	int64_t last_read_dur_ns; /* how long the newest counter read took (a preempted read lasts
	                           * far longer than read_cost_ns, and its value may be from any
	                           * moment of it) */
	bool probe_have_prev;
	int64_t probe_until_ns;
	/* Instant power against the counter over anchor intervals of a second or more. */
	double worst_disagreement; /* (counter - integral) / integral, largest in magnitude */
	int64_t worst_dis_t0, worst_dis_t1;
	bool bursty;
	/* Who uses a GPU (attrib.h): a tick once a second while a command is measured, on
	 * domains whose source lists processes. */
	struct series share;               /* struct share_tick */
	int64_t share_due_ns;              /* next tick */
	unsigned long long share_since_us; /* the previous tick, CLOCK_REALTIME us */
	bool shared;                       /* a process outside the command was seen */
	bool command_on_mig;               /* a process of the command ran on a MIG instance */
	unsigned share_errors;             /* process lists that failed */
	struct share_pid pids[SHARE_PIDS]; /* each process seen, classified once */
	size_t n_pids;
};

#define EDGE_QUEUE 64

struct sampler {
	/* What it reads: the owner's open sources (indexed by gops_domain.source) and domains. */
	struct gops_source *const *src;
	const struct gops_source_ops *const *ops;
	struct dom_state *dom;
	size_t n_dom;
	int64_t interval_ns;      /* the sampling grid */
	int64_t anchor_period_ns; /* how often an expensive counter is read between the edges */
	int64_t t_start;          /* the span's start, for notes (0 before it starts) */
	uint64_t overruns;        /* ticks missed because a round ran past the next one */
	_Atomic int command_pid;  /* the measured command (0: none): who shares a GPU */

	/* Window edges waiting for counter readings (under lock), and how many windows are open
	 * (a bursty load is anchored more often while any is). */
	int64_t edge_q[EDGE_QUEUE];
	unsigned n_edge_q;
	_Atomic unsigned windows_open;

	pthread_t thread;
	bool thread_running;
	pthread_mutex_t lock; /* the stop flag, the edge queue, rounds */
	pthread_cond_t wake;
	bool stop_req;
	/* Rounds of reads the thread has finished, broadcast on `progress` after each: a caller
	 * waiting for a reading past some moment waits on it (sampler_wait_round). */
	uint64_t rounds;
	pthread_cond_t progress;
};

/* Sets up the lock and the wake-up; the owner fills the fields above before sampling. */
void sampler_init(struct sampler *m);
void sampler_release(struct sampler *m);

/* Starts the sampling thread. Returns 0 or a negative errno with err filled. */
int sampler_start(struct sampler *m, char *err, size_t errlen);
void sampler_stop(struct sampler *m);
/* Takes counter readings at a span edge, waiting for the next counter update on domains
 * whose counter updates slowly (NVML), so the edge is known to a few ms. */
void sampler_edge(struct sampler *m, bool start);
void sampler_read_all(struct sampler *m, int64_t now, bool force_anchor);
/* Who uses each GPU now (attrib.h), where a command is set and a tick is due (or force). */
void sampler_share(struct sampler *m, int64_t now, bool force);
/* Asks for counter readings around a window edge at t (the update before it and the one
 * after) on every slow counter; the thread takes them as soon as it can. */
void sampler_queue_edge(struct sampler *m, int64_t t);
void sampler_set_windows_open(struct sampler *m, unsigned n);
/* The rounds finished so far, and a wait until the thread finishes a round after `seen` or
 * CLOCK_MONOTONIC reaches deadline_ns (false then, or when the thread is asked to stop). */
uint64_t sampler_rounds(struct sampler *m);
bool sampler_wait_round(struct sampler *m, uint64_t seen, int64_t deadline_ns);
/* Remembers each slow counter's update grid for the next run (phase.h). */
void sampler_remember_phase(struct sampler *m);

#endif
