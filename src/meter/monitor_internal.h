/* The monitor's insides, shared by monitor.c (sources, windows, lifecycle) and meter.c
 * (energy of any span from the samples). The sampler (sampler.h) is a part the monitor owns
 * and drives; it never sees this struct. */
#ifndef GOPS_MONITOR_INTERNAL_H
#define GOPS_MONITOR_INTERNAL_H

#include <greenops/greenops.h>

#include "meter/sampler.h"
#include "sources/source.h"

#include <pthread.h>

struct window {
	char *name;
	int64_t begin_ns, end_ns; /* end 0 while open */
	double units;             /* NAN until given */
	/* Edges without counter readings of their own (energy spread by instant power there):
	 * windows of this name come faster than the read budget allows, or it ran out. */
	bool spread;
	int64_t spread_gap_ns; /* the gap to the previous window of the name (0: budget spent) */
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

	struct sampler smp; /* its interval_ns, anchor_period_ns and overruns */
	int64_t t_start, t_end;
	int64_t start_realtime_ns;
	bool started, stopped;

	pthread_mutex_t lock; /* windows, tags, units */

	struct window *win;
	size_t n_win, cap_win;
	unsigned n_open; /* windows begun and not ended */
	/* Counter reads at window edges: a CPU budget (share of a core) as a token bucket. */
	double edge_share;
	int64_t edge_cost_ns; /* CPU of one edge's reads on every slow counter */
	double edge_tokens_ns;
	int64_t edge_refill_ns;
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

/* meter.c */
/* Energy of domain d accumulated up to time t (any origin; only differences matter). */
double meter_energy_at(const struct dom_state *d, int64_t t);
void meter_domain(const struct gops_monitor *m, size_t di, int64_t t0, int64_t t1,
                  struct gops_domain_result *out);
int meter_compute(struct gops_monitor *m);
void meter_result_release(struct gops_result *r);
void meter_window_release(struct gops_window_result *w);
void meter_window_copy(const struct gops_window_result *src, struct gops_window_result *dst);
/* Window w's figures now (o NULL: none), while the sampler runs, as meter_compute will give
 * them after the span: *final when every domain still read has been read past the window's
 * end; *wait when such a reading is still to come soon (the next round, or the reads planned
 * at the edge). */
void meter_window_now(const struct gops_monitor *m, const struct window *w, struct gops_window_result *o,
                      bool *final, bool *wait);

void monitor_set_error(struct gops_monitor *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
