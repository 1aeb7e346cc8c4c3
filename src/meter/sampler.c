/* The sampling thread and the span edges. The thread wakes on absolute CLOCK_MONOTONIC
 * deadlines and appends to preallocated series; expensive counters (NVML's costs ~4 ms of CPU
 * per read) are read only at span edges and every anchor period, and at the edges we wait
 * for the counter's next update so the edge is known to a few milliseconds. */
#include "meter/sampler.h"
#include "meter/phase.h"
#include "base/util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MS               1000000LL
#define DATED_MARGIN     (8 * MS) /* a read dated by the grid keeps this far from any update */
#define NOMINAL_PERIOD_S 0.1      /* NVML's counter on every GPU measured so far (docs/METHOD.md) */
#define BURSTY           0.05     /* instant power and counter disagreeing by more: bursty */
#define BURSTY_ANCHOR_NS (2000LL * MS)
#define DATED_END        (-1) /* sampler_edge: the end's reads are dated by the grid */

static double period_s(const struct dom_state *d)
{
	if (d->measured_period_s > 0)
		return d->measured_period_s;
	if (d->info.update_period_s > 0)
		return d->info.update_period_s;
	return d->prior_period_s;
}

/* A series that cannot grow (weeks of samples, or no memory) ends the domain's span there,
 * visibly, rather than freezing its figures. */
static void store_full(struct dom_state *d, int64_t t)
{
	if (d->lost_at_ns)
		return;
	d->lost_at_ns = t;
	gops_domain_note(&d->info,
	                 "sample store full after %zu power samples and %zu counter readings: "
	                 "measurement of this domain ends here",
	                 series_len(&d->power), series_len(&d->anchors));
}

/* The integral of instant power from the series' first sample to t, linear in the running sum
 * between the samples around t: close enough to tell a bursty load (a disagreement of 5% over
 * a second or more) without the meter's exact trapezoids. */
static double cum_near(const struct dom_state *d, size_t n, int64_t t)
{
	size_t lo = 0, hi = n - 1;
	while (lo < hi) {
		size_t mid = lo + (hi - lo + 1) / 2;
		if (((const struct power_sample *)series_at(&d->power, mid))->t_ns <= t)
			lo = mid;
		else
			hi = mid - 1;
	}
	const struct power_sample *a = series_at(&d->power, lo);
	if (lo + 1 >= n || a->t_ns > t)
		return a->cum_j + (double)(t - a->t_ns) * 1e-9 * a->watts;
	const struct power_sample *b = series_at(&d->power, lo + 1);
	return a->cum_j + (b->cum_j - a->cum_j) * (double)(t - a->t_ns) / (double)(b->t_ns - a->t_ns);
}

/* Instant power against the counter over the stretch of at least a second that ends at the
 * newest reading: a bursty load makes them disagree (instant power aliases it), and then the
 * anchor period shortens while windows are open. */
static void check_disagreement(struct dom_state *d)
{
	size_t n = series_len(&d->anchors);
	if (n < 2 || series_len(&d->power) < 2)
		return;
	const struct anchor *b = series_at(&d->anchors, n - 1);
	size_t i = n - 1;
	while (i > 0 && ((const struct anchor *)series_at(&d->anchors, i))->t_ns > b->t_ns - 1000 * MS)
		i--;
	const struct anchor *a = series_at(&d->anchors, i);
	if (b->t_ns - a->t_ns < 1000 * MS)
		return;
	size_t np = series_len(&d->power);
	double in = cum_near(d, np, b->t_ns) - cum_near(d, np, a->t_ns), de = b->joules - a->joules;
	if (!(in > 0) || !(de > 0))
		return;
	double dis = (de - in) / in;
	if (fabs(dis) > fabs(d->worst_disagreement)) {
		d->worst_disagreement = dis;
		d->worst_dis_t0 = a->t_ns, d->worst_dis_t1 = b->t_ns;
	}
	if (fabs(dis) > BURSTY)
		d->bursty = true;
}

static void push_anchor(struct dom_state *d, int64_t t, int64_t unc, double j)
{
	size_t n = series_len(&d->anchors);
	if (n) {
		const struct anchor *last = series_at(&d->anchors, n - 1);
		if (t <= last->t_ns) {
			/* The same update read again, or a reading that would go back in time. */
			if (j == last->joules || t < last->t_ns - DATED_MARGIN)
				return;
			t = last->t_ns + 1;
		}
	}
	struct anchor a = {.t_ns = t, .t_unc_ns = unc, .joules = j};
	if (series_push(&d->anchors, &a) < 0)
		store_full(d, t);
	else
		check_disagreement(d);
}

/* Handles a failed read; returns true when the domain can still be read. */
static bool read_failed(struct sampler *m, struct dom_state *d, int r, int64_t t, bool energy)
{
	const struct gops_source_ops *ops = m->ops[d->info.source];
	if (r == GOPS_ELOST) {
		d->lost_at_ns = t;
		gops_domain_note(&d->info, "device lost during the run: its span ends %.3f s after the start",
		                 m->t_start && t > m->t_start ? (t - m->t_start) / 1e9 : 0.0);
		return false;
	}
	if (r == GOPS_ENOTSUP) {
		if (energy && !d->counter_failing_ns) {
			d->counter_failing_ns = t;
			snprintf(d->counter_fail_text, sizeof d->counter_fail_text, "no longer supported");
		}
		if (energy)
			d->energy_ok = false;
		else
			d->power_ok = false;
		gops_domain_note(&d->info, "%s stopped being supported during the run",
		                 energy ? "energy counter" : "power");
		return true;
	}
	if (d->read_errors++ == 0) {
		const char *e = ops->error ? ops->error(m->src[d->info.source]) : NULL;
		snprintf(d->last_error, sizeof d->last_error, "%s", e && *e ? e : strerror(-r));
	}
	return true;
}

