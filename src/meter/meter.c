/* Energy accounting: the energy of any span of any domain from its counter readings
 * (anchors) and power samples. Between two counter readings, energy is distributed in
 * proportion to the integrated instant power, so windows need no counter read of their own
 * and still add up to the counter (docs/METHOD.md, "Energy of a span"). */
#include "meter/monitor_internal.h"
#include "base/util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS 1e-9

static const struct power_sample *ps(const struct dom_state *d, size_t i)
{
	return series_at(&d->power, i);
}

static const struct anchor *an(const struct dom_state *d, size_t i)
{
	return series_at(&d->anchors, i);
}

/* The energy used by reading i: the counter's value, or where meter_compute has judged the
 * counter (fix_counter), with its untrusted stretches replaced by integrated power. */
static double aj(const struct dom_state *d, size_t i)
{
	return d->fix && i < d->n_fix ? d->fix[i].joules : an(d, i)->joules;
}

/* Largest i with t_i <= t among the first n elements, -1 when t is before the first.
 * Power samples and counter readings both begin with their int64_t time. */
static long find_time(const struct series *sr, size_t n, int64_t t)
{
	long lo = -1, hi = (long)n - 1;
	while (lo < hi) {
		long mid = lo + (hi - lo + 1) / 2;
		if (*(const int64_t *)series_at(sr, (size_t)mid) <= t)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}
#define find_power(d, n, t)  find_time(&(d)->power, n, t)
#define find_anchor(d, n, t) find_time(&(d)->anchors, n, t)

/* Power at t, linear between samples, constant beyond the ends. */
static double power_at(const struct dom_state *d, size_t n, int64_t t)
{
	long k = find_power(d, n, t);
	if (k < 0)
		return ps(d, 0)->watts;
	if ((size_t)k + 1 >= n)
		return ps(d, (size_t)k)->watts;
	const struct power_sample *a = ps(d, (size_t)k), *b = ps(d, (size_t)k + 1);
	if (b->t_ns == a->t_ns)
		return b->watts;
	return a->watts + (b->watts - a->watts) * (double)(t - a->t_ns) / (double)(b->t_ns - a->t_ns);
}

/* The integral of power from the series' first sample to t (negative before it): the stored
 * running sum up to the sample before t, plus one partial trapezoid. */
static double cum_at(const struct dom_state *d, size_t n, int64_t t)
{
	long k = find_power(d, n, t);
	if (k < 0)
		return (double)(t - ps(d, 0)->t_ns) * NS * ps(d, 0)->watts;
	const struct power_sample *a = ps(d, (size_t)k);
	return a->cum_j + (double)(t - a->t_ns) * NS * (a->watts + power_at(d, n, t)) / 2;
}

/* Integral of power from time ta to tb (joules), trapezoid over the linear interpolation;
 * O(log n) whatever the span. */
static double integral(const struct dom_state *d, int64_t ta, int64_t tb)
{
	size_t n = series_len(&d->power);
	if (n == 0 || ta == tb)
		return 0;
	return cum_at(d, n, tb) - cum_at(d, n, ta);
}

/* Counter energy per integrated joule over anchor interval i..i+1 (1 where undefined). */
static double interval_scale(const struct dom_state *d, size_t i)
{
	const struct anchor *a = an(d, i), *b = an(d, i + 1);
	double w = integral(d, a->t_ns, b->t_ns);
	if (w <= 1e-9)
		return 1;
	return (aj(d, i + 1) - aj(d, i)) / w;
}

/* The scale for power integrated past the last counter reading (the live figures): over the
 * latest stretch between readings at least a second long and dated to 5% of its length. The
 * readings of a span's first edge are a counter period or two apart and dated to a good part
 * of one: 15 J over what reads as 50 to 90 ms of 150 W would scale instant power by 1.1 to 2x
 * until the next reading mid-run (5 s or more later). 1 when no stretch qualifies. */
static double tail_scale(const struct dom_state *d, size_t na)
{
	if (na < 2)
		return 1;
	const struct anchor *b = an(d, na - 1);
	for (size_t i = na - 1; i-- > 0;) {
		const struct anchor *a = an(d, i);
		double len = (double)(b->t_ns - a->t_ns);
		if (len >= 1e9 && (double)(a->t_unc_ns + b->t_unc_ns) <= 0.05 * len) {
			double w = integral(d, a->t_ns, b->t_ns);
			return w > 1e-9 ? (aj(d, na - 1) - aj(d, i)) / w : 1;
		}
	}
	return 1;
}

static int64_t clamp_lost(const struct dom_state *d, int64_t t)
{
	return d->lost_at_ns && t > d->lost_at_ns ? d->lost_at_ns : t;
}

double meter_energy_at(const struct dom_state *d, int64_t t)
{
	size_t na = series_len(&d->anchors), np = series_len(&d->power);
	t = clamp_lost(d, t);
	if (na == 0)
		return np ? integral(d, ps(d, 0)->t_ns, t) : NAN;
	const struct anchor *first = an(d, 0), *last = an(d, na - 1);
	if (np < 2) { /* no power shape: linear between counter readings */
		if (na == 1)
			return aj(d, 0);
		long i = find_anchor(d, na, t);
		size_t lo = i < 0 ? 0 : (size_t)i >= na - 1 ? na - 2 : (size_t)i;
		const struct anchor *a = an(d, lo), *b = an(d, lo + 1);
		return aj(d, lo) +
		       (aj(d, lo + 1) - aj(d, lo)) * (double)(t - a->t_ns) / (double)(b->t_ns - a->t_ns);
	}
	if (t <= first->t_ns) {
		double s = na > 1 ? interval_scale(d, 0) : 1;
		if (s < 0.5 || s > 2)
			s = 1;
		return aj(d, 0) - integral(d, t, first->t_ns) * s;
	}
	if (t >= last->t_ns) {
		/* Past a counter that stopped being readable: power as it is, not scaled by a
		 * stretch that says nothing about this one. */
		double s = !d->tail_gap_ns ? tail_scale(d, na) : 1;
		if (s < 0.5 || s > 2)
			s = 1;
		return aj(d, na - 1) + integral(d, last->t_ns, t) * s;
	}
	size_t i = (size_t)find_anchor(d, na, t);
	const struct anchor *a = an(d, i), *b = an(d, i + 1);
	double ja = aj(d, i), jb = aj(d, i + 1);
	double w = integral(d, a->t_ns, b->t_ns);
	if (w <= 1e-9)
		return ja + (jb - ja) * (double)(t - a->t_ns) / (double)(b->t_ns - a->t_ns);
	return ja + (jb - ja) * integral(d, a->t_ns, t) / w;
}

/* Error of placing the edge t inside its anchor interval. The counter gives the interval's
 * energy; instant power splits it. Where instant power misreads one side of the edge (a bursty
 * load aliases it), the split is off by the interval's measured disagreement between counter
 * and integral, in proportion to the larger side; where both sides are read alike, the shape
 * is trusted to 5% (instant power vs counter under steady load, docs/METHOD.md) of the
 * smaller side. Plus the placement of a power step near t within the samples' reach. */
static double edge_uncertainty(const struct dom_state *d, int64_t t)
{
	size_t na = series_len(&d->anchors), np = series_len(&d->power);
	double u = 0;
	if (np >= 2) {
		/* A power step near the edge is placed to within the sample spacing (and, for a
		 * slow sensor, its update period): the largest step within that reach, times half
		 * the reach. */
		long k = find_power(d, np, t);
		size_t lo = k < 0 ? 0 : (size_t)k, hi = lo + 1 < np ? lo + 1 : lo;
		int64_t reach = ps(d, hi)->t_ns - ps(d, lo)->t_ns;
		int64_t per = (int64_t)((d->measured_period_s > 0      ? d->measured_period_s
		                         : d->info.update_period_s > 0 ? d->info.update_period_s
		                                                       : d->prior_period_s) *
		                        1e9);
		if (per > reach)
			reach = per;
		while (lo > 0 && t - ps(d, lo)->t_ns < reach)
			lo--;
		while (hi + 1 < np && ps(d, hi)->t_ns - t < reach)
			hi++;
		double step = 0;
		for (size_t i = lo; i < hi; i++)
			if (fabs(ps(d, i + 1)->watts - ps(d, i)->watts) > step)
				step = fabs(ps(d, i + 1)->watts - ps(d, i)->watts);
		u += (double)reach * NS * step / 2;
	}
	if (na == 0)
		return u;
	long i = find_anchor(d, na, t);
	double e = meter_energy_at(d, t);
	if (i < 0 || (size_t)i + 1 >= na) {
		/* Beyond the counter readings: extrapolated from power alone. */
		size_t xi = i < 0 ? 0 : na - 1;
		const struct anchor *x = an(d, xi);
		return u + 0.05 * fabs(e - aj(d, xi)) +
		       fabs(power_at(d, np ? np : 1, x->t_ns)) * x->t_unc_ns * NS;
	}
	const struct anchor *a = an(d, (size_t)i), *b = an(d, (size_t)i + 1);
	double left = fabs(e - aj(d, (size_t)i)), right = fabs(aj(d, (size_t)i + 1) - e);
	/* Each bracketing reading's timing error moves the edge's energy by up to its power
	 * times that error, weighted by how close the edge is to it. */
	double frac = (double)(t - a->t_ns) / (double)(b->t_ns - a->t_ns);
	double pa, pb;
	if (np) {
		pa = fabs(power_at(d, np, a->t_ns)), pb = fabs(power_at(d, np, b->t_ns));
	} else {
		pa = pb = fabs((aj(d, (size_t)i + 1) - aj(d, (size_t)i)) / ((b->t_ns - a->t_ns) * NS));
	}
	double timing = (1 - frac) * pa * a->t_unc_ns * NS + frac * pb * b->t_unc_ns * NS;
	if (np < 2) /* linear interpolation between counter readings: exact for cheap counters */
		return u + timing;
	double li = integral(d, a->t_ns, t), ri = integral(d, t, b->t_ns), in = li + ri;
	double de = b->joules - a->joules;
	double spread = in > 1e-9 ? fabs(de - in) * (li > ri ? li : ri) / in : 0;
	double split = u + 0.05 * (left < right ? left : right) + spread;
	/* Whatever the shape, neither side can hold more than the highest plausible power times
	 * its length: an edge read right after an update is pinned by that alone. */
	if (d->info.max_power_w > 0) {
		double pmax = 1.5 * d->info.max_power_w;
		double lo = fmax(0, de - pmax * (double)(b->t_ns - t) * NS);
		double hi = fmin(de, pmax * (double)(t - a->t_ns) * NS);
		if (lo <= hi && fmax(fabs(left - lo), fabs(hi - left)) < split)
			split = fmax(fabs(left - lo), fabs(hi - left));
	}
	return split + timing;
}

#define add_warning(r, ...) gops_strv_pushf(&(r)->warnings, &(r)->n_warnings, __VA_ARGS__)

/* ---- counter faults: stretches between readings that are not measurements ----
 * The sampler marks readings after a reset or an implausible rise, and notes when the counter
 * stopped being readable; here a stretch is also judged frozen (no change over several update
 * periods) or low (far below what instant power integrates to). Each such stretch is bridged
 * with integrated power where power was read across it, with a wider uncertainty and a
 * warning; where nothing was read across it, a span that touches it is not measured. */

static double counter_period_s(const struct dom_state *d)
{
	if (d->measured_period_s > 0)
		return d->measured_period_s;
	if (d->info.update_period_s > 0)
		return d->info.update_period_s;
	return d->info.energy_expensive ? 0.1 : 0; /* NVML's documented 100 ms where unmeasured */
}

/* A counter that has not moved over a whole span this long is stuck, not between updates. */
static int64_t stuck_after_ns(const struct dom_state *d)
{
	double p = counter_period_s(d);
	return (int64_t)((p > 0 ? 3 * p : 1.0) * 1e9);
}

/* Part-way through a span, readings that stop moving for this long are a frozen counter. A
 * quarter of a second at least: a busy machine can hold up whoever publishes the value (the
 * test fakes do so) for several update periods without the counter being at fault. */
static int64_t frozen_after_ns(const struct dom_state *d)
{
	int64_t t = stuck_after_ns(d);
	return t > 250000000LL ? t : 250000000LL;
}

/* Whether power samples were read across [a, b] (to within a second at either end). */
static bool power_covers(const struct dom_state *d, int64_t a, int64_t b)
{
	size_t np = series_len(&d->power);
	return np >= 2 && ps(d, 0)->t_ns <= a + 1000000000LL && ps(d, np - 1)->t_ns >= b - 1000000000LL;
}

static const char *fault_text(enum counter_fault f)
{
	switch (f) {
	case FAULT_RESET:
		return "it went backwards (reset)";
	case FAULT_TOO_FAST:
		return "it rose faster than the domain's max power allows (wraps missed)";
	case FAULT_FROZEN:
		return "it did not move (frozen)";
	case FAULT_LOW:
		return "it rose far less than instant power integrates to (frozen or reset)";
	case FAULT_UNREADABLE:
		return "it could not be read";
	default:
		return "";
	}
}

#define AVG_WINDOW_S 1.0 /* NVML's average power: the last second */

/* The hardware-averaged power integrated over [ta, tb] (scaled up from the samples inside it),
 * and how far that average moved inside it: false where it was not read throughout. */
static bool avg_integral(const struct dom_state *d, int64_t ta, int64_t tb, double *j, double *moved)
{
	size_t np = series_len(&d->power);
	long k0 = find_power(d, np, ta), k1 = find_power(d, np, tb);
	size_t i0 = (size_t)(k0 + 1), i1 = k1 < 0 ? 0 : (size_t)k1;
	if (k1 < 0 || i0 >= i1 || i1 >= np)
		return false;
	int64_t t0 = ps(d, i0)->t_ns, t1 = ps(d, i1)->t_ns;
	if ((double)(t1 - t0) < 0.8 * (double)(tb - ta))
		return false;
	double lo = INFINITY, hi = -INFINITY;
	for (size_t i = i0; i <= i1; i++) {
		double w = ps(d, i)->avg_w;
		if (isnan(w))
			return false;
		lo = fmin(lo, w), hi = fmax(hi, w);
	}
	*j = (ps(d, i1)->avg_cum_j - ps(d, i0)->avg_cum_j) * (double)(tb - ta) / (double)(t1 - t0);
	*moved = hi - lo;
	return true;
}

/* A counter that rose far less than instant power integrates to: frozen or reset between two
 * readings, or instant power aliasing a bursty load (an H200 under 30 ms bursts every 100 ms
 * read 60-105% high for seconds on end). Where the hardware's own average was read beside, it
 * decides: it cannot alias, and trails by at most its 1 s window, so the counter is judged low
 * only when it is also 20% below the average less what that lag could move. */
static bool counter_low(const struct dom_state *d, int64_t ta, int64_t tb, double dc, double w)
{
	if (!(dc < 0.8 * w && w - dc > 2))
		return false;
	double wa, moved;
	if (!avg_integral(d, ta, tb, &wa, &moved))
		return true;
	return dc < 0.8 * wa - moved * AVG_WINDOW_S && wa - dc > 2;
}

/* Judges every stretch between counter readings and fills d->fix (released by unfix). */
static void fix_counter(struct dom_state *d)
{
	size_t na = series_len(&d->anchors);
	d->fix = NULL, d->n_fix = 0, d->tail_gap_ns = 0;
	if (na == 0)
		return;
	struct anchor_fix *fx = calloc(na, sizeof *fx);
	if (!fx)
		abort();
	bool have_power = series_len(&d->power) >= 2;
	size_t mk = 0, still_from = 0, still_to = 0; /* readings still_from..still_to hold one value */
	fx[0].joules = an(d, 0)->joules;
	for (size_t i = 1; i < na; i++) {
		const struct anchor *a = an(d, i - 1), *b = an(d, i);
		double dc = b->joules - a->joules, w = have_power ? integral(d, a->t_ns, b->t_ns) : NAN;
		enum counter_fault why = FAULT_NONE;
		if (dc != 0)
			still_from = i;
		if (dc == 0 && still_to < i) { /* how far this value holds: once per run */
			still_to = i;
			while (still_to + 1 < na && an(d, still_to + 1)->joules == b->joules)
				still_to++;
		}
		while (mk < d->n_marks && d->marks[mk].anchor < i)
			mk++;
		if (mk < d->n_marks && d->marks[mk].anchor == i)
			why = d->marks[mk].why;
		else if (d->counter_too_fast || d->too_many_marks)
			why = FAULT_TOO_FAST; /* a missed wrap need not show: no stretch is sure */
		else if (dc == 0 && an(d, still_to)->t_ns - an(d, still_from)->t_ns >= frozen_after_ns(d))
			why = FAULT_FROZEN;
		else if (have_power && b->t_ns - a->t_ns >= 1000000000LL &&
		         counter_low(d, a->t_ns, b->t_ns, dc, w))
			/* Instant power integrated over a second or more has come out above the counter
			 * by at most 7% on the H100 (docs/METHOD.md); 20% and 2 J below is a counter fault.
			 */
			why = FAULT_LOW;
		fx[i].gap_before = why;
		if (why == FAULT_NONE || !have_power) {
			fx[i].joules = fx[i - 1].joules + dc;
			continue;
		}
		/* Instant power against the counter: within 7% on steady and 30 ms-burst loads, up to
		 * 39% low on 10 ms bursts (docs/METHOD.md); 10% of the bridge, and where the counter may
		 * still have been right, the whole disagreement besides. */
		fx[i].joules = fx[i - 1].joules + w;
		fx[i].gap_unc_j = 0.1 * fabs(w) + (why == FAULT_LOW ? fabs(w - dc) : 0);
	}
	d->fix = fx, d->n_fix = na;
	/* After the last reading, a counter that failed, or a device lost before the counter was
	 * read again, leaves a stretch the counter does not cover. */
	if (d->counter_failing_ns || (d->lost_at_ns && d->lost_at_ns > an(d, na - 1)->t_ns))
		d->tail_gap_ns = an(d, na - 1)->t_ns;
}

static void unfix_counter(struct dom_state *d)
{
	free(d->fix);
	d->fix = NULL, d->n_fix = 0, d->tail_gap_ns = 0;
}

static void not_measured(struct gops_domain_result *out)
{
	out->method = GOPS_METHOD_NONE;
	out->energy_j = out->dynamic_energy_j = out->avg_power_w = out->uncertainty_j = NAN;
	out->integrated_energy_j = NAN;
}

/* A run of adjacent stretches with one reason, told in one warning. */
struct fault_run {
	int64_t lo, hi;
	enum counter_fault why;
	bool bridged;
	double j, unc;
};

static void tell_fault(const struct gops_monitor *m, const struct dom_state *d, const struct fault_run *f,
                       struct gops_domain_result *out)
{
	char why[240];
	if (f->why == FAULT_UNREADABLE && !d->counter_fail_text[0])
		snprintf(why, sizeof why, "the device was lost before it was read again");
	else if (f->why == FAULT_UNREADABLE)
		snprintf(why, sizeof why, "it could not be read (%s)", d->counter_fail_text);
	else
		snprintf(why, sizeof why, "%s", fault_text(f->why));
	double a = (double)(f->lo - m->t_start) * NS, b = (double)(f->hi - m->t_start) * NS;
	if (f->bridged)
		add_warning(out,
		            "counter not used from %.3f s to %.3f s after the start: %s; bridged with "
		            "integrated instant power, %.2f J ± %.2f J",
		            a, b, why, f->j, f->unc);
	else
		add_warning(out,
		            "counter not used from %.3f s to %.3f s after the start: %s; nothing else "
		            "measured it there, so the span is not measured",
		            a, b, why);
}

/* Applies the judged stretches that fall inside [t0, t1] to a counter result: bridged ones add
 * their uncertainty and a warning, and make the method counter+integrated (integrated when they
 * cover the whole span); one that nothing was read across makes the span not measured. */
static void apply_faults(const struct gops_monitor *m, const struct dom_state *d, int64_t t0, int64_t t1,
                         struct gops_domain_result *out)
{
	if (!d->fix || out->method != GOPS_METHOD_COUNTER)
		return;
	int64_t end = clamp_lost(d, t1), covered = 0;
	double unc = 0;
	bool unbridged = false, open = false;
	size_t told = 0;
	struct fault_run run = {0};
	for (size_t i = 1; i <= d->n_fix; i++) {
		struct fault_run f = {0};
		int64_t a, b;
		if (i < d->n_fix) {
			if (!d->fix[i].gap_before)
				continue;
			a = an(d, i - 1)->t_ns, b = an(d, i)->t_ns, f.why = d->fix[i].gap_before;
			f.j = d->fix[i].joules - d->fix[i - 1].joules, f.unc = d->fix[i].gap_unc_j;
		} else {
			if (!d->tail_gap_ns)
				continue;
			a = d->tail_gap_ns, b = end > a ? end : a, f.why = FAULT_UNREADABLE;
			f.j = series_len(&d->power) >= 2 ? integral(d, a, b) : NAN;
			f.unc = 0.1 * fabs(f.j);
		}
		f.lo = a > t0 ? a : t0, f.hi = b < end ? b : end;
		if (f.hi <= f.lo)
			continue;
		double share = b > a ? (double)(f.hi - f.lo) / (double)(b - a) : 1;
		f.j *= share, f.unc *= share;
		f.bridged = power_covers(d, f.lo, f.hi);
		covered += f.hi - f.lo;
		unbridged |= !f.bridged;
		unc += f.unc;
		if (open && run.hi == f.lo && run.why == f.why && run.bridged == f.bridged) {
			run.hi = f.hi, run.j += f.j, run.unc += f.unc;
			continue;
		}
		if (open && told++ < 4)
			tell_fault(m, d, &run, out);
		run = f, open = true;
	}
	if (open && told++ < 4)
		tell_fault(m, d, &run, out);
	if (told > 4)
		add_warning(out, "%zu more stretches where the counter was not used", told - 4);
	if (!covered)
		return;
	if (unbridged) {
		not_measured(out);
		out->peak_power_w = NAN;
		return;
	}
	out->uncertainty_j += unc;
	out->method = covered >= end - t0 ? GOPS_METHOD_INTEGRATED : GOPS_METHOD_BRIDGED;
}

static double peak_power(const struct dom_state *d, int64_t t0, int64_t t1)
{
	size_t np = series_len(&d->power), na = series_len(&d->anchors);
	double peak = NAN;
	if (np) {
		long k = find_power(d, np, t0);
		for (size_t i = k < 0 ? 0 : (size_t)k; i < np && ps(d, i)->t_ns <= t1; i++)
			if (ps(d, i)->t_ns >= t0 || i == (size_t)k)
				if (isnan(peak) || ps(d, i)->watts > peak)
					peak = ps(d, i)->watts;
		/* Instant power may read low against the counter: the mean between two counter
		 * readings inside the span was drawn too, so the peak is at least that. */
		long first = na ? find_anchor(d, na, t0) : -1;
		for (size_t i = first < 0 ? 0 : (size_t)first; i + 1 < na && an(d, i)->t_ns <= t1; i++) {
			const struct anchor *a = an(d, i), *b = an(d, i + 1);
			if (a->t_ns < t0 || b->t_ns > t1 || b->t_ns == a->t_ns)
				continue;
			double w = (b->joules - a->joules) / ((b->t_ns - a->t_ns) * NS);
			if (isnan(peak) || w > peak)
				peak = w;
		}
		return peak;
	}
	/* Counter only: the highest mean power between consecutive readings. */
	for (size_t i = 0; i + 1 < na; i++) {
		const struct anchor *a = an(d, i), *b = an(d, i + 1);
		if (b->t_ns < t0 || a->t_ns > t1 || b->t_ns == a->t_ns)
			continue;
		double w = (b->joules - a->joules) / ((b->t_ns - a->t_ns) * NS);
		if (isnan(peak) || w > peak)
			peak = w;
	}
	return peak;
}

/* Where instant power and the counter disagree by more than a few percent over a stretch of a
 * second or more inside [t0, t1], say so: the load is bursty (instant power aliases it), the
 * energy follows the counter, and windows there need counter readings at their edges. */
static void warn_disagreement(const struct gops_monitor *m, const struct dom_state *d, int64_t t0, int64_t t1,
                              struct gops_domain_result *out)
{
	size_t na = series_len(&d->anchors);
	long i = find_anchor(d, na, t0);
	size_t a = i < 0 ? 0 : (size_t)i;
	double worst = 0;
	int64_t w0 = 0, w1 = 0;
	for (size_t b = a + 1; b < na && an(d, a)->t_ns < t1; b++) {
		if (an(d, b)->t_ns - an(d, a)->t_ns < 1000000000LL && b + 1 < na)
			continue;
		double in = integral(d, an(d, a)->t_ns, an(d, b)->t_ns),
		       de = an(d, b)->joules - an(d, a)->joules;
		if (in > 0 && de > 0 && an(d, b)->t_ns - an(d, a)->t_ns >= 1000000000LL &&
		    fabs((de - in) / in) > fabs(worst)) {
			worst = (de - in) / in;
			w0 = an(d, a)->t_ns, w1 = an(d, b)->t_ns;
		}
		a = b;
	}
	if (fabs(worst) > 0.05)
		add_warning(out,
		            "%s: instant power and the energy counter disagree by %+.1f%% between %.1f s and "
		            "%.1f s (a bursty load makes instant power alias): energy follows the counter",
		            d->info.name, 100 * worst, (double)(w0 - m->t_start) * NS,
		            (double)(w1 - m->t_start) * NS);
}

void meter_domain(const struct gops_monitor *m, size_t di, int64_t t0, int64_t t1,
                  struct gops_domain_result *out)
{
	const struct dom_state *d = &m->dom[di];
	memset(out, 0, sizeof *out);
	gops_strlcpy(out->name, d->info.name, sizeof out->name);
	gops_strlcpy(out->source, m->ops[d->info.source]->name, sizeof out->source);
	gops_strlcpy(out->kind, gops_kind_name(d->info.kind), sizeof out->kind);
	gops_strlcpy(out->label, d->info.label, sizeof out->label);
	out->update_period_s = d->measured_period_s > 0 ? d->measured_period_s : d->info.update_period_s;
	if (out->update_period_s <= 0)
		out->update_period_s = d->prior_period_s;
	out->idle_power_w = m->idle_w ? m->idle_w[di] : NAN;
	out->dynamic_energy_j = out->energy_j = out->avg_power_w = out->peak_power_w = NAN;
	out->integrated_energy_j = out->uncertainty_j = NAN;

	size_t na = series_len(&d->anchors), np = series_len(&d->power);
	double dt = (double)(t1 - t0) * NS;
	/* A lost device's span ends where it was lost: its average power is over what was
	 * measured, and a span that begins after the loss has nothing measured. */
	double dt_measured = (double)(clamp_lost(d, t1) - t0) * NS;
	if (d->lost_at_ns && d->lost_at_ns <= t0)
		na = np = 0;
	if (na >= 2)
		out->method = GOPS_METHOD_COUNTER;
	else if (np >= 1)
		out->method = d->info.estimated ? GOPS_METHOD_ESTIMATED : GOPS_METHOD_INTEGRATED;
	else
		out->method = GOPS_METHOD_NONE;

	if (out->method != GOPS_METHOD_NONE) {
		out->energy_j = meter_energy_at(d, t1) - meter_energy_at(d, t0);
		out->avg_power_w = dt_measured > 0 ? out->energy_j / dt_measured : NAN;
		out->peak_power_w = peak_power(d, t0, t1);
		/* The peak is at least the mean: samples (instant power, or counter steps coarser
		 * than a short window) can miss the highest power, never exceed what the energy
		 * says was drawn on average. */
		if (!isnan(out->avg_power_w) &&
		    (isnan(out->peak_power_w) || out->peak_power_w < out->avg_power_w))
			out->peak_power_w = out->avg_power_w;
		if (np >= 2)
			out->integrated_energy_j = integral(d, t0, clamp_lost(d, t1));
		if (out->method == GOPS_METHOD_ESTIMATED)
			out->uncertainty_j = 0.3 * fabs(out->energy_j);
		else if (out->method == GOPS_METHOD_COUNTER) {
			out->uncertainty_j = edge_uncertainty(d, t0) + edge_uncertainty(d, clamp_lost(d, t1));
			apply_faults(m, d, t0, t1, out);
		} else {
			/* Trapezoid against step: half the total variation times the spacing. */
			double u = 0;
			long k = find_power(d, np, t0);
			for (size_t i = k < 0 ? 0 : (size_t)k; i + 1 < np && ps(d, i)->t_ns < t1; i++)
				u += (double)(ps(d, i + 1)->t_ns - ps(d, i)->t_ns) * NS *
				     fabs(ps(d, i + 1)->watts - ps(d, i)->watts) / 2;
			out->uncertainty_j = u + edge_uncertainty(d, t0) + edge_uncertainty(d, t1);
		}
		if (!isnan(out->idle_power_w) && out->method != GOPS_METHOD_NONE)
			out->dynamic_energy_j = out->energy_j - out->idle_power_w * dt_measured;
	}
	if (d->lost_at_ns && d->lost_at_ns < t1 && m->t_start)
		add_warning(out, "measured only up to %.3f s after the start, when the device was lost",
		            (double)(d->lost_at_ns - m->t_start) * NS);

	for (size_t i = 0; i < d->info.n_notes; i++)
		add_warning(out, "%s", d->info.notes[i]);
	out->n_sensor_notes = out->n_warnings;
	if (out->method == GOPS_METHOD_COUNTER && np >= 2)
		warn_disagreement(m, d, t0, t1, out);
	if (d->read_errors)
		add_warning(out, "%u failed reads (%s)", d->read_errors, d->last_error);
	double per = out->update_period_s;
	if (out->method == GOPS_METHOD_COUNTER && per > 0 && dt < 10 * per)
		add_warning(out,
		            "span of %.3f s is shorter than ten counter updates (%.0f ms each): "
		            "edge uncertainty dominates",
		            dt, per * 1e3);
	if (out->method == GOPS_METHOD_NONE)
		add_warning(out, "nothing was measured for this domain");
}

/* A counter that never moved over a whole span of several update periods is not a
 * measurement (the GPU machine's perf energy-psys reads 0 forever), however short the span. */
static void check_stuck(const struct dom_state *d, struct gops_domain_result *r, int64_t t0, int64_t t1)
{
	if (r->method == GOPS_METHOD_COUNTER && t1 - t0 >= stuck_after_ns(d) && r->energy_j == 0) {
		not_measured(r);
		add_warning(r, "the energy counter did not move over %.3f s: treated as unavailable",
		            (double)(t1 - t0) * NS);
	}
}

/* A slow counter's window edge should sit inside one update period between two readings;
 * returns the first edge that does not (-1 none). */
static int64_t unread_edge(const struct dom_state *d, int64_t t0, int64_t t1)
{
	double per = d->measured_period_s > 0 ? d->measured_period_s : d->prior_period_s;
	size_t na = series_len(&d->anchors);
	if (!d->info.energy_expensive || per <= 0 || na < 2)
		return -1;
	int64_t edges[2] = {t0, t1};
	for (int i = 0; i < 2; i++) {
		long k = find_anchor(d, na, edges[i]);
		if (k < 0 || (size_t)k + 1 >= na ||
		    an(d, (size_t)k + 1)->t_ns - an(d, (size_t)k)->t_ns > (int64_t)(1.5 * per * 1e9))
			return edges[i];
	}
	return -1;
}

static bool measured(const struct gops_domain_result *r)
{
	return r->method != GOPS_METHOD_NONE && !isnan(r->energy_j);
}

/* Overlap rules: a domain is summed unless a domain containing it (its parent, or the
 * parent's parent...) was measured too: psys contains the packages, a package its cores. */
static void mark_summed(const struct gops_monitor *m, struct gops_domain_result *v, size_t n)
{
	bool rapl_measured = false;
	for (size_t i = 0; i < n; i++)
		if (measured(&v[i]) && !m->dom[i].info.estimated &&
		    (m->dom[i].info.kind == GOPS_KIND_PACKAGE || m->dom[i].info.kind == GOPS_KIND_PSYS ||
		     m->dom[i].info.kind == GOPS_KIND_DRAM))
			rapl_measured = true;
	for (size_t i = 0; i < n; i++) {
		v[i].summed = measured(&v[i]);
		/* A board sensor's relation to the rest is unknown (it may contain everything):
		 * shown, never summed. An estimate never stands beside a real CPU sensor. */
		if (m->dom[i].info.kind == GOPS_KIND_OTHER || (m->dom[i].info.estimated && rapl_measured))
			v[i].summed = false;
		const char *parent = m->dom[i].info.parent;
		for (int depth = 0; v[i].summed && parent[0] && depth < 8; depth++) {
			size_t k;
			for (k = 0; k < n && strcmp(v[k].name, parent) != 0; k++)
				;
			if (k == n)
				break;
			if (measured(&v[k]))
				v[i].summed = false;
			parent = m->dom[k].info.parent;
		}
	}
}

static void release_domains(struct gops_domain_result *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < v[i].n_warnings; k++)
			free(v[i].warnings[k]);
		free(v[i].warnings);
	}
	free(v);
}

