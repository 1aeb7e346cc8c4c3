/* What `greenops report` and `run --plot` need besides C: the vega, vega-lite and vega-embed
 * builds the build installs from the npm registry (inlined into the HTML so it works offline),
 * node to render SVG files with the same libraries, and rsvg-convert for PNG. */
#ifndef GOPS_CLI_REPORT_ASSETS_H
#define GOPS_CLI_REPORT_ASSETS_H

#include <jansson.h>
#include <stdio.h>

/* The folder holding node_modules/{vega,vega-lite,vega-embed} and render.mjs: next to this
 * greenops (build/report), or ../share/greenops/report when installed. NULL with a message. */
const char *report_assets_dir(char *err, size_t errlen);
/* Writes the three libraries into f as inline <script> elements. */
int report_assets_inline(FILE *f, const char *dir, char *err, size_t errlen);

struct report_figure {
	json_t *spec;
	char *svg; /* path to write */
	char *png; /* path to convert to, or NULL */
};
/* Renders every figure to SVG with one node process, then PNG with rsvg-convert. */
int report_render(const char *dir, struct report_figure *figs, size_t n, char *err, size_t errlen);

#endif
