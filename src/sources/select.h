/* Which sources a run opens by default and which of their domains it sums: the overlap
 * rules of RAPL (psys contains the packages and DRAM, a package its core and uncore). Used by
 * the monitor and by `greenops list`. */
#ifndef GOPS_SELECT_H
#define GOPS_SELECT_H

#include "sources/source.h"

#include <stdbool.h>
#include <stddef.h>

/* Whether a run without --sources opens the source `name`, given the domains found by the
 * sources opened before it in registry order (nvml, perf, powercap, hwmon, estimate).
 * Every real sensor is opened; `estimate` only when `found` holds no readable RAPL domain. */
bool gops_source_default(const char *name, const struct gops_domain_list *found);

/* A RAPL domain measured by a sensor (package, dram, psys, core, uncore; not estimated). */
bool gops_domain_is_rapl(const struct gops_domain *d);

/* Whether domain i of dl counts in the top-level total: not when the domain that contains
 * it (its parent, or psys for any RAPL domain) is in dl too; never for kind "other" (a board
 * sensor whose relation to the rest is unknown); estimates only where no sensor covers them. */
bool gops_domain_summed(const struct gops_domain_list *dl, size_t i);

/* Checks a --sources list ("perf,powercap"): every name known, none twice. Fills out[] with
 * the sources in the order named. Returns 0 or -EINVAL with err naming the bad entry. */
int gops_sources_parse(const char *list, const struct gops_source_ops **out, size_t cap, size_t *n, char *err,
                       size_t errlen);

#endif
