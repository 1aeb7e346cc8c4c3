/* The update grid of slow energy counters, remembered between runs per device (phase.c): a
 * GPU's counter publishes on a steady grid, so the next run predicts its update moment. */
#ifndef GOPS_METER_PHASE_H
#define GOPS_METER_PHASE_H

#include "sources/source.h"

#include <stdbool.h>
#include <stdint.h>

/* The remembered update time (CLOCK_MONOTONIC, this boot) and period; false if none. */
bool phase_recall(const struct gops_domain *d, int64_t *update_ns, double *period_s);
/* Best effort: a record that cannot be written is simply not remembered. */
void phase_remember(const struct gops_domain *d, int64_t update_ns, double period_s);

#endif