static void sum_into(const struct gops_domain_result *v, size_t n, double *e, double *dyn, double *unc)
{
	*e = NAN, *dyn = NAN, *unc = NAN;
	bool any = false, all_dyn = true;
	double se = 0, sd = 0, su = 0;
	for (size_t i = 0; i < n; i++) {
		if (!v[i].summed)
			continue;
		any = true;
		se += v[i].energy_j;
		su += isnan(v[i].uncertainty_j) ? 0 : v[i].uncertainty_j;
		if (isnan(v[i].dynamic_energy_j))
			all_dyn = false;
		else
			sd += v[i].dynamic_energy_j;
	}
	if (any) {
		*e = se, *unc = su;
		if (all_dyn)
			*dyn = sd;
	}
}

void meter_window_release(struct gops_window_result *w)
{
	free(w->name);
	release_domains(w->domains, w->n_domains);
	for (size_t k = 0; k < w->n_warnings; k++)
		free(w->warnings[k]);
	free(w->warnings);
	memset(w, 0, sizeof *w);
}

static char **copy_strv(char *const *v, size_t n)
{
	char **c = calloc(n ? n : 1, sizeof *c);
	if (!c)
		abort();
	for (size_t i = 0; i < n; i++)
		c[i] = gops_xstrdup(v[i]);
	return c;
}