static void read_power(struct sampler *m, struct dom_state *d)
{
	const struct gops_source_ops *ops = m->ops[d->info.source];
	double w;
	int64_t t0 = gops_now_ns();
	int r = ops->read_power(m->src[d->info.source], d->info.index, &w);
	int64_t t1 = gops_now_ns();
	if (r < 0) {
		read_failed(m, d, r, t1, false);
		return;
	}
	/* A slow sensor's power, like its counter, is the value published at its last update:
	 * on average half a period old. */
	int64_t t = t0 + (t1 - t0) / 2;
	if (d->info.energy_expensive)
		t -= (int64_t)(period_s(d) * 1e9 / 2);
	/* The hardware's average moves slowly (a 1 s window): read every 250 ms, held between. */
	double avg = NAN;
	if (d->avg_ok && t1 - d->last_avg_read_ns < 250 * MS) {
		avg = d->last_avg_w;
	} else if (d->avg_ok) {
		if (ops->read_power_avg(m->src[d->info.source], d->info.index, &avg) < 0) {
			d->avg_ok = false; /* judged without it from here on */
			avg = NAN;
		}
		d->last_avg_read_ns = t1, d->last_avg_w = avg;
	}
	size_t n = series_len(&d->power);
	double cum = 0, avg_cum = isnan(avg) ? NAN : 0;
	if (n) {
		const struct power_sample *last = series_at(&d->power, n - 1);
		if (t <= last->t_ns)
			t = last->t_ns + 1;
		cum = last->cum_j + (double)(t - last->t_ns) * 1e-9 * (last->watts + w) / 2;
		avg_cum = last->avg_cum_j + (double)(t - last->t_ns) * 1e-9 * (last->avg_w + avg) / 2;
	}
	struct power_sample s = {.t_ns = t, .watts = w, .cum_j = cum, .avg_w = avg, .avg_cum_j = avg_cum};
	if (series_push(&d->power, &s) < 0)
		store_full(d, t);
}

/* The next counter reading ends a stretch that is not a measurement (meter.c bridges it). */
static void mark_fault(struct sampler *m, struct dom_state *d, enum counter_fault why)
{
	if (why == FAULT_TOO_FAST && !d->counter_too_fast)
		gops_domain_note(&d->info,
		                 "the energy counter rose faster than %.0f W allows: it wrapped "
		                 "more often than it was read, so wraps were missed",
		                 d->info.max_power_w);
	if (why == FAULT_RESET && !d->discontinuity)
		gops_domain_note(&d->info,
		                 "the energy counter went backwards %.3f s after the start "
		                 "(driver reload?)",
		                 m->t_start && gops_now_ns() > m->t_start ? (gops_now_ns() - m->t_start) / 1e9
		                                                          : 0.0);
	d->counter_too_fast |= why == FAULT_TOO_FAST;
	d->discontinuity |= why == FAULT_RESET;
	size_t next = series_len(&d->anchors);
	if (d->n_marks && d->marks[d->n_marks - 1].anchor == next)
		return; /* the same stretch */
	if (d->n_marks == MAX_COUNTER_MARKS) {
		d->too_many_marks = true;
		return;
	}
	d->marks[d->n_marks++] = (struct counter_mark){.anchor = next, .why = why};
}

/* One counter read; returns 0 and fills *j and *mid, or a negative errno (already handled). */
static int read_counter(struct sampler *m, struct dom_state *d, double *j, int64_t *mid)
{
	const struct gops_source_ops *ops = m->ops[d->info.source];
	int64_t t0 = gops_now_ns();
	int r = ops->read_energy(m->src[d->info.source], d->info.index, j);
	int64_t t1 = gops_now_ns();
	*mid = t0 + (t1 - t0) / 2;
	d->last_anchor_read_ns = t1;
	d->last_read_dur_ns = t1 - t0;
	if (!d->read_cost_ns || t1 - t0 < d->read_cost_ns)
		d->read_cost_ns = t1 - t0;
	if (r == GOPS_READ_DISCONTINUITY || r == GOPS_READ_TOO_FAST) {
		mark_fault(m, d, r == GOPS_READ_TOO_FAST ? FAULT_TOO_FAST : FAULT_RESET);
		r = 0;
	}
	if (r < 0) {
		if (!d->counter_failing_ns) {
			const char *e = ops->error ? ops->error(m->src[d->info.source]) : NULL;
			d->counter_failing_ns = *mid;
			snprintf(d->counter_fail_text, sizeof d->counter_fail_text, "%s",
			         e && *e ? e : strerror(-r));
		}
		read_failed(m, d, r, t1, true);
		return r;
	}
	d->counter_failing_ns = 0; /* a cumulative counter read again: the difference holds */
	return 0;
}

/* A read whose update time is unknown: the value the hardware last published, on average
 * half an update period old. */
