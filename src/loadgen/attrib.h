/* Per-request energy attribution: the measured energy of a serve-bench run split among the
 * requests in flight, moment by moment, in proportion to the work each did then (prompt
 * tokens prefilled, tokens decoded), from the client's token timestamps and the power
 * timeline of the same clock. The result is an attribution by a model, never a measurement
 * (docs/SERVE_BENCH.md, "Energy of each request"). */
#ifndef GOPS_LOADGEN_ATTRIB_H
#define GOPS_LOADGEN_ATTRIB_H

#include "loadgen/client.h"
#include "loadgen/metrics.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One domain's power samples, in time order (CLOCK_MONOTONIC ns, watts). */
struct lg_power_series {
	size_t n;
	int64_t *t_ns;
	double *watts;
};

struct lg_attrib_spec {
	int64_t t0, t1;                      /* the run's energy window */
	double energy_j;                     /* its measured energy */
	double dynamic_energy_j;             /* NAN without an idle baseline */
	const struct lg_power_series *power; /* the summed domains' timelines; NULL or empty: */
	size_t n_power;                      /* the power is taken as constant over the window */
	double prefill_weight;               /* work of a prompt token, a decoded token being 1 */
};

struct lg_attribution {
	bool valid;
	bool power_shape; /* the power timeline shaped the split (else constant power) */
	/* Per record of the run (warm-up ones included), joules; NAN where not valid. */
	double *energy_j, *prefill_j, *decode_j, *dynamic_j;
	double prefill_total_j, decode_total_j, unattributed_j; /* all records */
	double warmup_j;                                        /* of it, warm-up requests */
	double dynamic_prefill_j, dynamic_decode_j, dynamic_unattributed_j, idle_j; /* NAN: none */
	struct lg_dist dist, dynamic_dist; /* over the completed counted requests, J */
	double prefill_per_input_token_j, decode_per_output_token_j; /* counted, completed */
	double step_s; /* the length given to a prefill: the run's median gap between events */
};

/* Attributes s->energy_j over the window among run's records. Returns 0, -ENOMEM, or
 * -EINVAL when the window is empty or its energy unknown (a->valid false). */
int lg_attribute(const struct lg_run *run, const struct lg_summary *sum, const struct lg_attrib_spec *s,
                 struct lg_attribution *a);
void lg_attribution_release(struct lg_attribution *a);

#endif