void meter_window_copy(const struct gops_window_result *src, struct gops_window_result *dst)
{
	*dst = *src;
	dst->name = gops_xstrdup(src->name);
	dst->warnings = copy_strv(src->warnings, src->n_warnings);
	dst->domains = calloc(src->n_domains ? src->n_domains : 1, sizeof *dst->domains);
	if (!dst->domains)
		abort();
	for (size_t i = 0; i < src->n_domains; i++) {
		dst->domains[i] = src->domains[i];
		dst->domains[i].warnings = copy_strv(src->domains[i].warnings, src->domains[i].n_warnings);
	}
}

/* --- estimated shares of shared GPUs (attrib.h) --- */

static double energy_at_cb(const void *ctx, int64_t t)
{
	return meter_energy_at(ctx, t);
}

static const char *pid_name(const struct dom_state *d, uint32_t pid)
{
	for (size_t i = 0; i < d->n_pids; i++)
		if (d->pids[i].pid == pid)
			return d->pids[i].name;
	return "";
}

/* Fills a for domain di when other processes shared it or the command ran on a MIG instance;
 * false otherwise. */
static bool attribute(const struct gops_monitor *m, size_t di, const struct gops_domain_result *dr,
                      struct gops_attribution *a)
{
	const struct dom_state *d = &m->dom[di];
	const struct gops_source_ops *ops = m->ops[d->info.source];
	const struct gops_mig_instance *mig = NULL;
	size_t n_mig = 0;
	if (ops->mig_instances)
		ops->mig_instances(m->src[d->info.source], d->info.index, &mig, &n_mig);
	if (n_mig > SHARE_INSTANCES)
		n_mig = SHARE_INSTANCES;
	bool named = false;
	for (size_t k = 0; k < n_mig; k++)
		named |= mig[k].named;
	size_t n_ticks = series_len(&d->share);
	if (n_ticks == 0 || dr->method == GOPS_METHOD_NONE || isnan(dr->energy_j) ||
	    !(d->shared || (n_mig && (named || d->command_on_mig))))
		return false;
	struct share_tick *ticks = malloc(n_ticks * sizeof *ticks);
	if (!ticks)
		return false;
	for (size_t i = 0; i < n_ticks; i++)
		ticks[i] = *(const struct share_tick *)series_at(&d->share, i);
	double idle_w = m->idle_w ? m->idle_w[di] : NAN;
	struct share_result sr;
	share_split(ticks, n_ticks, m->t_start, m->t_end, idle_w, energy_at_cb, d, dr->energy_j, &sr);
	free(ticks);

