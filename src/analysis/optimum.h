/* The optimum search of `greenops analyze --optimum`: which x (batch size, request rate)
 * gives the lowest mean y (energy per sample or request) over repeated runs, and the first x
 * from which increasing x brings no real gain (the study's "optimal batch size"). */
#ifndef GOPS_ANALYSIS_OPTIMUM_H
#define GOPS_ANALYSIS_OPTIMUM_H

#include <stddef.h>

/* The runs that share one x value. */
struct an_group {
	double x;
	size_t n;
	double mean, sd; /* sd: sample standard deviation, NAN for a single run */
	double min, max;
};

/* What counted as "no further gain". */
enum an_tolerance_rule {
	AN_TOL_SPREAD,  /* the best group's standard deviation */
	AN_TOL_PERCENT, /* 2% of the best mean (larger than the spread, or no spread) */
};

struct an_optimum {
	size_t n; /* pairs used */
	size_t n_groups;
	struct an_group *groups; /* ascending x */
	size_t best;             /* the group with the lowest mean */
	size_t plateau;          /* the first group (ascending x) within tolerance of the best */
	double tolerance;        /* max(best's sd, 2% of |best mean|) */
	enum an_tolerance_rule rule;
};

#define AN_PLATEAU_PERCENT 2.0

/* Groups n complete pairs by exact x and finds the optimum. -EINVAL for n == 0, -ENOMEM. */
int an_optimum(const double *x, const double *y, size_t n, struct an_optimum *out);
void an_optimum_release(struct an_optimum *o);

#endif
