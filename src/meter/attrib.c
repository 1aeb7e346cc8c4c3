/* The split of a shared GPU's energy (attrib.h). */
#include "meter/attrib.h"

#include <math.h>
#include <string.h>

static struct share_total *total_of(struct share_result *r, const struct share_proc *p)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->per[i].pid == p->pid && r->per[i].instance == p->instance &&
		    r->per[i].command == p->command)
			return &r->per[i];
	if (r->n == SHARE_PIDS)
		return NULL;
	r->per[r->n] = (struct share_total){p->pid, p->instance, p->command, 0};
	return &r->per[r->n++];
}

static void split_interval(const struct share_tick *t, double joules, double seconds, double idle_w,
                           struct share_result *r)
{
	double idle = isnan(idle_w) ? 0 : fmin(joules, fmax(0, idle_w * seconds));
	double dyn = joules - idle;
	r->unattributed_j += idle;
	double w = 0;
	if (t->basis == SHARE_SOLE || t->basis == SHARE_SM || t->basis == SHARE_SLICES)
		for (unsigned k = 0; k < t->n; k++)
			w += t->p[k].weight > 0 ? t->p[k].weight : 0;
	if (t->basis == SHARE_MISSING)
		r->missing_s += seconds;
	if (w <= 0) { /* nobody to give it to, or no activity to split by */
		r->unattributed_j += dyn;
		return;
	}
	for (unsigned k = 0; k < t->n; k++) {
		const struct share_proc *p = &t->p[k];
		if (p->weight <= 0)
			continue;
		double j = dyn * p->weight / w;
		if (p->command)
			r->command_j += j;
		else
			r->others_j += j;
		struct share_total *tot = total_of(r, p);
		if (tot)
			tot->energy_j += j;
		if (p->instance >= 0 && p->instance < SHARE_INSTANCES)
			r->instance_j[p->instance] += j;
	}
}

void share_split(const struct share_tick *ticks, size_t n, int64_t t0, int64_t t1, double idle_w,
                 share_energy_fn energy_at, const void *ctx, double scale_to, struct share_result *out)
{
	memset(out, 0, sizeof *out);
	/* A tick after the end describes a stretch that is partly past it: the end takes the
	 * shares of the last tick inside the span instead. */
	while (n > 0 && ticks[n - 1].t_ns > t1)
		n--;
	int64_t prev = t0;
	for (size_t i = 0; i <= n && prev < t1; i++) {
		const struct share_tick *t = i < n ? &ticks[i] : n ? &ticks[n - 1] : NULL;
		int64_t b = i < n ? t->t_ns : t1;
		if (!t || b <= prev)
			continue;
		double j = energy_at(ctx, b) - energy_at(ctx, prev);
		split_interval(t, j, (double)(b - prev) / 1e9, idle_w, out);
		prev = b;
	}
	if (prev < t1) /* no tick at all: nothing is known of who used it */
		out->unattributed_j += energy_at(ctx, t1) - energy_at(ctx, prev);
	out->total_j = out->command_j + out->others_j + out->unattributed_j;
	if (!isnan(scale_to) && out->total_j > 0 && scale_to >= 0) {
		double k = scale_to / out->total_j;
		out->command_j *= k;
		out->others_j *= k;
		out->unattributed_j *= k;
		out->total_j = scale_to;
		for (size_t i = 0; i < out->n; i++)
			out->per[i].energy_j *= k;
		for (size_t i = 0; i < SHARE_INSTANCES; i++)
			out->instance_j[i] *= k;
	}
}