	memset(a, 0, sizeof *a);
	gops_strlcpy(a->domain, d->info.name, sizeof a->domain);
	a->basis = n_mig ? "mig_slices" : "sm_util";
	a->energy_j = sr.total_j;
	a->command_j = sr.command_j;
	a->others_j = sr.others_j;
	a->unattributed_j = sr.unattributed_j;
	a->idle_power_w = idle_w;
	a->missing_s = sr.missing_s;
	for (size_t i = 0; i < d->n_pids; i++)
		a->n_other_processes += !d->pids[i].command;
	a->processes = calloc(sr.n ? sr.n : 1, sizeof *a->processes);
	if (!a->processes)
		abort();
	for (size_t i = 0; i < sr.n; i++) {
		struct gops_process_share *p = &a->processes[a->n_processes++];
		p->pid = sr.per[i].pid;
		gops_strlcpy(p->name, p->pid ? pid_name(d, p->pid) : "", sizeof p->name);
		p->command = sr.per[i].command;
		p->instance = sr.per[i].instance;
		p->energy_j = sr.per[i].energy_j;
	}
	a->instances = calloc(n_mig ? n_mig : 1, sizeof *a->instances);
	if (!a->instances)
		abort();
	for (size_t k = 0; k < n_mig; k++) {
		struct gops_instance_share *in = &a->instances[a->n_instances++];
		gops_strlcpy(in->uuid, mig[k].uuid, sizeof in->uuid);
		in->slices = mig[k].slices;
		in->command = mig[k].named;
		for (size_t i = 0; i < sr.n; i++)
			in->command |= sr.per[i].command && sr.per[i].instance == (int)k;
		in->energy_j = sr.instance_j[k];
	}
	return true;
}

