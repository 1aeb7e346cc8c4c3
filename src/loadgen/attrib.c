/* The attribution model of serve-bench (docs/SERVE_BENCH.md, "Energy of each request"):
 * the window is cut into short slices; each slice's energy (the run's measured energy shared
 * by the power timeline) goes to the requests that worked in it, in proportion to their work
 * there; a slice where nobody worked is unattributed. Shares are exact by construction: per
 * slice they add up to the slice, and the slices to the run. */
#include "loadgen/attrib.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MIN_SLICE_NS 1000000LL /* 1 ms: far below a token gap of a real server */
#define MAX_SLICES   4000000

struct grid {
	int64_t t0, h;
	size_t n;
	double *energy, *dynamic, *work;
};

/* Integral over [a, b] of the piecewise-linear power of one domain (held flat before its
 * first sample and after its last). */
static double series_integral(const struct lg_power_series *p, int64_t a, int64_t b, size_t *hint)
{
	if (p->n == 0 || b <= a)
		return 0;
	if (p->n == 1)
		return p->watts[0] * (double)(b - a) / 1e9;
	double sum = 0;
	int64_t t = a;
	size_t i = *hint;
	while (i + 1 < p->n && p->t_ns[i + 1] <= t)
		i++;
	*hint = i;
	if (t < p->t_ns[0]) { /* before the first sample */
		int64_t e = b < p->t_ns[0] ? b : p->t_ns[0];
		sum += p->watts[0] * (double)(e - t) / 1e9;
		t = e;
	}
	while (t < b && i + 1 < p->n) {
		int64_t x0 = p->t_ns[i], x1 = p->t_ns[i + 1];
		int64_t e = b < x1 ? b : x1;
		if (x1 > x0 && e > t) {
			double w0 = p->watts[i] +
			            (p->watts[i + 1] - p->watts[i]) * (double)(t - x0) / (double)(x1 - x0);
			double w1 = p->watts[i] +
			            (p->watts[i + 1] - p->watts[i]) * (double)(e - x0) / (double)(x1 - x0);
			sum += (w0 + w1) / 2 * (double)(e - t) / 1e9;
		}
		t = e > t ? e : t;
		if (t >= x1)
			i++;
	}
	if (t < b) /* after the last sample */
		sum += p->watts[p->n - 1] * (double)(b - t) / 1e9;
	return sum;
}

/* Each slice's share of the run's energy, and of its dynamic energy with the idle part spread
 * evenly over time. */
static bool share_energy(struct grid *g, const struct lg_attrib_spec *s)
{
	double total = 0;
	size_t *hint = calloc(s->n_power + 1, sizeof *hint);
	if (!hint)
		return false;
	for (size_t k = 0; k < g->n; k++) {
		int64_t a = g->t0 + (int64_t)k * g->h, b = k + 1 == g->n ? s->t1 : a + g->h;
		double e = 0;
		for (size_t d = 0; d < s->n_power; d++)
			e += series_integral(&s->power[d], a, b, &hint[d]);
		g->energy[k] = e;
		total += e;
	}
	free(hint);
	bool shaped = total > 0 && isfinite(total);
	double span = (double)(s->t1 - s->t0);
	double idle = isnan(s->dynamic_energy_j) ? NAN : s->energy_j - s->dynamic_energy_j;
	for (size_t k = 0; k < g->n; k++) {
		int64_t a = g->t0 + (int64_t)k * g->h, b = k + 1 == g->n ? s->t1 : a + g->h;
		double frac = (double)(b - a) / span;
		g->energy[k] = shaped ? s->energy_j * g->energy[k] / total : s->energy_j * frac;
		g->dynamic[k] = isnan(idle) ? NAN : g->energy[k] - idle * frac;
	}
	return shaped;
}

/* The work of one request, as intervals of constant density, handed to fn. */
typedef void (*work_fn)(struct grid *g, void *ctx, int64_t a, int64_t b, double w, bool prefill);

