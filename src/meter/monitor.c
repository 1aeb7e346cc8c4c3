/* The monitor: opens the selected sources, owns the sampler, the windows, tags and units, the
 * idle baseline, and hands out the results the meter computes. */
#include "meter/monitor_internal.h"
#include "sources/select.h"
#include "base/util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EDGE_SHARE 0.02 /* of a core, for counter reads at window edges */
#define EDGE_BURST 8    /* edges the budget can pay for at once */

void gops_options_init(struct gops_options *o)
{
	memset(o, 0, sizeof *o);
	o->interval_ms = GOPS_DEFAULT_INTERVAL_MS;
	o->idle = GOPS_IDLE_AUTO;
	o->idle_seconds = 10;
}

const char *gops_source_name(size_t i)
{
	return i < gops_n_sources ? gops_sources[i]->name : NULL;
}

/* "nvml, perf, ..." for messages naming the sources there are. */
static void source_names(char *buf, size_t len)
{
	buf[0] = 0;
	for (size_t i = 0; gops_source_name(i); i++)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", i ? ", " : "", gops_source_name(i));
}

const char *gops_method_name(enum gops_method m)
{
	switch (m) {
	case GOPS_METHOD_COUNTER:
		return "counter";
	case GOPS_METHOD_INTEGRATED:
		return "integrated";
	case GOPS_METHOD_ESTIMATED:
		return "estimated";
	case GOPS_METHOD_BRIDGED:
		return "counter+integrated";
	default:
		return "none";
	}
}

void monitor_set_error(struct gops_monitor *m, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m->err, sizeof m->err, fmt, ap);
	va_end(ap);
}

const char *gops_monitor_error(const gops_monitor *m)
{
	return m ? m->err : "out of memory";
}

size_t gops_monitor_notes(const gops_monitor *m, const char *const **notes)
{
	*notes = (const char *const *)m->notes.v;
	return m->notes.n;
}

/* Is `name` in the comma-separated list? */
static bool in_list(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == n && strncmp(p, name, n) == 0)
			return true;
		if (!e)
			break;
		p = e + 1;
	}
	return false;
}

static int check_source_names(struct gops_monitor *m, const char *list)
{
	char buf[256];
	gops_strlcpy(buf, list, sizeof buf);
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (gops_source_find(t))
			continue;
		char known[128];
		source_names(known, sizeof known);
		monitor_set_error(m, "unknown source '%s' in --sources (known: %s)", t, known);
		return -EINVAL;
	}
	return 0;
}

static int open_sources(struct gops_monitor *m, struct gops_domain_list *dl)
{
	const char *list = m->opts.sources;
	if (list && check_source_names(m, list) < 0)
		return -EINVAL;
	const struct gops_source_args args = {.cpu_tdp_w = m->opts.cpu_tdp_w};
	for (size_t i = 0; i < gops_n_sources; i++) {
		const struct gops_source_ops *ops = gops_sources[i];
		bool named = list && in_list(list, ops->name);
		if (list && !named)
			continue;
		/* The estimator stands in for CPU/RAM sensors only where none are readable. */
		if (!list && !gops_source_default(ops->name, dl))
			continue;
		if (m->n_src == sizeof m->src / sizeof m->src[0])
			break;
		char err[256] = "";
		size_t before = dl->n;
		struct gops_source *s = NULL;
		int r = ops->open(&s, &args, dl, &m->notes, err, sizeof err);
		if (r < 0) {
			dl->n = before;
			if (named) {
				monitor_set_error(m, "source '%s': %s", ops->name,
				                  err[0] ? err : strerror(-r));
				return r;
			}
			if (r != -ENOENT || err[0])
				gops_notes_add(&m->notes, "%s: %s", ops->name, err[0] ? err : strerror(-r));
			continue;
		}
		for (size_t k = before; k < dl->n; k++)
			dl->v[k].source = (int)m->n_src;
		m->src[m->n_src] = s;
		m->ops[m->n_src++] = ops;
	}
	return 0;
}