static void attribute_all(struct gops_monitor *m, struct gops_result *r)
{
	r->attributions = calloc(m->n_dom ? m->n_dom : 1, sizeof *r->attributions);
	if (!r->attributions)
		abort();
	for (size_t i = 0; i < m->n_dom; i++)
		if (attribute(m, i, &r->domains[i], &r->attributions[r->n_attributions]))
			r->n_attributions++;
}

void meter_result_release(struct gops_result *r)
{
	for (size_t i = 0; i < r->n_attributions; i++) {
		free(r->attributions[i].processes);
		free(r->attributions[i].instances);
	}
	free(r->attributions);
	release_domains(r->domains, r->n_domains);
	for (size_t i = 0; i < r->n_windows; i++)
		meter_window_release(&r->windows[i]);
	free(r->windows);
	for (size_t i = 0; i < r->n_tags; i++) {
		free(r->tags[i].key);
		free(r->tags[i].value);
	}
	free(r->tags);
	for (size_t i = 0; i < r->n_warnings; i++)
		free(r->warnings[i]);
	free(r->warnings);
	memset(r, 0, sizeof *r);
}

static struct gops_domain_result *span_domains(const struct gops_monitor *m, int64_t t0, int64_t t1,
                                               bool whole_span)
{
	struct gops_domain_result *v = calloc(m->n_dom ? m->n_dom : 1, sizeof *v);
	if (!v)
		abort();
	for (size_t i = 0; i < m->n_dom; i++) {
		meter_domain(m, i, t0, t1, &v[i]);
		if (whole_span)
			check_stuck(&m->dom[i], &v[i], t0, t1);
	}
	mark_summed(m, v, m->n_dom);
	return v;
}

