/* The hwmon source's pieces that its unit test reaches: domain naming and GPU drivers.
 * Included by hwmon.c and its test only. */
#ifndef GOPS_SOURCES_HWMON_H
#define GOPS_SOURCES_HWMON_H

#include "sources/source.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Turns a driver name and a sensor label into a domain name: "<driver>-<label>" with
 * characters other than [A-Za-z0-9_.-] replaced by '_'. */
void gops_hwmon_domain_name(char *buf, size_t len, const char *driver, const char *label);
/* Whether a hwmon driver name belongs to a GPU (amdgpu, discrete i915/xe). */
bool gops_hwmon_is_gpu(const char *driver);

#endif