static void push_undated(struct dom_state *d, int64_t mid, double j)
{
	int64_t half = (int64_t)(period_s(d) * 1e9 / 2);
	push_anchor(d, mid - half, half, j);
}

static void read_anchor(struct sampler *m, struct dom_state *d)
{
	double j;
	int64_t mid;
	if (read_counter(m, d, &j, &mid) == 0)
		push_undated(d, mid, j);
}

/* --- the update grid of slow counters ---
 * The counter publishes on a steady grid. Once an update is bracketed by two reads (its time
 * known to a few ms), any later read can be dated to the grid's update before it, so a window
 * edge costs one read on each side instead of polling a call that burns ~4 ms of CPU. */

static bool grid_known(const struct dom_state *d)
{
	return d->sync_last_ns && period_s(d) * 1e9 >= 4 * DATED_MARGIN;
}

/* The predicted update at or before t. */
static int64_t grid_before(const struct dom_state *d, int64_t t)
{
	double per = period_s(d) * 1e9;
	return d->sync_last_ns + (int64_t)(floor((double)(t - d->sync_last_ns) / per) * per);
}

/* How well a read dated by the grid knows its time: the last bracket, plus the period's own
 * uncertainty (500 ppm until measured) over the periods since. */
static int64_t dated_uncertainty(const struct dom_state *d, int64_t u)
{
	double per = period_s(d) * 1e9;
	double per_unc =
	    d->sync_periods >= 300 ? 2.0 * (double)d->sync_unc_ns / (double)d->sync_periods : 5e-4 * per;
	return d->sync_unc_ns + MS + (int64_t)(fabs((double)(u - d->sync_last_ns)) / per * per_unc);
}

/* A bracketed update refines the grid. Where the bracket and the grid's prediction (with its
 * uncertainty) overlap, both hold the update and the grid keeps their overlap; where they do
 * not, the prediction was wrong (a phase remembered from another run of a device that does not
 * keep it, a period that drifted) and the grid starts again at the bracket: averaging the two
 * would leave the grid off by half the difference while claiming a few ms, and a read dated by
 * it could then be given the update before or after the one it read (a whole period's energy).
 * The period stays the remembered or nominal one until 300 periods (30 s) make a measured one
 * better than that. */
static void note_update(struct dom_state *d, int64_t tu, int64_t unc)
{
	if (unc < MS)
		unc = MS;
	double per = period_s(d) * 1e9;
	if (d->sync_last_ns && per > 0) {
		double k = (double)(tu - d->sync_last_ns) / per;
		int64_t n = llround(k);
		if (n <= 0 && k > -0.25)
			return; /* the same update seen twice */
		int64_t predicted = d->sync_last_ns + (int64_t)((double)n * per);
		int64_t pu = dated_uncertainty(d, predicted);
		int64_t lo = tu - unc > predicted - pu ? tu - unc : predicted - pu;
		int64_t hi = tu + unc < predicted + pu ? tu + unc : predicted + pu;
		if (n > 0 && lo <= hi) {
			d->sync_last_ns = lo + (hi - lo) / 2;
			d->sync_unc_ns = (hi - lo) / 2 > MS ? (hi - lo) / 2 : MS;
			d->sync_periods += n;
			if (d->sync_periods >= 300)
				d->measured_period_s = (double)(d->sync_last_ns - d->sync_first_ns) /
				                       (double)d->sync_periods / 1e9;
			return;
		}
	}
	d->sync_first_ns = d->sync_last_ns = tu;
	d->sync_unc_ns = unc;
	d->sync_periods = 0;
}

/* How far after a predicted update u a read must start (and how far before the next one it
 * must end) to be dated to u without doubt. */
static int64_t dated_margin(const struct dom_state *d, int64_t u)
{
	int64_t m = dated_uncertainty(d, u) + 2 * MS;
	return m > DATED_MARGIN ? m : DATED_MARGIN;
}

static bool plan_add(struct dom_state *d, int64_t at, int64_t update, int64_t until, enum planned_kind kind)
{
	if (d->n_plan == PLAN_MAX)
		return false;
	unsigned i = d->n_plan++;
	while (i > 0 && d->plan[i - 1].at_ns > at) {
		d->plan[i] = d->plan[i - 1];
		i--;
	}
	d->plan[i] = (struct planned_read){.at_ns = at, .update_ns = update, .until_ns = until, .kind = kind};
	return true;
}

/* Is update u already read, or about to be? */
static bool covered(const struct dom_state *d, int64_t u)
{
	for (unsigned i = 0; i < d->n_plan; i++)
		if (llabs(d->plan[i].update_ns - u) < DATED_MARGIN)
			return true;
	size_t n = series_len(&d->anchors);
	for (size_t i = n > 4 ? n - 4 : 0; i < n; i++)
		if (llabs(((const struct anchor *)series_at(&d->anchors, i))->t_ns - u) < DATED_MARGIN)
			return true;
	return false;
}

/* Two reads around the predicted update u, as far before it as after; if it has not come
 * `reach` after u, more reads until then. */
static void plan_bracket(struct dom_state *d, int64_t u, int64_t reach)
{
	int64_t lead = reach > 10 * MS ? reach : 2 * MS;
	plan_add(d, u - lead - d->read_cost_ns, u, 0, READ_BEFORE);
	plan_add(d, u - lead + 4 * MS > u + 2 * MS ? u + 2 * MS : u - lead + 4 * MS, u, u + reach,
	         READ_AFTER);
}