/* Window w's figures inside the span [t0, t1], whose own domain results are `run`: a domain
 * not summed in the span is not summed in the window, and one not measured is not measured. */
static void window_figures(const struct gops_monitor *m, const struct window *w,
                           const struct gops_domain_result *run, int64_t t0, int64_t t1,
                           struct gops_window_result *o)
{
	int64_t b = w->begin_ns, e = w->end_ns ? w->end_ns : t1;
	o->name = gops_xstrdup(w->name);
	o->open = w->end_ns == 0;
	if (b < t0)
		b = t0;
	if (e > t1)
		e = t1;
	if (e < b)
		e = b;
	o->start_s = (double)(b - t0) * NS;
	o->end_s = (double)(e - t0) * NS;
	o->units = w->units;
	o->n_domains = m->n_dom;
	o->domains = span_domains(m, b, e, false);
	for (size_t k = 0; k < m->n_dom; k++) {
		if (!run[k].summed)
			o->domains[k].summed = false;
		if (run[k].method == GOPS_METHOD_NONE) {
			o->domains[k].method = GOPS_METHOD_NONE;
			o->domains[k].energy_j = o->domains[k].dynamic_energy_j = NAN;
			o->domains[k].avg_power_w = o->domains[k].uncertainty_j = NAN;
		}
	}
	sum_into(o->domains, o->n_domains, &o->energy_j, &o->dynamic_energy_j, &o->uncertainty_j);
	if (m->opts.idle == GOPS_IDLE_WATTS && !isnan(o->energy_j))
		o->dynamic_energy_j = o->energy_j - m->opts.idle_watts * (o->end_s - o->start_s);
	o->energy_per_unit_j = !isnan(o->units) && o->units > 0 ? o->energy_j / o->units : NAN;
	char **warn = NULL;
	size_t nw = 0;
	if (o->open) {
		gops_strv_pushf(&warn, &nw, "window '%s' was never ended: closed at the end of the run",
		                o->name);
	}
	if (w->spread) {
		if (w->spread_gap_ns > 0)
			gops_strv_pushf(
			    &warn, &nw,
			    "no counter readings at the edges of '%s': windows of that name begin "
			    "every %.3f s, faster than the budget for counter reads (%.0f%% of a "
			    "core) allows; energy is spread by instant power between readings and "
			    "the uncertainty includes their measured disagreement",
			    o->name, (double)w->spread_gap_ns * NS, 100 * m->edge_share);
		else
			gops_strv_pushf(
			    &warn, &nw,
			    "no counter readings at the edges of '%s': the budget for counter reads "
			    "(%.0f%% of a core) was spent; energy is spread by instant power between "
			    "readings and the uncertainty includes their measured disagreement",
			    o->name, 100 * m->edge_share);
	}
	for (size_t k = 0; !w->spread && k < m->n_dom; k++) {
		int64_t late = unread_edge(&m->dom[k], b, e);
		if (late >= 0 && o->domains[k].method == GOPS_METHOD_COUNTER) {
			gops_strv_pushf(&warn, &nw,
			                "the counter readings around the edge at %.3f s came late (a busy "
			                "machine?): %s's energy there is spread by instant power, and the "
			                "uncertainty says how far",
			                (double)(late - t0) * NS, m->dom[k].info.name);
			break;
		}
	}
	if (w->begin_ns < t0 || (w->end_ns && w->end_ns > t1)) {
		gops_strv_pushf(&warn, &nw, "window '%s' reaches outside the measured span: clipped",
		                o->name);
	}
	for (size_t k = 0; k < m->n_dom; k++) {
		double per = o->domains[k].update_period_s;
		if (o->domains[k].summed && o->domains[k].method == GOPS_METHOD_COUNTER && per > 0 &&
		    o->end_s - o->start_s < 10 * per) {
			gops_strv_pushf(&warn, &nw, "shorter than ten counter updates of %s (%.0f ms each)",
			                o->domains[k].name, per * 1e3);
			break;
		}
	}
	o->warnings = warn;
	o->n_warnings = nw;
}

