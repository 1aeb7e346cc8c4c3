/* The powercap source's pieces that its unit test reaches: zone names and the permission
 * note. Included by powercap.c and its test only. */
#ifndef GOPS_SOURCES_POWERCAP_H
#define GOPS_SOURCES_POWERCAP_H

#include "sources/source.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The note for an energy_uj that cannot be read for lack of permission. */
void gops_powercap_access_note(char *buf, size_t len, const char *path);
/* Splits a powercap zone directory name ("intel-rapl:1", "intel-rapl-mmio:0:2").
 * Returns 0 with *mmio, *zone and *sub (-1 for a top-level zone), or -EINVAL. */
int gops_powercap_parse_zone(const char *dirname, bool *mmio, int *zone, int *sub);

#endif