/* Without a grid: read now, then every 5 ms until the counter changes. */
static void plan_search(struct dom_state *d, int64_t now)
{
	plan_add(d, now, 0, 0, READ_BEFORE);
	plan_add(d, now + 5 * MS, 0, now + (int64_t)(2 * period_s(d) * 1e9) + 20 * MS, READ_AFTER);
}

/* Readings around a window edge at t: the update before it (readable until the next
 * update) and the one after it, so the edge sits inside one update period whose energy the
 * counter gives. An edge stamped in the past gets the nearest readings still possible. */
static void plan_edge(struct dom_state *d, int64_t t, int64_t now)
{
	if (!grid_known(d)) {
		if (!d->n_plan)
			plan_search(d, now);
		return;
	}
	int64_t per = (int64_t)(period_s(d) * 1e9);
	int64_t ua = grid_before(d, t), ub = ua + per;
	int64_t ma = dated_margin(d, ua), mb = dated_margin(d, ub);
	if (!covered(d, ua) && now + d->read_cost_ns < ub - ma)
		plan_add(d, now > ua + ma ? now : ua + ma, ua, 0, READ_DATED);
	if (!covered(d, ub))
		plan_add(d, now > ub + mb ? now : ub + mb, ub, 0, READ_DATED);
}

/* Executes one planned read. */
static void run_planned(struct sampler *m, struct dom_state *d, struct planned_read p)
{
	double j;
	int64_t mid;
	if (d->power_ok)
		read_power(m, d); /* fresh power beside each counter reading */
	if (read_counter(m, d, &j, &mid) < 0) {
		d->probe_have_prev = false;
		return;
	}
	double per = period_s(d) * 1e9;
	bool had_prev = d->probe_have_prev;
	double prev_j = d->probe_prev_j;
	int64_t prev_mid = d->probe_prev_mid, prev_dur = d->probe_prev_dur, dur = d->last_read_dur_ns;
	d->probe_prev_j = j, d->probe_prev_mid = mid, d->probe_have_prev = true;
	d->probe_prev_dur = dur;
	/* A change between two reads close together brackets an update to a few ms: that dates
	 * the reading and keeps the grid true. A wider gap is dated by the grid where there is
	 * one, else by its midpoint. */
	/* Each read may have seen the value at any moment it lasted: the update lies between the
	 * start of the read before and the end of this one. */
	int64_t lo = prev_mid - prev_dur / 2, hi = mid + dur / 2;
	bool changed = had_prev && j != prev_j && (double)(hi - lo) < 0.9 * per;
	int64_t tight = 2 * d->read_cost_ns + 12 * MS;
	bool narrow = hi - lo <= tight + d->read_cost_ns;
	if (changed && (narrow || !grid_known(d))) {
		int64_t tu = lo + (hi - lo) / 2, unc = (hi - lo) / 2;
		push_anchor(d, tu, unc, j);
		if (narrow)
			note_update(d, tu, unc);
		/* The rest of this bracket's reads are not needed. */
		unsigned k = 0;
		for (unsigned i = 0; i < d->n_plan; i++)
			if (d->plan[i].kind == READ_DATED || d->plan[i].update_ns != p.update_ns)
				d->plan[k++] = d->plan[i];
		d->n_plan = k;
		return;
	}
	switch (p.kind) {
	case READ_DATED:
	case READ_BEFORE: {
		int64_t u = grid_known(d) ? grid_before(d, mid) : 0;
		/* Too close to a predicted update for the grid's uncertainty (the thread ran
		 * late), the value's update is ambiguous: keep it undated. */
		int64_t half = dur / 2, sure = u ? dated_uncertainty(d, u) + MS : 0;
		bool dated = u && mid - half - u >= sure && u + (int64_t)per - (mid + half) >= sure;
		if (p.kind == READ_BEFORE && !changed) {
			/* The read before a bracket is the update before it: kept where the grid
			 * dates it, so an edge has a reading on each side even if every read after
			 * it fails (a counter that stops being readable is then told as such). */
			if (dated)
				push_anchor(d, u, dated_uncertainty(d, u), j);
			break;
		}
		if (dated)
			push_anchor(d, u, dated_uncertainty(d, u), j);
		else
			push_undated(d, mid, j);
		break;
	}
	case READ_AFTER:
		if (mid < p.until_ns) {
			plan_add(d, gops_now_ns() + (p.update_ns ? 3 : 5) * MS, p.update_ns, p.until_ns,
			         READ_AFTER);
			break;
		}
		if (p.update_ns && p.until_ns - p.update_ns < 20 * MS) {
			/* It came before the first read: look again a period on, more widely. */
			plan_bracket(d, p.update_ns + (int64_t)per, 25 * MS);
			break;
		}
		/* Not where predicted even then: keep the read with its honest lag, and find the
		 * grid again. */
		push_undated(d, mid, j);
		d->sync_first_ns = d->sync_last_ns = 0;
		if (p.update_ns)
			plan_search(d, gops_now_ns());
		break;
	}
}

/* Runs the planned reads that are due; returns when the next one is (0 none). */
static int64_t run_plan(struct sampler *m, struct dom_state *d, int64_t now)
{
	while (d->n_plan && d->plan[0].at_ns <= now && d->lost_at_ns == 0 && d->energy_ok) {
		struct planned_read p = d->plan[0];
		memmove(d->plan, d->plan + 1, --d->n_plan * sizeof *d->plan);
		run_planned(m, d, p);
		now = gops_now_ns();
	}
	if (d->lost_at_ns || !d->energy_ok)
		d->n_plan = 0;
	return d->n_plan ? d->plan[0].at_ns : 0;
}