int meter_compute(struct gops_monitor *m)
{
	struct gops_result *r = &m->result;
	if (m->have_result)
		meter_result_release(r);
	memset(r, 0, sizeof *r);
	int64_t t0 = m->t_start, t1 = m->t_end;
	for (size_t i = 0; i < m->n_dom; i++)
		fix_counter(&m->dom[i]);
	r->duration_s = (double)(t1 - t0) * NS;
	r->start_realtime_ns = m->start_realtime_ns;
	r->start_ns = t0;
	r->end_ns = t1;
	r->idle_source = m->idle_source ? m->idle_source : "none";
	r->n_domains = m->n_dom;
	r->domains = span_domains(m, t0, t1, true);
	/* A domain whose counter never moved is out of every window too. */
	sum_into(r->domains, r->n_domains, &r->energy_j, &r->dynamic_energy_j, &r->uncertainty_j);
	if (m->opts.idle == GOPS_IDLE_WATTS && !isnan(r->energy_j))
		r->dynamic_energy_j = r->energy_j - m->opts.idle_watts * r->duration_s;
	r->units = m->run_units;
	r->energy_per_unit_j = !isnan(r->units) && r->units > 0 ? r->energy_j / r->units : NAN;

	r->n_windows = m->n_win;
	r->windows = calloc(m->n_win ? m->n_win : 1, sizeof *r->windows);
	if (!r->windows)
		abort();
	for (size_t i = 0; i < m->n_win; i++)
		window_figures(m, &m->win[i], r->domains, t0, t1, &r->windows[i]);

	r->n_tags = m->n_tags;
	r->tags = calloc(m->n_tags ? m->n_tags : 1, sizeof *r->tags);
	for (size_t i = 0; i < m->n_tags; i++) {
		r->tags[i].key = gops_xstrdup(m->tags[i].key);
		r->tags[i].value = gops_xstrdup(m->tags[i].value);
	}
	r->malformed_control_lines = m->malformed;
	r->warnings = calloc(m->notes.n + 2, sizeof *r->warnings);
	for (size_t i = 0; i < m->notes.n; i++)
		r->warnings[r->n_warnings++] = gops_xstrdup(m->notes.v[i]);
	if (m->smp.overruns)
		r->warnings[r->n_warnings++] =
		    gops_xasprintf("the sampler missed %llu deadlines (machine overloaded?)",
		                   (unsigned long long)m->smp.overruns);
	attribute_all(m, r);
	for (size_t i = 0; i < m->n_dom; i++)
		unfix_counter(&m->dom[i]);
	m->have_result = true;
	return 0;
}