static void each_interval(struct grid *g, const struct lg_run *run, const struct lg_record *r, double pw,
                          int64_t step, work_fn fn, void *ctx)
{
	if (!r->t_start)
		return;
	int64_t sent = r->t_sent ? r->t_sent : r->t_start;
	double prompt = r->prompt_tokens >= 0 ? r->prompt_tokens : 1;
	if (!r->t_first) { /* failed before its first token: whatever it did was prefill */
		if (r->t_end > sent)
			fn(g, ctx, sent, r->t_end, prompt * pw, true);
		return;
	}
	/* A prefill runs in the server step that produces the first token: about one step (the
	 * median gap between events) before it, never before the request was sent. */
	int64_t pa = r->t_first - step > sent ? r->t_first - step : sent;
	fn(g, ctx, pa, r->t_first, prompt * pw, true); /* its first token comes with it */
	/* The other tokens are decoded at an even pace from the first to the last: a server
	 * steps every sequence of its batch once per step, and events that reached the client
	 * together (a late read) were still computed one step apart. */
	double first_tokens = r->chunks > 0 ? (double)r->output_tokens / r->chunks : 0;
	int64_t t = r->t_first;
	for (uint32_t k = 0; k < r->itl_n; k++)
		t += (int64_t)run->itl_us[r->itl_off + k] * 1000;
	if (r->itl_n && r->output_tokens > first_tokens)
		fn(g, ctx, r->t_first, t, r->output_tokens - first_tokens, false);
}

static void add_work(struct grid *g, void *ctx, int64_t a, int64_t b, double w, bool prefill)
{
	(void)ctx, (void)prefill;
	int64_t end = g->t0 + (int64_t)g->n * g->h;
	if (w <= 0 || b < g->t0 || a >= end)
		return;
	if (b <= a) { /* an instant: all of it in its slice */
		g->work[(size_t)((a - g->t0) / g->h)] += w;
		return;
	}
	double rho = w / (double)(b - a);
	int64_t lo = a > g->t0 ? a : g->t0, hi = b < end ? b : end;
	for (size_t k = (size_t)((lo - g->t0) / g->h); k < g->n; k++) {
		int64_t sa = g->t0 + (int64_t)k * g->h, sb = sa + g->h;
		if (sa >= hi)
			break;
		int64_t x = (lo > sa ? lo : sa), y = (hi < sb ? hi : sb);
		if (y > x)
			g->work[k] += rho * (double)(y - x);
	}
}

struct take {
	double prefill, decode, dynamic;
};

static void take_share(struct grid *g, void *ctx, int64_t a, int64_t b, double w, bool prefill)
{
	struct take *t = ctx;
	int64_t end = g->t0 + (int64_t)g->n * g->h;
	if (w <= 0 || b < g->t0 || a >= end)
		return;
	if (b <= a) {
		size_t k = (size_t)((a - g->t0) / g->h);
		double e = g->energy[k] * w / g->work[k];
		*(prefill ? &t->prefill : &t->decode) += e;
		t->dynamic += g->dynamic[k] * w / g->work[k];
		return;
	}
	double rho = w / (double)(b - a);
	int64_t lo = a > g->t0 ? a : g->t0, hi = b < end ? b : end;
	for (size_t k = (size_t)((lo - g->t0) / g->h); k < g->n; k++) {
		int64_t sa = g->t0 + (int64_t)k * g->h, sb = sa + g->h;
		if (sa >= hi)
			break;
		int64_t x = (lo > sa ? lo : sa), y = (hi < sb ? hi : sb);
		if (y <= x)
			continue;
		double share = rho * (double)(y - x) / g->work[k];
		*(prefill ? &t->prefill : &t->decode) += g->energy[k] * share;
		t->dynamic += g->dynamic[k] * share;
	}
}

static int64_t median_gap_ns(const struct lg_summary *sum)
{
	double ms = sum ? sum->itl.median : NAN;
	return isnan(ms) || ms <= 0 ? 0 : (int64_t)(ms * 1e6);
}