static int64_t anchor_period(const struct sampler *m, const struct dom_state *d)
{
	if (d->bursty && atomic_load(&m->windows_open) && m->anchor_period_ns > BURSTY_ANCHOR_NS)
		return BURSTY_ANCHOR_NS;
	return m->anchor_period_ns;
}

/* Mid-run readings of a slow counter: a pair of reads around the predicted update, so the
 * reading's time is the update's; they also keep the grid true. Returns the next time this
 * domain needs the thread (0 none). */
static int64_t slow_counter_step(struct sampler *m, struct dom_state *d, int64_t now)
{
	if (!d->n_plan && now >= d->anchor_due_ns) {
		if (grid_known(d)) {
			int64_t u =
			    grid_before(d, now + 10 * MS + d->read_cost_ns) + (int64_t)(period_s(d) * 1e9);
			plan_bracket(d, u, 15 * MS);
		} else {
			plan_search(d, now);
		}
		d->anchor_due_ns = now + anchor_period(m, d);
	}
	int64_t next = run_plan(m, d, now);
	if (!d->n_plan && d->anchor_due_ns > now + anchor_period(m, d)) /* windows opened */
		d->anchor_due_ns = now + anchor_period(m, d);
	return next ? next : d->anchor_due_ns;
}

static bool alive(const struct dom_state *d)
{
	return d->lost_at_ns == 0 && (d->energy_ok || d->power_ok);
}

void sampler_read_all(struct sampler *m, int64_t now, bool force_anchor)
{
	for (size_t i = 0; i < m->n_dom; i++) {
		struct dom_state *d = &m->dom[i];
		if (!alive(d))
			continue;
		/* A model fed from /proc (the estimator) says nothing new faster than its inputs
		 * change: read it at most every 500 ms, at the edges always. */
		if (d->power_ok &&
		    (force_anchor || !d->info.estimated || now - d->last_power_read_ns >= 500000000LL)) {
			read_power(m, d);
			d->last_power_read_ns = now;
		}
		if (d->energy_ok && d->lost_at_ns == 0 && (!d->info.energy_expensive || force_anchor))
			read_anchor(m, d);
	}
}

/* --- who uses a GPU (attrib.h) --- */

#define SHARE_PERIOD_NS 1000000000LL /* process lists and utilisation: once a second */

/* The parent of pid from /proc/PID/stat, 0 when it cannot be read (gone, another PID
 * namespace); its name into name. */
static int parent_of(int pid, char *name, size_t len)
{
	char rel[64], path[512], buf[512];
	snprintf(rel, sizeof rel, "/proc/%d/stat", pid);
	if (gops_read_file(gops_sys_path(path, sizeof path, rel), buf, sizeof buf) <= 0)
		return 0;
	const char *open = strchr(buf, '('), *close = strrchr(buf, ')'); /* the name may hold anything */
	char state;
	int ppid;
	if (!open || !close || close < open || sscanf(close + 1, " %c %d", &state, &ppid) != 2)
		return 0;
	if (name)
		snprintf(name, len, "%.*s", (int)(close - open - 1), open + 1);
	return ppid;
}

/* Whether pid belongs to the command: it is the command, or the command or this process
 * (a subreaper inherits the command's orphans) is among its ancestors. Each pid is
 * classified once, when first seen, and named then. */
static bool is_command(struct dom_state *d, unsigned pid, int root)
{
	for (size_t i = 0; i < d->n_pids; i++)
		if (d->pids[i].pid == pid)
			return d->pids[i].command;
	char name[16] = "";
	int self = (int)getpid(), p = (int)pid;
	bool command = p == root;
	int up = parent_of(p, name, sizeof name);
	for (int depth = 0; !command && up > 1 && depth < 64; depth++) {
		command = up == root || up == self;
		up = parent_of(up, NULL, 0);
	}
	if (d->n_pids < SHARE_PIDS) {
		struct share_pid *sp = &d->pids[d->n_pids++];
		sp->pid = pid;
		sp->command = command;
		gops_strlcpy(sp->name, name, sizeof sp->name);
	}
	return command;
}

static void merge_into(struct share_proc *into, const struct share_proc *p)
{
	into->instance = into->instance == p->instance ? p->instance : -1;
	into->pid = 0;
	into->weight += p->weight;
}

/* Adds a process to a tick; past SHARE_PROCS it is summed into the last entry of its kind
 * (the command's or the others'), whose pid becomes 0. */
static void tick_add(struct share_tick *t, unsigned pid, int instance, bool command, double weight)
{
	struct share_proc p = {pid, (int16_t)instance, command, (float)weight};
	if (t->n < SHARE_PROCS) {
		t->p[t->n++] = p;
		return;
	}
	for (int k = SHARE_PROCS - 1; k >= 0; k--)
		if (t->p[k].command == command) {
			merge_into(&t->p[k], &p);
			return;
		}
	merge_into(&t->p[SHARE_PROCS - 2], &t->p[SHARE_PROCS - 1]);
	t->p[SHARE_PROCS - 1] = p;
}