void meter_window_now(const struct gops_monitor *m, const struct window *w, struct gops_window_result *o,
                      bool *final, bool *wait)
{
	/* A view of the monitor with copies of the domains' records: what the meter reads, and
	 * series that stop at the samples published now. The sampler goes on appending to the
	 * originals (an append-only series is readable up to its published length), and the
	 * judged counter stretches belong to the copies. */
	struct gops_monitor *v = calloc(1, sizeof *v);
	struct dom_state *dom = calloc(m->n_dom ? m->n_dom : 1, sizeof *dom);
	if (!v || !dom)
		abort();
	for (size_t i = 0; i < m->n_dom; i++) {
		memcpy(&dom[i], &m->dom[i], sizeof *dom);
		atomic_store(&dom[i].anchors.n, series_len(&m->dom[i].anchors));
		atomic_store(&dom[i].power.n, series_len(&m->dom[i].power));
	}
	int64_t t0 = m->t_start, t1 = gops_now_ns();
	v->opts = m->opts;
	memcpy(v->ops, m->ops, sizeof v->ops);
	v->n_src = m->n_src;
	v->dom = dom;
	v->n_dom = m->n_dom;
	v->idle_w = m->idle_w;
	v->t_start = t0;
	v->edge_share = m->edge_share;

	/* Final once every domain still read has a reading past the window's end: with a counter,
	 * the reading after the end (and instant power past it, which splits that update's
	 * energy); else a power sample after the end. A slow counter whose window edges had no
	 * readings of their own (spread by instant power) is read next at its anchor period,
	 * possibly many seconds on: not final, and nothing to wait for. */
	int64_t e = w->end_ns > t0 ? w->end_ns : t0;
	*final = true, *wait = false;
	for (size_t i = 0; i < v->n_dom; i++) {
		const struct dom_state *d = &dom[i];
		if ((d->lost_at_ns && d->lost_at_ns <= e) || (!d->energy_ok && !d->power_ok))
			continue;
		int64_t need = e;
		if (d->energy_ok && !d->counter_failing_ns) {
			size_t na = series_len(&d->anchors);
			if (!na || an(d, na - 1)->t_ns < e) {
				*final = false;
				if (!d->info.energy_expensive || !w->spread)
					*wait = true;
				continue;
			}
			long k = find_anchor(d, na, e);
			size_t after = k >= 0 && an(d, (size_t)k)->t_ns == e ? (size_t)k : (size_t)(k + 1);
			need = an(d, after)->t_ns;
		}
		size_t np = series_len(&d->power);
		if (d->power_ok && (!np || ps(d, np - 1)->t_ns < need)) {
			*final = false;
			*wait = true;
		}
	}
	if (o) {
		for (size_t i = 0; i < v->n_dom; i++)
			fix_counter(&dom[i]);
		struct gops_domain_result *run = span_domains(v, t0, t1, true);
		window_figures(v, w, run, t0, t1, o);
		release_domains(run, v->n_dom);
		for (size_t i = 0; i < v->n_dom; i++)
			unfix_counter(&dom[i]);
	}
	free(dom);
	free(v);
}