int lg_attribute(const struct lg_run *run, const struct lg_summary *sum, const struct lg_attrib_spec *s,
                 struct lg_attribution *a)
{
	memset(a, 0, sizeof *a);
	if (!(s->t1 > s->t0) || isnan(s->energy_j) || run->n == 0)
		return -EINVAL;
	struct grid g = {.t0 = s->t0};
	int64_t span = s->t1 - s->t0;
	g.h = span / MAX_SLICES > MIN_SLICE_NS ? span / MAX_SLICES + 1 : MIN_SLICE_NS;
	g.n = (size_t)((span + g.h - 1) / g.h);
	g.energy = calloc(g.n, sizeof *g.energy);
	g.dynamic = calloc(g.n, sizeof *g.dynamic);
	g.work = calloc(g.n, sizeof *g.work);
	a->energy_j = malloc(run->n * sizeof *a->energy_j);
	a->prefill_j = malloc(run->n * sizeof *a->prefill_j);
	a->decode_j = malloc(run->n * sizeof *a->decode_j);
	a->dynamic_j = malloc(run->n * sizeof *a->dynamic_j);
	double *v = malloc((run->n + 1) * sizeof *v), *dv = malloc((run->n + 1) * sizeof *dv);
	int rc = 0;
	if (!g.energy || !g.dynamic || !g.work || !a->energy_j || !a->prefill_j || !a->decode_j ||
	    !a->dynamic_j || !v || !dv) {
		rc = -ENOMEM;
		goto out;
	}
	a->power_shape = share_energy(&g, s);
	int64_t step = median_gap_ns(sum);
	a->step_s = (double)step / 1e9;
	double pw = s->prefill_weight > 0 ? s->prefill_weight : 1;
	for (size_t i = 0; i < run->n; i++)
		each_interval(&g, run, &run->rec[i], pw, step, add_work, NULL);
	bool dyn = !isnan(s->dynamic_energy_j);
	a->unattributed_j = 0;
	a->dynamic_unattributed_j = dyn ? 0 : NAN;
	for (size_t k = 0; k < g.n; k++)
		if (!(g.work[k] > 0)) {
			a->unattributed_j += g.energy[k];
			if (dyn)
				a->dynamic_unattributed_j += g.dynamic[k];
		}
	a->idle_j = dyn ? s->energy_j - s->dynamic_energy_j : NAN;
	a->dynamic_prefill_j = a->dynamic_decode_j = dyn ? 0 : NAN;
	size_t nv = 0;
	double prompt_tokens = 0, output_tokens = 0, counted_prefill = 0, counted_decode = 0;
	for (size_t i = 0; i < run->n; i++) {
		const struct lg_record *r = &run->rec[i];
		struct take t = {0};
		each_interval(&g, run, r, pw, step, take_share, &t);
		a->prefill_j[i] = t.prefill;
		a->decode_j[i] = t.decode;
		a->energy_j[i] = t.prefill + t.decode;
		a->dynamic_j[i] = dyn ? t.dynamic : NAN;
		a->prefill_total_j += t.prefill;
		a->decode_total_j += t.decode;
		if (r->warmup)
			a->warmup_j += a->energy_j[i];
		if (dyn) {
			/* The dynamic share splits like the whole one. */
			double f = a->energy_j[i] > 0 ? t.prefill / a->energy_j[i] : 0;
			a->dynamic_prefill_j += t.dynamic * f;
			a->dynamic_decode_j += t.dynamic * (1 - f);
		}
		if (!r->warmup && r->status == LG_OK) {
			dv[nv] = a->dynamic_j[i];
			v[nv++] = a->energy_j[i];
			counted_prefill += t.prefill;
			counted_decode += t.decode;
			prompt_tokens += r->prompt_tokens > 0 ? r->prompt_tokens : 0;
			output_tokens += r->output_tokens;
		}
	}
	lg_dist_compute(&a->dist, v, nv, NULL, 0);
	if (dyn)
		lg_dist_compute(&a->dynamic_dist, dv, nv, NULL, 0);
	else
		lg_dist_compute(&a->dynamic_dist, dv, 0, NULL, 0);
	a->prefill_per_input_token_j = prompt_tokens > 0 ? counted_prefill / prompt_tokens : NAN;
	a->decode_per_output_token_j = output_tokens > 0 ? counted_decode / output_tokens : NAN;
	a->valid = true;
out:
	free(g.energy), free(g.dynamic), free(g.work), free(v), free(dv);
	if (rc)
		lg_attribution_release(a);
	return rc;
}

void lg_attribution_release(struct lg_attribution *a)
{
	free(a->energy_j), free(a->prefill_j), free(a->decode_j), free(a->dynamic_j);
	memset(a, 0, sizeof *a);
}
