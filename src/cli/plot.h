/* Plots of measured runs (run --plot), drawn with the report's plotting libraries. */
#ifndef GOPS_CLI_PLOT_H
#define GOPS_CLI_PLOT_H

#include <greenops/greenops.h>
#include <stddef.h>

/* Power over time per domain (windows shaded) of a stopped monitor, as an SVG file, or a PNG
 * when the path ends in .png. */
int plot_timeline_svg(const char *path, const gops_monitor *m, const struct gops_result *r, const char *title,
                      char *err, size_t errlen);

#endif
