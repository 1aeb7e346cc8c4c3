/* The quiet checks of `greenops idle` that the sources do not answer themselves: GPU compute
 * processes through the GPU source's ops, and settled power. (CPU load: sources/sysfs.c.) */
#include "meter/quiet.h"
#include "sources/source.h"
#include "base/util.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gops_power_window_init(struct gops_power_window *pw, double span_s)
{
	memset(pw, 0, sizeof *pw);
	pw->span_s = span_s;
}

void gops_power_window_push(struct gops_power_window *pw, double t_s, double watts)
{
	if (isnan(watts) || isnan(t_s))
		return;
	if (pw->n > pw->first && t_s <= pw->t[pw->n - 1])
		return;
	while (pw->first < pw->n && pw->t[pw->first] < t_s - pw->span_s)
		pw->first++;
	if (pw->n == pw->cap) {
		/* Slide the live part down before growing: the window stays small. */
		size_t live = pw->n - pw->first;
		if (pw->first > 0 && live < pw->cap / 2) {
			memmove(pw->t, pw->t + pw->first, live * sizeof *pw->t);
			memmove(pw->w, pw->w + pw->first, live * sizeof *pw->w);
			pw->n = live;
			pw->first = 0;
		} else {
			size_t cap = pw->cap ? pw->cap * 2 : 64;
			double *t = realloc(pw->t, cap * sizeof *t),
			       *w = t ? realloc(pw->w, cap * sizeof *w) : NULL;
			if (!t || !w)
				abort();
			pw->t = t;
			pw->w = w;
			pw->cap = cap;
		}
	}
	pw->t[pw->n] = t_s;
	pw->w[pw->n++] = watts;
}

void gops_power_window_clear(struct gops_power_window *pw)
{
	pw->n = pw->first = 0;
}

bool gops_power_window_stats(const struct gops_power_window *pw, double *mean, double *sd, double *covered_s)
{
	size_t n = pw->n - pw->first;
	if (n < 2)
		return false;
	double m = 0, m2 = 0;
	for (size_t i = pw->first, k = 1; i < pw->n; i++, k++) {
		double d = pw->w[i] - m;
		m += d / (double)k;
		m2 += d * (pw->w[i] - m);
	}
	*mean = m;
	*sd = sqrt(m2 / (double)(n - 1));
	*covered_s = pw->t[pw->n - 1] - pw->t[pw->first];
	return true;
}

void gops_power_window_release(struct gops_power_window *pw)
{
	free(pw->t);
	free(pw->w);
	memset(pw, 0, sizeof *pw);
}

struct gops_gpu_check {
	const struct gops_source_ops *ops;
	struct gops_source *src;
	struct gops_domain_list dl;
};

int gops_gpu_check_open(struct gops_gpu_check **out, char *err, size_t errlen)
{
	*out = NULL;
	struct gops_gpu_check *c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	struct gops_notes notes = {0};
	c->ops = &gops_source_nvml;
	int r = c->ops->open(&c->src, NULL, &c->dl, &notes, err, errlen);
	if (r == -ENOENT && notes.n)
		snprintf(err, errlen, "%s", notes.v[0]);
	gops_notes_release(&notes);
	if (r < 0) {
		gops_domain_list_release(&c->dl);
		free(c);
		return r;
	}
	*out = c;
	return 0;
}

size_t gops_gpu_check_count(const struct gops_gpu_check *c)
{
	return c ? c->dl.n : 0;
}

const char *gops_gpu_check_name(const struct gops_gpu_check *c, size_t i)
{
	return c->dl.v[i].name;
}

int gops_gpu_check_procs(struct gops_gpu_check *c, size_t i, unsigned *n)
{
	if (!c->ops->compute_processes)
		return GOPS_ENOTSUP;
	return c->ops->compute_processes(c->src, c->dl.v[i].index, n);
}

void gops_gpu_check_close(struct gops_gpu_check *c)
{
	if (!c)
		return;
	if (c->src)
		c->ops->close(c->src);
	gops_domain_list_release(&c->dl);
	free(c);
}
