/* The figures of `greenops report` and `greenops run --plot` as Vega-Lite specifications
 * (JSON built with jansson): drawn in the browser by vega-embed from the HTML, and as SVG files
 * by vega itself under node (report_assets.h). Nothing here draws by hand. */
#ifndef GOPS_CLI_REPORT_SPECS_H
#define GOPS_CLI_REPORT_SPECS_H

#include <jansson.h>
#include <stddef.h>

struct report_sample {
	double t_s;
	const char *domain;
	double watts;
};

struct report_window {
	const char *name;
	double start_s, end_s;
	double units;    /* NAN none */
	double energy_j; /* NAN none */
};

/* Power over time per domain with the windows as shaded bands. Many windows (a batch each)
 * become one band per run of equal names ("batch x174"), and only bands wide enough carry a
 * label, so hundreds of windows stay legible. */
json_t *report_timeline_spec(const char *title, const struct report_sample *s, size_t n,
                             const struct report_window *w, size_t n_windows, const char *subtitle);

/* Energy per unit against parameter `param` of a sweep analysis (sweep_analysis_json()):
 * one line per group of the other parameters, the repetitions' interval as error bars, each
 * run as a faint point, the cheapest configuration marked. */
json_t *report_param_spec(json_t *analysis, const char *param);
/* serve-bench sweeps: energy per request and per output token against the request rate, the
 * first rate at which the server no longer kept up marked "saturated". */
json_t *report_rate_energy_spec(json_t *analysis, const char *rate_param, const char *metric,
                                const char *title);
/* Latency percentiles (TTFT and end-to-end, p50/p90/p99) against the request rate. */
json_t *report_latency_spec(json_t *analysis, const char *rate_param);
/* The correlations as a heat map, rho written in each cell. NULL when there are none. */
json_t *report_corr_spec(json_t *analysis);

#endif
