/* The sampling thread and the span edges. The thread wakes on absolute CLOCK_MONOTONIC
 * deadlines and appends to preallocated series; expensive counters (NVML's costs ~4 ms of CPU
 * per read) are read only at span edges and every anchor period, and at the edges we wait
 * for the counter's next update so the edge is known to a few milliseconds. */
#include "meter/sampler.h"
#include "base/util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MS 1000000LL

static double period_s(const struct dom_state *d)
{
	if (d->measured_period_s > 0)
		return d->measured_period_s;
	return d->info.update_period_s;
}

/* A series that cannot grow (weeks of samples, or no memory) ends the domain's span there,
 * visibly, rather than freezing its figures. */
static void store_full(struct sampler *m, struct dom_state *d, int64_t t)
{
	(void)m;
	if (d->lost_at_ns)
		return;
	d->lost_at_ns = t;
	gops_domain_note(&d->info,
	                 "sample store full after %zu power samples and %zu counter readings: "
	                 "measurement of this domain ends here",
	                 series_len(&d->power), series_len(&d->anchors));
}

static void push_anchor(struct dom_state *d, int64_t t, int64_t unc, double j)
{
	size_t n = series_len(&d->anchors);
	if (n) {
		const struct anchor *last = series_at(&d->anchors, n - 1);
		if (t <= last->t_ns) {
			if (j == last->joules)
				return;
			t = last->t_ns + 1;
		}
	}
	struct anchor a = {.t_ns = t, .t_unc_ns = unc, .joules = j};
	if (series_push(&d->anchors, &a) < 0)
		store_full(NULL, d, t);
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
	size_t n = series_len(&d->power);
	double cum = 0;
	if (n) {
		const struct power_sample *last = series_at(&d->power, n - 1);
		if (t <= last->t_ns)
			t = last->t_ns + 1;
		cum = last->cum_j + (double)(t - last->t_ns) * 1e-9 * (last->watts + w) / 2;
	}
	struct power_sample s = {.t_ns = t, .watts = w, .cum_j = cum};
	if (series_push(&d->power, &s) < 0)
		store_full(m, d, t);
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

static void read_anchor(struct sampler *m, struct dom_state *d)
{
	double j;
	int64_t mid;
	if (read_counter(m, d, &j, &mid) < 0)
		return;
	/* The value read is the one the hardware last published: on average half an update
	 * period old. */
	int64_t half = (int64_t)(period_s(d) * 1e9 / 2);
	push_anchor(d, mid - half, half, j);
}

/* A detected update refines the period: N whole periods since the first detected update. */
static void note_update(struct dom_state *d, int64_t tu)
{
	if (!d->sync_first_ns) {
		d->sync_first_ns = d->sync_last_ns = tu;
		return;
	}
	double per = d->sync_periods ? (double)(d->sync_last_ns - d->sync_first_ns) / (double)d->sync_periods
	                             : (double)(tu - d->sync_last_ns);
	if (per <= 0)
		return;
	int64_t n = (int64_t)llround((double)(tu - d->sync_first_ns) / per);
	if (n <= d->sync_periods) /* the same update seen twice */
		return;
	d->sync_periods = n;
	d->sync_last_ns = tu;
	d->measured_period_s = (double)(tu - d->sync_first_ns) / (double)n / 1e9;
}

/* Mid-run readings of a slow counter: probe just before the predicted update and again just
 * after, so the reading's time is the update's, known to a few ms, instead of anywhere in the
 * last period. Without a known phase, one plain read. Returns the next time this domain needs
 * the thread (0 none). */
static int64_t slow_counter_step(struct sampler *m, struct dom_state *d, int64_t now)
{
	double per = period_s(d) * 1e9;
	if (!d->probe_at_ns) {
		if (now < d->anchor_due_ns)
			return d->anchor_due_ns;
		if (!d->sync_first_ns || per <= 0) {
			read_anchor(m, d);
			d->anchor_due_ns = now + m->anchor_period_ns;
			return d->anchor_due_ns;
		}
		int64_t k = (int64_t)ceil((double)(now + 8000000 - d->sync_last_ns) / per);
		int64_t next_update = d->sync_last_ns + (int64_t)(k * per);
		d->probe_at_ns = next_update - 6000000;
		d->probe_started_ns = now;
		d->probe_have_prev = false;
		return d->probe_at_ns;
	}
	if (now < d->probe_at_ns)
		return d->probe_at_ns;
	double j;
	int64_t mid;
	if (read_counter(m, d, &j, &mid) < 0) {
		d->probe_at_ns = 0;
		d->anchor_due_ns = now + m->anchor_period_ns;
		return 0;
	}
	if (d->probe_have_prev && j != d->probe_prev_j) {
		int64_t tu = d->probe_prev_mid + (mid - d->probe_prev_mid) / 2;
		push_anchor(d, tu, (mid - d->probe_prev_mid) / 2, j);
		note_update(d, tu);
		d->probe_at_ns = 0;
		d->anchor_due_ns = now + m->anchor_period_ns;
		return d->anchor_due_ns;
	}
	if (d->probe_have_prev && now - d->probe_started_ns > (int64_t)(2 * per) + 20000000) {
		/* The update never came where predicted: keep the read, with its honest lag. */
		int64_t half = (int64_t)(per / 2);
		push_anchor(d, mid - half, half, j);
		d->probe_at_ns = 0;
		d->anchor_due_ns = now + m->anchor_period_ns;
		return d->anchor_due_ns;
	}
	d->probe_prev_j = j, d->probe_prev_mid = mid, d->probe_have_prev = true;
	d->probe_at_ns = gops_now_ns() + 3000000;
	return d->probe_at_ns;
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

static void *sampler_main(void *arg)
{
	struct sampler *m = arg;
	int64_t now = gops_now_ns();
	for (size_t i = 0; i < m->n_dom; i++)
		m->dom[i].anchor_due_ns = now + m->anchor_period_ns;
	int64_t next = now + m->interval_ns;
	int64_t slow = slow_counters(m, now);
	pthread_mutex_lock(&m->lock);
	while (!m->stop_req) {
		int64_t wake = slow && slow < next ? slow : next;
		struct timespec ts = {.tv_sec = wake / 1000000000, .tv_nsec = wake % 1000000000};
		while (!m->stop_req)
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
			next += m->interval_ns;
		}
		slow = slow_counters(m, gops_now_ns());
		pthread_mutex_lock(&m->lock);
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
	pthread_condattr_destroy(&ca);
}

void sampler_release(struct sampler *m)
{
	sampler_stop(m);
	pthread_mutex_destroy(&m->lock);
	pthread_cond_destroy(&m->wake);
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

void sampler_stop(struct sampler *m)
{
	if (!m->thread_running)
		return;
	pthread_mutex_lock(&m->lock);
	m->stop_req = true;
	pthread_cond_broadcast(&m->wake);
	pthread_mutex_unlock(&m->lock);
	pthread_join(m->thread, NULL);
	m->thread_running = false;
}

/* Polls the slow counters until they publish a new value: `changes` updates at the start
 * (two, to measure the update period), one at the end. Power is read on every round, so the
 * stretch between the edge and the update is integrated from fresh samples. */
void sampler_edge(struct sampler *m, bool start)
{
	size_t n = m->n_dom;
	double *prev = calloc(n, sizeof *prev);
	int64_t *prev_mid = calloc(n, sizeof *prev_mid);
	int *changes = calloc(n, sizeof *changes);
	bool *pending = calloc(n, sizeof *pending);
	if (!prev || !prev_mid || !changes || !pending)
		goto out;

	int64_t now = gops_now_ns();
	size_t n_pending = 0;
	int64_t longest = 0;
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
		if (read_counter(m, d, &prev[i], &prev_mid[i]) < 0)
			continue;
		pending[i] = true;
		n_pending++;
		int64_t p = (int64_t)((period_s(d) > 0 ? period_s(d) : 0.1) * 1e9);
		if (p > longest)
			longest = p;
	}
	int want = start ? 2 : 1;
	int64_t deadline = now + (want + 1) * longest + 50 * MS;
	while (n_pending) {
		gops_sleep_until(gops_now_ns() + MS);
		for (size_t i = 0; i < n; i++) {
			struct dom_state *d = &m->dom[i];
			if (!pending[i])
				continue;
			double j;
			int64_t mid;
			if (d->power_ok)
				read_power(m, d);
			if (read_counter(m, d, &j, &mid) < 0) {
				pending[i] = false;
				n_pending--;
				continue;
			}
			if (j != prev[i]) {
				/* The update fell between the two reads. */
				int64_t tu = prev_mid[i] + (mid - prev_mid[i]) / 2;
				push_anchor(d, tu, (mid - prev_mid[i]) / 2, j);
				note_update(d, tu);
				if (++changes[i] == 2) {
					size_t na = series_len(&d->anchors);
					const struct anchor *a = series_at(&d->anchors, na - 2);
					const struct anchor *b = series_at(&d->anchors, na - 1);
					d->measured_period_s = (b->t_ns - a->t_ns) / 1e9;
				}
				if (changes[i] >= want) {
					pending[i] = false;
					n_pending--;
				}
			}
			prev[i] = j;
			prev_mid[i] = mid;
		}
		if (gops_now_ns() > deadline)
			break;
	}
	for (size_t i = 0; i < n; i++) {
		struct dom_state *d = &m->dom[i];
		if (!pending[i])
			continue;
		if (changes[i] == 0) {
			/* No update seen: take the last read as it is, at half a period's uncertainty. */
			int64_t half = (int64_t)(period_s(d) > 0 ? period_s(d) * 1e9 / 2 : 50 * MS);
			push_anchor(d, prev_mid[i] - half, half, prev[i]);
			gops_domain_note(&d->info,
			                 "the energy counter did not change within %.0f ms at the span's %s",
			                 (double)(deadline - now) / 1e6, start ? "start" : "end");
		} else if (start && d->info.update_period_s <= 0 && d->measured_period_s <= 0) {
			gops_domain_note(&d->info, "counter update period not measured at the start");
		}
	}
out:
	free(prev);
	free(prev_mid);
	free(changes);
	free(pending);
}
