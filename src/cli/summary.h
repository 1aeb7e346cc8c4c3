/* The human summary of a measured span, printed on stderr in the spirit of `perf stat`.
 * Used by `greenops run` and `greenops show`. */
#ifndef GOPS_CLI_SUMMARY_H
#define GOPS_CLI_SUMMARY_H

#include <greenops/greenops.h>
#include <stdio.h>

struct summary_ctx {
	const char *command;     /* what was measured, shown in the title ("sleep 3") */
	int exit_status;         /* greenops's own exit status for the run */
	int signal;              /* the signal that ended the child, 0 none */
	double carbon_g_per_kwh; /* <= 0: not shown */
	double pue;              /* <= 0: 1 */
	double price_per_kwh;    /* <= 0: not shown */
	const char *currency;    /* NULL or "": none named */
	double units_given;      /* --units (0 or NAN: none): the summary says how the total was made */
};

void summary_print(FILE *f, const struct gops_result *r, const struct summary_ctx *ctx);

#endif
