/* Correlation coefficients with SciPy's p-values (two-sided; Pearson and Spearman through the t
 * distribution, Kendall's tau-b through the tie-corrected normal approximation) and confidence
 * intervals from the Fisher z-transform. Pure functions over complete pairs (no NaN). */
#ifndef GOPS_ANALYSIS_STATS_H
#define GOPS_ANALYSIS_STATS_H

#include <stddef.h>
#include <stdint.h>

enum an_method {
	AN_SPEARMAN,
	AN_PEARSON,
	AN_KENDALL,
};
#define AN_N_METHODS 3

const char *an_method_name(enum an_method m);
/* "spearman", "pearson", "kendall"; -EINVAL otherwise. */
int an_method_parse(const char *s, enum an_method *m);

/* Why a coefficient is undefined (its value is then NAN, never 0). */
enum an_undefined {
	AN_DEFINED = 0,
	AN_TOO_FEW,    /* fewer than 3 pairs */
	AN_CONSTANT_X, /* every x is the same */
	AN_CONSTANT_Y,
	AN_NOT_FINITE, /* the arithmetic did not give a number (values too large) */
};

struct an_corr {
	enum an_method method;
	size_t n;
	double rho;             /* NAN when undefined */
	double p_value;         /* NAN when undefined */
	double ci_low, ci_high; /* NAN when undefined or n too small for the interval */
	double confidence;      /* e.g. 0.95 */
	const char *ci_method;  /* how the interval was made, for people and JSON */
	enum an_undefined undefined;
};

/* Correlates n complete pairs. confidence in (0, 1). Returns 0 (undefined coefficients are a
 * result, not an error) or -EINVAL for a bad method or confidence, -ENOMEM. */
int an_correlate(enum an_method m, const double *x, const double *y, size_t n, double confidence,
                 struct an_corr *out);

/* Kendall's pair counts as SciPy's kendalltau forms them (exposed for the tests):
 * tot = n(n-1)/2, ties in x, in y, in both, discordant pairs, and the tie sums
 * x0 = sum t(t-1)(t-2), x1 = sum t(t-1)(2t+5) over groups of t tied values (same for y). */
struct an_kendall_counts {
	int64_t tot, xtie, ytie, ntie, dis;
	double x0, x1, y0, y1;
};
int an_kendall_count(const double *x, const double *y, size_t n, struct an_kendall_counts *c);

/* Two-sided p-value of a correlation coefficient r over n pairs through Student's t with n-2
 * degrees of freedom (scipy.stats.pearsonr and spearmanr). */
double an_t_pvalue(double r, size_t n);

#endif
