/* The monitor's insides, shared by monitor.c (sources, windows, lifecycle), sampler.c (the
 * sampling thread and the span edges) and meter.c (energy of any span from the samples). */
#ifndef GOPS_MONITOR_INTERNAL_H
#define GOPS_MONITOR_INTERNAL_H

#include <greenops/greenops.h>

#include "sources/source.h"

#include <pthread.h>
#include <stdatomic.h>

/* Append-only series written by one thread at a time (the sampler, or the caller while the
 * sampler is stopped) and readable concurrently up to the published count. Chunks are
 * allocated once per SERIES_CHUNK samples; the chunk table is allocated up front. */
#define SERIES_CHUNK      4096
#define SERIES_MAX_CHUNKS 16384

/* Both element types begin with their time: meter.c searches either by it. */
struct power_sample {
	int64_t t_ns;
	double watts;
	double cum_j; /* trapezoid integral of power from the series' first sample to this one */
};

/* A counter reading. t_ns is when the value was true (the update time where known, else the
 * read time less half the update period); t_unc_ns bounds that time's error. */
struct anchor {
	int64_t t_ns;
	int64_t t_unc_ns;
	double joules;
};

struct series {
	void **chunks;
	size_t elem;
	_Atomic size_t n;
};

int series_init(struct series *s, size_t elem);
void series_release(struct series *s);
int series_push(struct series *s, const void *v);
void *series_at(const struct series *s, size_t i);
size_t series_len(const struct series *s);
void series_clear(struct series *s);

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

struct dom_state {
	struct gops_domain info;
	struct series power;   /* struct power_sample */
	struct series anchors; /* struct anchor */
	int64_t last_anchor_read_ns;
	int64_t last_power_read_ns;
	int64_t read_cost_ns; /* cheapest counter read seen: its CPU cost */
	int64_t lost_at_ns;   /* GOPS_ELOST seen: the span of this domain ends here (0 none) */
	bool energy_ok, power_ok;
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
	/* Slow counters: the update phase, tracked so that mid-run readings are taken right
	 * around an update and their time is known to a few ms (sampler.c). */
	int64_t sync_first_ns, sync_last_ns; /* detected update times (0 unknown) */
	int64_t sync_periods;                /* periods between first and last */
	int64_t anchor_due_ns;               /* next mid-run reading wanted */
	int64_t probe_at_ns;                 /* next probe read (0: not probing) */
	int64_t probe_started_ns;
	double probe_prev_j;
	int64_t probe_prev_mid;
	bool probe_have_prev;
};

struct window {
	char *name;
	int64_t begin_ns, end_ns; /* end 0 while open */
	double units;             /* NAN until given */
};

struct gops_monitor {
	struct gops_options opts;
	char err[512];
	struct gops_notes notes;

	struct gops_source *src[16];
	const struct gops_source_ops *ops[16];
	size_t n_src;
	struct dom_state *dom;
	size_t n_dom;

	int64_t interval_ns;
	int64_t anchor_period_ns;
	int64_t t_start, t_end;
	int64_t start_realtime_ns;
	bool started, stopped;

	pthread_t thread;
	bool thread_running;
	pthread_mutex_t lock; /* windows, tags, units, stop flag */
	pthread_cond_t wake;
	bool stop_req;
	uint64_t overruns;

	struct window *win;
	size_t n_win, cap_win;
	struct gops_tag *tags;
	size_t n_tags, cap_tags;
	double run_units;
	size_t malformed;
	size_t refused_stamps; /* window lines whose T_NS lay outside the span */

	/* idle baseline per domain, NAN where unknown */
	double *idle_w;
	const char *idle_source;

	struct gops_result result;
	bool have_result;
};

/* sampler.c */
int sampler_start(struct gops_monitor *m);
void sampler_stop(struct gops_monitor *m);
/* Takes counter readings at a span edge, waiting for the next counter update on domains
 * whose counter updates slowly (NVML), so the edge is known to a few ms. */
void sampler_edge(struct gops_monitor *m, bool start);
void sampler_read_all(struct gops_monitor *m, int64_t now, bool force_anchor);

/* meter.c */
/* Energy of domain d accumulated up to time t (any origin; only differences matter). */
double meter_energy_at(const struct dom_state *d, int64_t t);
void meter_domain(const struct gops_monitor *m, size_t di, int64_t t0, int64_t t1,
                  struct gops_domain_result *out);
int meter_compute(struct gops_monitor *m);
void meter_result_release(struct gops_result *r);

void monitor_set_error(struct gops_monitor *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