static void share_step(struct sampler *m, struct dom_state *d, int64_t now, int root)
{
	const struct gops_source_ops *ops = m->ops[d->info.source];
	struct gops_source *src = m->src[d->info.source];
	struct gops_gpu_proc p[64];
	size_t n = 0;
	unsigned long long now_us = (unsigned long long)(gops_realtime_ns() / 1000);
	unsigned long long since = d->share_since_us ? d->share_since_us : now_us - SHARE_PERIOD_NS / 1000;
	d->share_since_us = now_us;
	struct share_tick t = {.t_ns = now, .basis = SHARE_IDLE};
	if (ops->gpu_processes(src, d->info.index, p, sizeof p / sizeof p[0], &n) < 0) {
		d->share_errors++;
		t.basis = SHARE_MISSING;
		series_push(&d->share, &t);
		return;
	}
	if (n > sizeof p / sizeof p[0])
		n = sizeof p / sizeof p[0];
	const struct gops_mig_instance *mig = NULL;
	size_t n_mig = 0;
	if (ops->mig_instances)
		ops->mig_instances(src, d->info.index, &mig, &n_mig);
	bool cmd[64], others = false;
	unsigned in_instance[SHARE_INSTANCES] = {0};
	for (size_t i = 0; i < n; i++) {
		cmd[i] = is_command(d, p[i].pid, root);
		others |= !cmd[i];
		if (p[i].instance >= 0 && p[i].instance < SHARE_INSTANCES) {
			in_instance[p[i].instance]++;
			d->command_on_mig |= cmd[i];
		}
	}
	d->shared |= others;
	if (n == 0) {
		t.basis = SHARE_IDLE;
	} else if (!others) {
		t.basis = SHARE_SOLE;
		for (size_t i = 0; i < n; i++)
			tick_add(&t, p[i].pid, p[i].instance, true, 1);
	} else if (n_mig) {
		/* MIG: each busy instance by its slices, shared evenly by its processes. */
		t.basis = SHARE_SLICES;
		for (size_t i = 0; i < n; i++) {
			int k = p[i].instance;
			double slices = k >= 0 && (size_t)k < n_mig && mig[k].slices ? mig[k].slices : 1;
			unsigned c = k >= 0 && k < SHARE_INSTANCES && in_instance[k] ? in_instance[k] : 1;
			tick_add(&t, p[i].pid, k, cmd[i], slices / c);
		}
	} else {
		struct gops_gpu_proc u[64];
		size_t nu = 0;
		int r = ops->process_sm_util
		            ? ops->process_sm_util(src, d->info.index, since, u, sizeof u / sizeof u[0], &nu)
		            : GOPS_ENOTSUP;
		if (nu > sizeof u / sizeof u[0])
			nu = sizeof u / sizeof u[0];
		t.basis = r < 0 || nu == 0 ? SHARE_MISSING : SHARE_SM;
		for (size_t i = 0; i < n; i++) {
			double sm = 0;
			for (size_t k = 0; k < nu; k++)
				if (u[k].pid == p[i].pid)
					sm = u[k].sm_pct;
			tick_add(&t, p[i].pid, -1, cmd[i], t.basis == SHARE_SM ? sm : 0);
		}
		/* Samples of processes that ended since the list was taken still count. */
		for (size_t k = 0; t.basis == SHARE_SM && k < nu; k++) {
			bool listed = false;
			for (size_t i = 0; i < n && !listed; i++)
				listed = p[i].pid == u[k].pid;
			if (!listed && u[k].sm_pct > 0)
				tick_add(&t, u[k].pid, -1, is_command(d, u[k].pid, root), u[k].sm_pct);
		}
	}
	series_push(&d->share, &t);
}

void sampler_share(struct sampler *m, int64_t now, bool force)
{
	int root = atomic_load(&m->command_pid);
	if (root <= 0)
		return;
	for (size_t i = 0; i < m->n_dom; i++) {
		struct dom_state *d = &m->dom[i];
		if (!alive(d) || !m->ops[d->info.source]->gpu_processes || (!force && now < d->share_due_ns))
			continue;
		share_step(m, d, now, root);
		d->share_due_ns = now + SHARE_PERIOD_NS;
	}
}

/* Slow counters between ticks; returns the earliest time one of them needs the thread. */
static int64_t slow_counters(struct sampler *m, int64_t now)
{
	int64_t next = 0;
	for (size_t i = 0; i < m->n_dom; i++) {
		struct dom_state *d = &m->dom[i];
		if (!alive(d) || !d->energy_ok || !d->info.energy_expensive)
			continue;
		int64_t t = slow_counter_step(m, d, now);
		if (t && (!next || t < next))
			next = t;
	}
	return next;
}

/* Window edges queued by the monitor: readings around each on every slow counter. */
static void take_edges(struct sampler *m, int64_t now)
{
	int64_t q[EDGE_QUEUE];
	pthread_mutex_lock(&m->lock);
	unsigned n = m->n_edge_q;
	memcpy(q, m->edge_q, n * sizeof *q);
	m->n_edge_q = 0;
	pthread_mutex_unlock(&m->lock);
	for (size_t i = 0; i < m->n_dom; i++) {
		struct dom_state *d = &m->dom[i];
		if (!alive(d) || !d->energy_ok || !d->info.energy_expensive)
			continue;
		for (unsigned k = 0; k < n; k++)
			plan_edge(d, q[k], now);
	}
}

