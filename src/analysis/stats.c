/* Pearson, Spearman and Kendall tau-b with SciPy's default p-values and Fisher-z confidence
 * intervals. Kendall's counts use Knight's O(n log n) method (sort by x then y, count the
 * discordant pairs as merge-sort inversions of y), as scipy.stats.kendalltau does. */
#include "analysis/stats.h"

#include <errno.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const char *const method_names[AN_N_METHODS] = {
    [AN_SPEARMAN] = "spearman",
    [AN_PEARSON] = "pearson",
    [AN_KENDALL] = "kendall",
};

const char *an_method_name(enum an_method m)
{
	return (unsigned)m < AN_N_METHODS ? method_names[m] : "?";
}

int an_method_parse(const char *s, enum an_method *m)
{
	for (unsigned i = 0; i < AN_N_METHODS; i++)
		if (!strcmp(s, method_names[i])) {
			*m = (enum an_method)i;
			return 0;
		}
	return -EINVAL;
}

/* Rounding leaves a perfect correlation a few ulps short of 1 (rank correlations are ratios
 * of integers); snapped, so that its p-value is 0, as the t statistic's limit is. */
static double clamp_rho(double r)
{
	if (fabs(fabs(r) - 1) < 1e-13)
		return r > 0 ? 1 : -1;
	return r;
}

static bool constant(const double *v, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (v[i] != v[0])
			return false;
	return true;
}

/* v scaled by a power of two (exact) so that its largest magnitude lies in [0.5, 1): GSL's
 * sums of squares overflow past about 1e154 and came back as a finite, wrong r of 0. */
static void scale_unit(const double *v, double *out, size_t n)
{
	double m = 0;
	for (size_t i = 0; i < n; i++)
		m = fmax(m, fabs(v[i]));
	int e = 0;
	if (isfinite(m) && m > 0)
		frexp(m, &e);
	for (size_t i = 0; i < n; i++)
		out[i] = ldexp(v[i], -e);
}

static int pearson_r(const double *x, const double *y, size_t n, double *rho)
{
	double *w = malloc(2 * n * sizeof *w);
	if (!w)
		return -ENOMEM;
	scale_unit(x, w, n);
	scale_unit(y, w + n, n);
	*rho = gsl_stats_correlation(w, 1, w + n, 1, n);
	free(w);
	return 0;
}

double an_t_pvalue(double r, size_t n)
{
	if (n < 3 || isnan(r))
		return NAN;
	if (fabs(r) >= 1)
		return 0;
	double df = (double)n - 2;
	double t = r * sqrt(df / ((1 - r) * (1 + r)));
	double p = 2 * gsl_cdf_tdist_Q(fabs(t), df);
	return p > 1 ? 1 : p;
}

/* --- Kendall ------------------------------------------------------------------------- */

struct pair {
	double x, y;
};

static int by_x_then_y(const void *a, const void *b)
{
	const struct pair *p = a, *q = b;
	if (p->x != q->x)
		return p->x < q->x ? -1 : 1;
	if (p->y != q->y)
		return p->y < q->y ? -1 : 1;
	return 0;
}

/* Sorts v[lo, hi) in place and returns how many pairs i < j had v[i] > v[j]. */
static int64_t inversions(double *v, double *tmp, size_t lo, size_t hi)
{
	if (hi - lo < 2)
		return 0;
	size_t mid = lo + (hi - lo) / 2;
	int64_t n = inversions(v, tmp, lo, mid) + inversions(v, tmp, mid, hi);
	size_t i = lo, j = mid, k = lo;
	while (i < mid && j < hi) {
		if (v[j] < v[i]) {
			n += (int64_t)(mid - i); /* v[j] is below every remaining left value */
			tmp[k++] = v[j++];
		} else {
			tmp[k++] = v[i++];
		}
	}
	while (i < mid)
		tmp[k++] = v[i++];
	while (j < hi)
		tmp[k++] = v[j++];
	memcpy(v + lo, tmp + lo, (hi - lo) * sizeof *v);
	return n;
}

/* Adds a group of t tied values to the tie sums. */
static void tie_group(int64_t t, int64_t *ties, double *s0, double *s1)
{
	if (t < 2)
		return;
	double d = (double)t;
	*ties += t * (t - 1) / 2;
	*s0 += d * (d - 1) * (d - 2);
	*s1 += d * (d - 1) * (2 * d + 5);
}