/* Counters that wrap must be read at least four times per wrap at the highest plausible power. */
static void fit_interval(struct gops_monitor *m)
{
	for (size_t i = 0; i < m->n_dom; i++) {
		const struct gops_domain *d = &m->dom[i].info;
		if (!(d->caps & GOPS_CAP_ENERGY) || d->range_j <= 0 || d->energy_expensive)
			continue;
		/* Without a stated limit, 500 W: an assumption, and the note says so. */
		double maxp = d->max_power_w > 0 ? d->max_power_w : 500;
		int64_t need = (int64_t)(d->range_j / maxp / 4 * 1e9);
		if (need < m->smp.interval_ns) {
			gops_notes_add(
			    &m->notes,
			    "sampling every %.0f ms instead of %.0f ms: %s wraps every %.2f s at %s%.0f W",
			    need / 1e6, m->smp.interval_ns / 1e6, d->name, d->range_j / maxp,
			    d->max_power_w > 0 ? "" : "an assumed ", maxp);
			m->smp.interval_ns = need > 1000000 ? need : 1000000;
		}
	}
}

int gops_monitor_new(gops_monitor **out, const struct gops_options *opts)
{
	*out = NULL;
	struct gops_monitor *m = calloc(1, sizeof *m);
	if (!m)
		return -ENOMEM;
	if (opts)
		m->opts = *opts;
	else
		gops_options_init(&m->opts);
	if (m->opts.interval_ms == 0)
		m->opts.interval_ms = GOPS_DEFAULT_INTERVAL_MS;
	m->opts.sources = m->opts.sources && *m->opts.sources ? gops_xstrdup(m->opts.sources) : NULL;
	m->opts.idle_values = NULL; /* applied below, not kept */
	m->run_units = NAN;
	pthread_mutex_init(&m->lock, NULL);
	sampler_init(&m->smp);
	m->smp.interval_ns = (int64_t)m->opts.interval_ms * 1000000;
	m->smp.src = m->src;
	m->smp.ops = m->ops;
	*out = m;

	struct gops_domain_list dl = {0};
	int r = open_sources(m, &dl);
	if (r < 0) {
		gops_domain_list_release(&dl);
		return r;
	}
	m->n_dom = dl.n;
	m->dom = calloc(dl.n ? dl.n : 1, sizeof *m->dom);
	m->idle_w = malloc((dl.n ? dl.n : 1) * sizeof *m->idle_w);
	if (!m->dom || !m->idle_w) {
		gops_domain_list_release(&dl);
		monitor_set_error(m, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < dl.n; i++) {
		struct dom_state *d = &m->dom[i];
		d->info = dl.v[i];
		d->energy_ok = d->info.caps & GOPS_CAP_ENERGY;
		d->power_ok = d->info.caps & GOPS_CAP_POWER;
		d->avg_ok = d->power_ok && m->ops[d->info.source]->read_power_avg;
		m->idle_w[i] = NAN;
		if (series_init(&d->power, sizeof(struct power_sample)) < 0 ||
		    series_init(&d->anchors, sizeof(struct anchor)) < 0 ||
		    series_init(&d->share, sizeof(struct share_tick)) < 0) {
			gops_domain_list_release(&dl);
			monitor_set_error(m, "out of memory");
			return -ENOMEM;
		}
	}
	gops_domain_list_release(&dl);
	m->smp.dom = m->dom;
	m->smp.n_dom = m->n_dom;
	if (m->n_dom == 0)
		gops_notes_add(&m->notes, "no energy sensor was found: nothing can be measured");
	fit_interval(m);

	m->smp.anchor_period_ns =
	    (int64_t)((m->opts.anchor_period_s > 0 ? m->opts.anchor_period_s : 5.0) * 1e9);

	/* Baseline per domain. */
	m->idle_source = "none";
	if (opts && (opts->idle == GOPS_IDLE_STORED || opts->idle == GOPS_IDLE_AUTO) && opts->n_idle_values) {
		size_t found = 0;
		for (size_t i = 0; i < m->n_dom; i++)
			for (size_t k = 0; k < opts->n_idle_values; k++)
				if (!strcmp(opts->idle_values[k].domain, m->dom[i].info.name)) {
					m->idle_w[i] = opts->idle_values[k].watts;
					found++;
				}
		if (opts->idle == GOPS_IDLE_AUTO && found < m->n_dom) {
			for (size_t i = 0; i < m->n_dom; i++)
				m->idle_w[i] = NAN;
		} else {
			m->idle_source = "stored";
		}
	} else if (opts && opts->idle == GOPS_IDLE_WATTS) {
		m->idle_source = "given";
	}
	return 0;
}

static void reset_series(struct gops_monitor *m)
{
	for (size_t i = 0; i < m->n_dom; i++) {
		series_clear(&m->dom[i].power);
		series_clear(&m->dom[i].anchors);
		series_clear(&m->dom[i].share);
		m->dom[i].shared = m->dom[i].command_on_mig = false;
		m->dom[i].share_since_us = 0;
	}
}

/* Idle measured right before the span: the same machinery over a quiet stretch. */
static int measure_idle(struct gops_monitor *m)
{
	sampler_edge(&m->smp, true);
	int64_t t0 = gops_now_ns();
	int r = sampler_start(&m->smp, m->err, sizeof m->err);
	if (r < 0)
		return r;
	gops_sleep_until(t0 + (int64_t)(m->opts.idle_seconds * 1e9));
	sampler_stop(&m->smp);
	int64_t t1 = gops_now_ns();
	sampler_edge(&m->smp, false);
	for (size_t i = 0; i < m->n_dom; i++) {
		struct gops_domain_result dr;
		m->idle_w[i] = NAN;
		meter_domain(m, i, t0, t1, &dr);
		if (dr.method != GOPS_METHOD_NONE)
			m->idle_w[i] = dr.avg_power_w;
		for (size_t k = 0; k < dr.n_warnings; k++)
			free(dr.warnings[k]);
		free(dr.warnings);
	}
	reset_series(m);
	m->idle_source = "measured";
	return 0;
}

int gops_monitor_start(gops_monitor *m)
{
	if (m->started) {
		monitor_set_error(m, "monitor already started");
		return -EALREADY;
	}
	if (m->opts.idle == GOPS_IDLE_MEASURE) {
		int r = measure_idle(m);
		if (r < 0)
			return r;
	}
	sampler_edge(&m->smp, true);
	/* The expensive counter's cost sets how often it is read between edges: at most 0.05%
	 * of a core (three reads of 3.9 ms on an H100: one mid-run reading every 23 s). */
	if (m->opts.anchor_period_s <= 0) {
		double cost = 0;
		for (size_t i = 0; i < m->n_dom; i++)
			if (m->dom[i].info.energy_expensive)
				cost += (double)m->dom[i].read_cost_ns / 1e9; /* timed during the edge */
		double p = 3 * cost / 0.0005; /* about three reads per mid-run reading */
		m->smp.anchor_period_ns = (int64_t)((p < 5 ? 5 : p > 30 ? 30 : p) * 1e9);
	}
	/* Window edges get counter readings of their own (one read each side of the edge on every
	 * slow counter) within a budget of 2% of a core: 1 s windows back to back fit on an H100
	 * (7.8 ms per edge); per-batch windows do not and are spread by instant power. */
	m->edge_cost_ns = 0;
	for (size_t i = 0; i < m->n_dom; i++)
		if (m->dom[i].info.energy_expensive && m->dom[i].energy_ok)
			m->edge_cost_ns += 2 * m->dom[i].read_cost_ns;
	m->edge_share = EDGE_SHARE;
	m->edge_tokens_ns = EDGE_BURST * (double)m->edge_cost_ns;
	m->edge_refill_ns = gops_now_ns();
	m->t_start = m->smp.t_start = gops_now_ns();
	m->start_realtime_ns = gops_realtime_ns();
	int r = sampler_start(&m->smp, m->err, sizeof m->err);
	if (r < 0)
		return r;
	pthread_mutex_lock(&m->lock);
	m->started = true;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

int gops_monitor_set_command_pid(gops_monitor *m, int pid)
{
	if (!m || pid < 0)
		return -EINVAL;
	atomic_store(&m->smp.command_pid, pid);
	return 0;
}

int gops_monitor_set_start(gops_monitor *m, int64_t t_ns)
{
	pthread_mutex_lock(&m->lock); /* the control thread checks T_NS against it */
	int64_t delta = t_ns - m->t_start;
	m->t_start = m->smp.t_start = t_ns;
	m->start_realtime_ns += delta;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

int gops_monitor_stop_at(gops_monitor *m, int64_t end_ns)
{
	if (!m->started || m->stopped) {
		monitor_set_error(m, m->stopped ? "monitor already stopped" : "monitor not started");
		return -EINVAL;
	}
	m->t_end = end_ns;
	sampler_stop(&m->smp);
	sampler_edge(&m->smp, false);
	sampler_remember_phase(&m->smp);
	m->stopped = true;
	pthread_mutex_lock(&m->lock);
	int r = meter_compute(m);
	pthread_mutex_unlock(&m->lock);
	return r;
}

int gops_monitor_stop(gops_monitor *m)
{
	return gops_monitor_stop_at(m, gops_now_ns());
}

const struct gops_result *gops_monitor_result(const gops_monitor *m)
{
	return m->have_result ? &m->result : NULL;
}

static int64_t stamp(int64_t t_ns)
{
	return t_ns > 0 ? t_ns : gops_now_ns();
}

/* A T_NS given by the writer must lie between the span's start and the moment it arrives:
 * anything else (wall-clock nanoseconds by mistake, another host's clock, a stale or future
 * value) would make a window of nothing, so it is refused rather than clipped. Called with
 * the lock held. */
static int check_stamp(struct gops_monitor *m, int64_t given, int64_t t_ns)
{
	if (given <= 0 || !m->started)
		return 0;
	int64_t now = gops_now_ns();
	if (t_ns >= m->t_start && t_ns <= now)
		return 0;
	monitor_set_error(m,
	                  "T_NS %lld is outside the measured span (%.3f s %s): it must be this host's "
	                  "CLOCK_MONOTONIC in nanoseconds",
	                  (long long)t_ns,
	                  t_ns < m->t_start ? (double)(m->t_start - t_ns) / 1e9 : (double)(t_ns - now) / 1e9,
	                  t_ns < m->t_start ? "before its start" : "after the line arrived");
	if (m->refused_stamps++ == 0) /* the first one says why; the count says how many */
		gops_notes_add(&m->notes, "window line refused: %s", m->err);
	return -ERANGE;
}

/* The previous window of that name, looking back a little: names repeat at their own pace. */
static const struct window *previous_of_name(const struct gops_monitor *m, const char *name)
{
	for (size_t i = m->n_win, k = 0; i-- > 0 && k < 256; k++)
		if (!strcmp(m->win[i].name, name))
			return &m->win[i];
	return NULL;
}

/* Under the lock: may this edge have counter readings of its own? A name whose windows come
 * faster than the budget can pay for (per-batch windows) is spread; otherwise the edge takes
 * its reads from a token bucket refilled at the budget's rate. The end of a window whose
 * begin was read may overdraw it, so a per-epoch or per-phase window is never left half
 * read. */
static bool edge_reads(struct gops_monitor *m, struct window *w, bool begin, int64_t t)
{
	if (!m->edge_cost_ns || w->spread)
		return false;
	int64_t now = gops_now_ns();
	double cap = EDGE_BURST * (double)m->edge_cost_ns;
	m->edge_tokens_ns += m->edge_share * (double)(now - m->edge_refill_ns);
	if (m->edge_tokens_ns > cap)
		m->edge_tokens_ns = cap;
	m->edge_refill_ns = now;
	if (begin) {
		const struct window *prev = previous_of_name(m, w->name);
		int64_t min_gap = (int64_t)(2 * (double)m->edge_cost_ns / m->edge_share);
		if (prev && t - prev->begin_ns < min_gap) {
			w->spread = true;
			w->spread_gap_ns = t - prev->begin_ns;
			return false;
		}
		if (m->edge_tokens_ns < (double)m->edge_cost_ns) {
			w->spread = true;
			return false;
		}
	} else if (m->edge_tokens_ns < -cap) {
		w->spread = true;
		return false;
	}
	m->edge_tokens_ns -= (double)m->edge_cost_ns;
	sampler_queue_edge(&m->smp, t);
	return true;
}

int gops_monitor_begin_window(gops_monitor *m, const char *name, int64_t t_ns)
{
	int64_t given = t_ns;
	t_ns = stamp(t_ns);
	if (!name || !*name) {
		monitor_set_error(m, "a window needs a name");
		return -EINVAL;
	}
	pthread_mutex_lock(&m->lock);
	int r = check_stamp(m, given, t_ns);
	if (r < 0) {
		pthread_mutex_unlock(&m->lock);
		return r;
	}
	if (m->n_win == m->cap_win) {
		size_t cap = m->cap_win ? m->cap_win * 2 : 64;
		struct window *v = realloc(m->win, cap * sizeof *v);
		if (!v) {
			pthread_mutex_unlock(&m->lock);
			return -ENOMEM;
		}
		m->win = v, m->cap_win = cap;
	}
	struct window *w = &m->win[m->n_win];
	*w = (struct window){.name = gops_utf8_repair(name), .begin_ns = t_ns, .units = NAN};
	edge_reads(m, w, true, t_ns);
	m->n_win++;
	sampler_set_windows_open(&m->smp, ++m->n_open);
	pthread_mutex_unlock(&m->lock);
	return 0;
}

/* The most recent open window of that name (NULL name: the innermost open one); the name
 * is compared as it was stored, repaired to UTF-8. */
static struct window *find_open(struct gops_monitor *m, const char *name)
{
	char *want = name ? gops_utf8_repair(name) : NULL;
	struct window *w = NULL;
	for (size_t i = m->n_win; !w && i-- > 0;)
		if (m->win[i].end_ns == 0 && (!want || !strcmp(m->win[i].name, want)))
			w = &m->win[i];
	free(want);
	return w;
}

int gops_monitor_end_window(gops_monitor *m, const char *name, int64_t t_ns)
{
	int64_t given = t_ns;
	t_ns = stamp(t_ns);
	pthread_mutex_lock(&m->lock);
	int r = check_stamp(m, given, t_ns);
	if (r < 0) {
		pthread_mutex_unlock(&m->lock);
		return r;
	}
	struct window *w = find_open(m, name);
	if (w) {
		w->end_ns = t_ns > w->begin_ns ? t_ns : w->begin_ns;
		edge_reads(m, w, false, w->end_ns);
		sampler_set_windows_open(&m->smp, --m->n_open);
	}
	pthread_mutex_unlock(&m->lock);
	if (!w) {
		monitor_set_error(m, "no open window named '%s'", name ? name : "");
		return -ENOENT;
	}
	return 0;
}

/* How long a window's figures may take to become final: four updates of the slowest counter
 * or sampling rounds (the estimator's model is read every 500 ms), a second at least. */
static int64_t settle_wait_ns(const struct gops_monitor *m)
{
	int64_t longest = m->smp.interval_ns;
	for (size_t i = 0; i < m->n_dom; i++) {
		const struct dom_state *d = &m->dom[i];
		double per = d->measured_period_s > 0      ? d->measured_period_s
		             : d->info.update_period_s > 0 ? d->info.update_period_s
		                                           : d->prior_period_s;
		if (d->info.estimated && per < 0.5)
			per = 0.5;
		if ((int64_t)(per * 1e9) > longest)
			longest = (int64_t)(per * 1e9);
	}
	return 4 * longest + 50000000LL > 1000000000LL ? 4 * longest + 50000000LL : 1000000000LL;
}

int gops_monitor_window_result(gops_monitor *m, const char *name, int64_t end_ns,
                               struct gops_window_result **out, bool *final)
{
	*out = NULL;
	if (final)
		*final = false;
	if (!name || !*name) {
		monitor_set_error(m, "a window needs a name");
		return -EINVAL;
	}
	char *want = gops_utf8_repair(name);
	pthread_mutex_lock(&m->lock);
	if (!m->started) {
		pthread_mutex_unlock(&m->lock);
		free(want);
		monitor_set_error(m, "monitor not started");
		return -EINVAL;
	}
	size_t i = m->n_win;
	while (i-- > 0 && !(m->win[i].end_ns && !strcmp(m->win[i].name, want) &&
	                    (end_ns == 0 || m->win[i].end_ns == end_ns)))
		;
	free(want);
	if (i == (size_t)-1) {
		pthread_mutex_unlock(&m->lock);
		if (end_ns)
			monitor_set_error(m, "no window named '%s' ended at %lld ns", name,
			                  (long long)end_ns);
		else
			monitor_set_error(m, "no ended window named '%s'", name);
		return -ENOENT;
	}
	struct gops_window_result *o = calloc(1, sizeof *o);
	if (!o) {
		pthread_mutex_unlock(&m->lock);
		return -ENOMEM;
	}
	if (m->have_result) { /* stopped: the span's own figures */
		meter_window_copy(&m->result.windows[i], o);
		pthread_mutex_unlock(&m->lock);
		*out = o;
		if (final)
			*final = true;
		return 0;
	}
	struct window w = m->win[i]; /* the array may move once the lock is released */
	w.name = gops_xstrdup(w.name);
	pthread_mutex_unlock(&m->lock);

	/* Wait, round by round of the sampler, until every domain has been read past the end. */
	int64_t deadline = gops_now_ns() + settle_wait_ns(m);
	bool fin = false, wait = true;
	for (;;) {
		uint64_t seen = sampler_rounds(&m->smp);
		meter_window_now(m, &w, NULL, &fin, &wait);
		if (fin || !wait || gops_now_ns() >= deadline || !sampler_wait_round(&m->smp, seen, deadline))
			break;
	}
	meter_window_now(m, &w, o, &fin, &wait);
	free(w.name);
	*out = o;
	if (final)
		*final = fin;
	return 0;
}

void gops_window_result_free(struct gops_window_result *w)
{
	if (!w)
		return;
	meter_window_release(w);
	free(w);
}

int gops_monitor_add_units(gops_monitor *m, const char *window, double n)
{
	if (!(n >= 0) || isinf(n)) {
		monitor_set_error(m, "units must be a non-negative number");
		return -EINVAL;
	}
	pthread_mutex_lock(&m->lock);
	struct window *w = find_open(m, window && *window ? window : NULL);
	if (window && *window && !w) {
		pthread_mutex_unlock(&m->lock);
		monitor_set_error(m, "no open window named '%s'", window);
		return -ENOENT;
	}
	double *u = w ? &w->units : &m->run_units;
	*u = isnan(*u) ? n : *u + n;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

int gops_monitor_tag(gops_monitor *m, const char *key, const char *value)
{
	if (!key || !*key) {
		monitor_set_error(m, "a tag needs a key");
		return -EINVAL;
	}
	char *k = gops_utf8_repair(key), *v = gops_utf8_repair(value);
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->n_tags; i++)
		if (!strcmp(m->tags[i].key, k)) {
			free(m->tags[i].value);
			m->tags[i].value = v;
			pthread_mutex_unlock(&m->lock);
			free(k);
			return 0;
		}
	if (m->n_tags == m->cap_tags) {
		size_t cap = m->cap_tags ? m->cap_tags * 2 : 8;
		struct gops_tag *nv = realloc(m->tags, cap * sizeof *nv);
		if (!nv) {
			pthread_mutex_unlock(&m->lock);
			free(k), free(v);
			return -ENOMEM;
		}
		m->tags = nv, m->cap_tags = cap;
	}
	m->tags[m->n_tags++] = (struct gops_tag){k, v};
	pthread_mutex_unlock(&m->lock);
	return 0;
}

void gops_monitor_count_malformed(gops_monitor *m)
{
	pthread_mutex_lock(&m->lock);
	m->malformed++;
	pthread_mutex_unlock(&m->lock);
}

struct rec {
	int64_t t;
	size_t dom;
	double watts, counter;
};

static int rec_cmp(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;
	return x->t < y->t ? -1 : x->t > y->t;
}

int gops_monitor_foreach_sample(const gops_monitor *m, gops_sample_fn fn, void *ctx)
{
	/* Lengths are taken once: the sampler may still be appending. */
	size_t n = 0, *np_v = calloc(m->n_dom + 1, sizeof *np_v), *na_v = calloc(m->n_dom + 1, sizeof *na_v);
	if (!np_v || !na_v) {
		free(np_v);
		free(na_v);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->n_dom; i++) {
		np_v[i] = series_len(&m->dom[i].power);
		na_v[i] = series_len(&m->dom[i].anchors);
		n += np_v[i] + na_v[i];
	}
	struct rec *v = malloc((n ? n : 1) * sizeof *v);
	if (!v) {
		free(np_v);
		free(na_v);
		return -ENOMEM;
	}
	size_t k = 0;
	for (size_t i = 0; i < m->n_dom; i++) {
		const struct dom_state *d = &m->dom[i];
		double e0 = meter_energy_at(d, m->t_start);
		size_t np = np_v[i], na = na_v[i];
		for (size_t j = 0; j < np; j++) {
			const struct power_sample *s = series_at(&d->power, j);
			v[k++] = (struct rec){s->t_ns, i, s->watts, NAN};
		}
		for (size_t j = 0; j < na; j++) {
			const struct anchor *a = series_at(&d->anchors, j),
			                    *b = j ? series_at(&d->anchors, j - 1) : NULL;
			/* Counter-only domains get their power from the counter's slope. */
			double w = np == 0 && b && a->t_ns > b->t_ns
			               ? (a->joules - b->joules) / ((a->t_ns - b->t_ns) / 1e9)
			               : NAN;
			v[k++] = (struct rec){a->t_ns, i, w, a->joules - e0};
		}
	}
	free(np_v);
	free(na_v);
	qsort(v, k, sizeof *v, rec_cmp);
	int r = 0;
	for (size_t i = 0; i < k && r == 0; i++)
		r = fn(ctx, (double)(v[i].t - m->t_start) / 1e9, m->dom[v[i].dom].info.name, v[i].watts,
		       v[i].counter);
	free(v);
	return r;
}

int gops_monitor_live(gops_monitor *m, struct gops_live *out, size_t cap, size_t *n)
{
	int64_t now = gops_now_ns();
	size_t k = 0;
	for (size_t i = 0; i < m->n_dom && k < cap; i++) {
		struct dom_state *d = &m->dom[i];
		struct gops_live *l = &out[k++];
		l->domain = d->info.name;
		l->source = m->ops[d->info.source]->name;
		l->power_w = NAN;
		l->age_s = NAN;
		size_t np = series_len(&d->power), na = series_len(&d->anchors);
		if (np) {
			const struct power_sample *s = series_at(&d->power, np - 1);
			l->power_w = s->watts;
			l->age_s = (now - s->t_ns) / 1e9;
		} else if (na >= 2) {
			const struct anchor *a = series_at(&d->anchors, na - 2),
			                    *b = series_at(&d->anchors, na - 1);
			l->power_w = (b->joules - a->joules) / ((b->t_ns - a->t_ns) / 1e9);
			l->age_s = (now - b->t_ns) / 1e9;
		}
		l->energy_j = meter_energy_at(d, now) - meter_energy_at(d, m->t_start);
		l->up = d->lost_at_ns == 0 && (np || na) && !isnan(l->energy_j);
	}
	*n = k;
	return 0;
}

void gops_monitor_free(gops_monitor *m)
{
	if (!m)
		return;
	sampler_stop(&m->smp);
	for (size_t i = 0; i < m->n_src; i++)
		if (m->ops[i]->close)
			m->ops[i]->close(m->src[i]);
	for (size_t i = 0; i < m->n_dom; i++) {
		series_release(&m->dom[i].power);
		series_release(&m->dom[i].anchors);
		series_release(&m->dom[i].share);
	}
	free(m->dom);
	free(m->idle_w);
	for (size_t i = 0; i < m->n_win; i++)
		free(m->win[i].name);
	free(m->win);
	for (size_t i = 0; i < m->n_tags; i++) {
		free(m->tags[i].key);
		free(m->tags[i].value);
	}
	free(m->tags);
	if (m->have_result)
		meter_result_release(&m->result);
	gops_notes_release(&m->notes);
	free((char *)m->opts.sources);
	sampler_release(&m->smp);
	pthread_mutex_destroy(&m->lock);
	free(m);
}