static void *sampler_main(void *arg)
{
	struct sampler *m = arg;
	int64_t now = gops_now_ns();
	for (size_t i = 0; i < m->n_dom; i++)
		m->dom[i].anchor_due_ns = now + anchor_period(m, &m->dom[i]);
	int64_t next = now + m->interval_ns;
	take_edges(m, now);
	int64_t slow = slow_counters(m, now);
	pthread_mutex_lock(&m->lock);
	while (!m->stop_req) {
		int64_t wake = slow && slow < next ? slow : next;
		struct timespec ts = {.tv_sec = wake / 1000000000, .tv_nsec = wake % 1000000000};
		while (!m->stop_req && !m->n_edge_q)
			if (pthread_cond_timedwait(&m->wake, &m->lock, &ts) == ETIMEDOUT)
				break;
		if (m->stop_req)
			break;
		pthread_mutex_unlock(&m->lock);
		now = gops_now_ns();
		if (now >= next) {
			if (now - next > m->interval_ns) { /* missed ticks: keep the grid, skip the backlog */
				m->overruns++;
				next = now - (now - next) % m->interval_ns;
			}
			sampler_read_all(m, now, false);
			sampler_share(m, now, false);
			next += m->interval_ns;
		}
		take_edges(m, gops_now_ns());
		slow = slow_counters(m, gops_now_ns());
		pthread_mutex_lock(&m->lock);
		m->rounds++;
		pthread_cond_broadcast(&m->progress);
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

void sampler_init(struct sampler *m)
{
	memset(m, 0, sizeof *m);
	pthread_mutex_init(&m->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->wake, &ca);
	pthread_cond_init(&m->progress, &ca);
	pthread_condattr_destroy(&ca);
}

void sampler_release(struct sampler *m)
{
	sampler_stop(m);
	pthread_mutex_destroy(&m->lock);
	pthread_cond_destroy(&m->wake);
	pthread_cond_destroy(&m->progress);
}

int sampler_start(struct sampler *m, char *err, size_t errlen)
{
	m->stop_req = false;
	int r = pthread_create(&m->thread, NULL, sampler_main, m);
	if (r) {
		snprintf(err, errlen, "cannot start the sampling thread: %s", strerror(r));
		return -r;
	}
	m->thread_running = true;
	return 0;
}

void sampler_queue_edge(struct sampler *m, int64_t t)
{
	pthread_mutex_lock(&m->lock);
	if (m->n_edge_q < EDGE_QUEUE)
		m->edge_q[m->n_edge_q++] = t;
	pthread_cond_signal(&m->wake);
	pthread_mutex_unlock(&m->lock);
}

void sampler_set_windows_open(struct sampler *m, unsigned n)
{
	atomic_store(&m->windows_open, n);
}

uint64_t sampler_rounds(struct sampler *m)
{
	pthread_mutex_lock(&m->lock);
	uint64_t n = m->rounds;
	pthread_mutex_unlock(&m->lock);
	return n;
}

bool sampler_wait_round(struct sampler *m, uint64_t seen, int64_t deadline_ns)
{
	struct timespec ts = {.tv_sec = deadline_ns / 1000000000, .tv_nsec = deadline_ns % 1000000000};
	pthread_mutex_lock(&m->lock);
	while (!m->stop_req && m->rounds == seen)
		if (pthread_cond_timedwait(&m->progress, &m->lock, &ts) == ETIMEDOUT)
			break;
	bool more = m->rounds != seen;
	pthread_mutex_unlock(&m->lock);
	return more;
}

void sampler_stop(struct sampler *m)
{
	if (!m->thread_running)
		return;
	pthread_mutex_lock(&m->lock);
	m->stop_req = true;
	pthread_cond_broadcast(&m->wake);
	pthread_cond_broadcast(&m->progress);
	pthread_mutex_unlock(&m->lock);
	pthread_join(m->thread, NULL);
	m->thread_running = false;
}

/* The span's edges, on the caller's thread before the sampler runs or after it stopped.
 * At the start every slow counter's update is bracketed by two reads: predicted from the
 * grid remembered from an earlier run where there is one (two or three reads), else found by
 * reading every 5 ms until the counter changes, and then once more a period later to know
 * the period. At the end, the readings a window edge gets: the update before the end and a
 * bracket around the one after it. Power is read beside every counter read. */
void sampler_edge(struct sampler *m, bool start)
{
	if (!start) { /* the end's readings around now cover any window edges still queued */
		pthread_mutex_lock(&m->lock);
		m->n_edge_q = 0;
		pthread_mutex_unlock(&m->lock);
	}
	int64_t now = gops_now_ns();
	size_t n = m->n_dom;
	int64_t longest = 0;
	/* Per domain, what ends the wait: updates still to bracket (2 or 1), DATED_END (planned
	 * reads dated by the grid, done when they are) or 0. */
	int *want = calloc(n ? n : 1, sizeof *want);
	int64_t *seen = calloc(n ? n : 1, sizeof *seen);
	if (!want || !seen)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct dom_state *d = &m->dom[i];
		if (!alive(d))
			continue;
		if (d->power_ok)
			read_power(m, d);
		if (!d->energy_ok)
			continue;
		if (!d->info.energy_expensive) {
			read_anchor(m, d);
			continue;
		}
		if (!d->prior_period_s)
			d->prior_period_s = NOMINAL_PERIOD_S;
		if (start && !d->sync_last_ns) {
			int64_t u;
			double per;
			if (phase_recall(&d->info, &u, &per)) {
				d->sync_first_ns = d->sync_last_ns = u;
				d->sync_periods = 0;
				d->sync_unc_ns = 5 * MS;
				d->measured_period_s = per;
			}
		}
		d->n_plan = 0;
		d->probe_have_prev = false;
		int64_t per = (int64_t)(period_s(d) * 1e9);
		if (per > longest)
			longest = per;
		if (!grid_known(d))
			plan_search(d, now);
		else if (start)
			plan_bracket(d, grid_before(d, now + 6 * MS + d->read_cost_ns) + per, 15 * MS);
		else {
			plan_edge(d, now, now);
			/* Where the grid knows the update after the end to within a quarter period,
			 * one read dated by it is as good as a bracket (which costs two to four
			 * reads of a call that burns ~4 ms on an H100): the end is done when the
			 * planned reads are. */
			int64_t ub = grid_before(d, now) + per;
			if (dated_uncertainty(d, ub) < per / 4 && d->n_plan) {
				want[i] = DATED_END;
				continue;
			}
			/* Else the update after the end is bracketed: it dates the span's end. */
			for (unsigned k = 0; k < d->n_plan; k++)
				if (llabs(d->plan[k].update_ns - ub) < DATED_MARGIN) {
					memmove(d->plan + k, d->plan + k + 1,
					        (d->n_plan - k - 1) * sizeof *d->plan);
					d->n_plan--;
					break;
				}
			if (now + d->read_cost_ns + 6 * MS > ub)
				ub += per;
			plan_bracket(d, ub, 15 * MS);
		}
	}
	/* Until every slow counter has bracketed an update (a period later once more where
	 * the period is not known), or time is up. */
	int64_t wait_ns = 4 * (longest ? longest : 100 * MS) + 50 * MS;
	int64_t deadline = now + wait_ns;
	bool extended = false;
	for (size_t i = 0; i < n; i++) {
		struct dom_state *d = &m->dom[i];
		if (want[i] != DATED_END)
			want[i] = d->n_plan ? (start && d->measured_period_s <= 0 ? 2 : 1) : 0;
		seen[i] = d->sync_last_ns;
	}
	for (;;) {
		int64_t next = 0;
		bool pending = false;
		now = gops_now_ns();
		for (size_t i = 0; i < n; i++) {
			struct dom_state *d = &m->dom[i];
			if (!want[i])
				continue;
			int64_t t = run_plan(m, d, now);
			if (want[i] == DATED_END) {
				if (!d->n_plan)
					want[i] = 0;
				else if (t && (!next || t < next))
					next = t;
				pending |= want[i] != 0;
				continue;
			}
			if (d->sync_last_ns != seen[i] && d->sync_last_ns) {
				int64_t first = seen[i];
				seen[i] = d->sync_last_ns;
				if (--want[i] == 1 && start) {
					/* A second update one period on gives the period. */
					d->n_plan = 0;
					plan_bracket(d, d->sync_last_ns + (int64_t)(period_s(d) * 1e9),
					             15 * MS);
					t = d->plan[0].at_ns;
				} else if (want[i] == 0 && start && d->measured_period_s <= 0 && first) {
					double p = (double)(d->sync_last_ns - first) / 1e9;
					/* Two brackets of a few ms each say little about a 100 ms period:
					 * keep the nominal one unless they clearly disagree. */
					if (fabs(p - d->prior_period_s) > 0.2 * d->prior_period_s)
						d->measured_period_s = p;
				}
			}
			if (want[i] == 0) {
				d->n_plan = 0;
				continue;
			}
			if (!d->n_plan) { /* an update seen only loosely (a late wake-up): again */
				plan_search(d, gops_now_ns());
				t = d->plan[0].at_ns;
			}
			if (!d->sync_last_ns && seen[i] && !extended) {
				/* The remembered grid was not where the counter is (another boot of
				 * the device, a reset): the search starts now, and gets its own time. */
				deadline = gops_now_ns() + wait_ns;
				extended = true;
			}
			pending = true;
			if (t && (!next || t < next))
				next = t;
		}
		if (!pending)
			break;
		if (gops_now_ns() > deadline) {
			for (size_t i = 0; i < n; i++) {
				struct dom_state *d = &m->dom[i];
				if (!want[i])
					continue;
				if (want[i] == DATED_END) {
					gops_domain_note(
					    &d->info,
					    "the energy counter was not read within %.0f ms at the "
					    "span's end",
					    (double)wait_ns / 1e6);
					d->n_plan = 0;
					continue;
				}
				if (d->probe_have_prev)
					push_undated(d, d->probe_prev_mid, d->probe_prev_j);
				gops_domain_note(
				    &d->info,
				    "the energy counter did not change within %.0f ms at the span's %s",
				    (double)wait_ns / 1e6, start ? "start" : "end");
				d->n_plan = 0;
			}
			break;
		}
		if (next)
			gops_sleep_until(next);
	}
out:
	free(want);
	free(seen);
}

void sampler_remember_phase(struct sampler *m)
{
	for (size_t i = 0; i < m->n_dom; i++) {
		const struct dom_state *d = &m->dom[i];
		if (d->info.energy_expensive && grid_known(d))
			phase_remember(&d->info, d->sync_last_ns, period_s(d));
	}
}