int an_kendall_count(const double *x, const double *y, size_t n, struct an_kendall_counts *c)
{
	memset(c, 0, sizeof *c);
	struct pair *p = malloc((n ? n : 1) * sizeof *p);
	double *ys = malloc((n ? n : 1) * sizeof *ys), *tmp = malloc((n ? n : 1) * sizeof *tmp);
	if (!p || !ys || !tmp) {
		free(p), free(ys), free(tmp);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		p[i] = (struct pair){x[i], y[i]};
	qsort(p, n, sizeof *p, by_x_then_y);
	c->tot = (int64_t)n * ((int64_t)n - 1) / 2;
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && p[j].x == p[i].x;)
			j++;
		tie_group((int64_t)(j - i), &c->xtie, &c->x0, &c->x1);
	}
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && p[j].x == p[i].x && p[j].y == p[i].y;)
			j++;
		int64_t t = (int64_t)(j - i);
		c->ntie += t * (t - 1) / 2;
	}
	/* Within equal x the pairs are sorted by y, so every inversion is a discordant pair. */
	for (size_t i = 0; i < n; i++)
		ys[i] = p[i].y;
	c->dis = inversions(ys, tmp, 0, n);
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && ys[j] == ys[i];)
			j++;
		tie_group((int64_t)(j - i), &c->ytie, &c->y0, &c->y1);
	}
	free(p), free(ys), free(tmp);
	return 0;
}

static int kendall(const double *x, const double *y, size_t n, struct an_corr *out)
{
	struct an_kendall_counts c;
	int r = an_kendall_count(x, y, n, &c);
	if (r < 0)
		return r;
	if (c.xtie == c.tot || c.ytie == c.tot) {
		out->undefined = c.xtie == c.tot ? AN_CONSTANT_X : AN_CONSTANT_Y;
		return 0;
	}
	double cmd = (double)(c.tot - c.xtie - c.ytie + c.ntie - 2 * c.dis); /* concordant - discordant */
	double tau = cmd / sqrt((double)(c.tot - c.xtie)) / sqrt((double)(c.tot - c.ytie));
	out->rho = clamp_rho(tau > 1 ? 1 : tau < -1 ? -1 : tau);
	/* scipy.stats.kendalltau(method='asymptotic'): the tie-corrected variance of con - dis. */
	double dn = (double)n, m = dn * (dn - 1);
	double var = (m * (2 * dn + 5) - c.x1 - c.y1) / 18 + 2 * (double)c.xtie * (double)c.ytie / m +
	             c.x0 * c.y0 / (9 * m * (dn - 2));
	out->p_value = erfc(fabs(cmd) / sqrt(var) / sqrt(2.0));
	return 0;
}

/* --- confidence intervals ------------------------------------------------------------ */

/* Fisher z: atanh(r) is about normal with variance var_num / (n - n_off); Pearson's is
 * 1/(n-3); for Spearman 1.06/(n-3) and Kendall 0.437/(n-4) (Fieller, Hartley & Pearson,
 * Biometrika 44, 1957). */
static void fisher_ci(struct an_corr *o, double var_num, double n_off)
{
	double df = (double)o->n - n_off;
	if (!(df > 0) || isnan(o->rho))
		return;
	double q = gsl_cdf_ugaussian_Pinv(0.5 + o->confidence / 2);
	double z = atanh(o->rho), se = sqrt(var_num / df);
	o->ci_low = tanh(z - q * se);
	o->ci_high = tanh(z + q * se);
}

int an_correlate(enum an_method m, const double *x, const double *y, size_t n, double confidence,
                 struct an_corr *out)
{
	if ((unsigned)m >= AN_N_METHODS || !(confidence > 0 && confidence < 1))
		return -EINVAL;
	*out = (struct an_corr){.method = m,
	                        .n = n,
	                        .rho = NAN,
	                        .p_value = NAN,
	                        .ci_low = NAN,
	                        .ci_high = NAN,
	                        .confidence = confidence};
	out->ci_method = m == AN_PEARSON    ? "fisher-z, var 1/(n-3)"
	                 : m == AN_SPEARMAN ? "fisher-z, var 1.06/(n-3)"
	                                    : "fisher-z, var 0.437/(n-4)";
	if (n < 3) {
		out->undefined = AN_TOO_FEW;
		return 0;
	}
	if (constant(x, n) || constant(y, n)) {
		out->undefined = constant(x, n) ? AN_CONSTANT_X : AN_CONSTANT_Y;
		return 0;
	}
	if (m == AN_KENDALL) {
		int r = kendall(x, y, n, out);
		if (r < 0)
			return r;
		fisher_ci(out, 0.437, 4);
	} else {
		double rho;
		if (m == AN_PEARSON) {
			int r = pearson_r(x, y, n, &rho);
			if (r < 0)
				return r;
		} else {
			double *work = malloc(2 * n * sizeof *work);
			if (!work)
				return -ENOMEM;
			rho = gsl_stats_spearman(x, 1, y, 1, n, work);
			free(work);
		}
		if (!isfinite(rho)) {
			out->undefined = AN_NOT_FINITE;
			return 0;
		}
		out->rho = clamp_rho(rho > 1 ? 1 : rho < -1 ? -1 : rho);
		out->p_value = an_t_pvalue(out->rho, n);
		fisher_ci(out, m == AN_PEARSON ? 1.0 : 1.06, 3);
	}
	return 0;
}
