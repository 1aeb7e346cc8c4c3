/* SVG plots of measured runs. */
#ifndef GOPS_CLI_PLOT_H
#define GOPS_CLI_PLOT_H

#include <greenops/greenops.h>
#include <stddef.h>

/* Power over time per domain (windows shaded) of a stopped monitor, as an SVG file. */
int plot_timeline_svg(const char *path, const gops_monitor *m, const struct gops_result *r, const char *title,
                      char *err, size_t errlen);

#endif
