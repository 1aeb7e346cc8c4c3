/* Optimum search: group runs by x, mean and spread of y per group, the lowest mean, and the
 * first x whose mean is as good as the lowest within the lowest group's spread or 2%. */
#include "analysis/optimum.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct xy {
	double x, y;
};

static int by_x(const void *a, const void *b)
{
	const struct xy *p = a, *q = b;
	return p->x < q->x ? -1 : p->x > q->x;
}

static void group_stats(struct an_group *g, const struct xy *v, size_t n)
{
	double sum = 0;
	g->x = v[0].x;
	g->n = n;
	g->min = g->max = v[0].y;
	for (size_t i = 0; i < n; i++) {
		sum += v[i].y;
		if (v[i].y < g->min)
			g->min = v[i].y;
		if (v[i].y > g->max)
			g->max = v[i].y;
	}
	g->mean = sum / (double)n;
	if (n < 2) {
		g->sd = NAN;
		return;
	}
	double ss = 0;
	for (size_t i = 0; i < n; i++)
		ss += (v[i].y - g->mean) * (v[i].y - g->mean);
	g->sd = sqrt(ss / (double)(n - 1));
}

int an_optimum(const double *x, const double *y, size_t n, struct an_optimum *out)
{
	memset(out, 0, sizeof *out);
	if (n == 0)
		return -EINVAL;
	struct xy *v = malloc(n * sizeof *v);
	out->groups = malloc(n * sizeof *out->groups);
	if (!v || !out->groups) {
		free(v);
		an_optimum_release(out);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		v[i] = (struct xy){x[i], y[i]};
	qsort(v, n, sizeof *v, by_x);
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && v[j].x == v[i].x;)
			j++;
		group_stats(&out->groups[out->n_groups++], v + i, j - i);
	}
	free(v);
	out->n = n;
	for (size_t i = 1; i < out->n_groups; i++)
		if (out->groups[i].mean < out->groups[out->best].mean)
			out->best = i;
	const struct an_group *b = &out->groups[out->best];
	double pct = fabs(b->mean) * AN_PLATEAU_PERCENT / 100;
	out->rule = !isnan(b->sd) && b->sd > pct ? AN_TOL_SPREAD : AN_TOL_PERCENT;
	out->tolerance = out->rule == AN_TOL_SPREAD ? b->sd : pct;
	out->plateau = out->best;
	for (size_t i = 0; i < out->best; i++)
		if (out->groups[i].mean <= b->mean + out->tolerance) {
			out->plateau = i;
			break;
		}
	return 0;
}

void an_optimum_release(struct an_optimum *o)
{
	free(o->groups);
	memset(o, 0, sizeof *o);
}
