/* run --plot: the power timeline of a run, one line per domain with its windows shaded, as an
 * SVG (or PNG) file drawn by vega from the same Vega-Lite specification as greenops report's
 * timeline (report_specs.c, report_assets.c). */
#include "cli/plot.h"

#include "base/util.h"
#include "cli/report_assets.h"
#include "cli/report_specs.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_DOMAINS 32

struct collect {
	struct report_sample *s;
	size_t n, cap;
	double duration;
	/* The legend names each domain with its energy and method: "gpu0: 12.3 J, counter". */
	const char *from[MAX_DOMAINS];
	char *label[MAX_DOMAINS];
	size_t n_labels;
	const struct gops_result *r;
};

static const char *label_of(struct collect *c, const char *domain)
{
	for (size_t i = 0; i < c->n_labels; i++)
		if (!strcmp(c->from[i], domain))
			return c->label[i];
	if (c->n_labels == MAX_DOMAINS)
		return domain;
	const struct gops_domain_result *d = NULL;
	for (size_t k = 0; k < c->r->n_domains; k++)
		if (!strcmp(c->r->domains[k].name, domain))
			d = &c->r->domains[k];
	c->from[c->n_labels] = domain;
	if (d && isfinite(d->energy_j))
		c->label[c->n_labels] =
		    gops_xasprintf("%s: %.4g J, %s%s", domain, d->energy_j, gops_method_name(d->method),
		                   d->summed ? "" : ", not summed");
	else
		c->label[c->n_labels] = gops_xstrdup(domain);
	return c->label[c->n_labels++];
}

static int add(void *ctx, double t, const char *domain, double watts, double counter_j)
{
	(void)counter_j;
	struct collect *c = ctx;
	if (isnan(watts) || t < 0 || t > c->duration)
		return 0;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 1024;
		struct report_sample *v = realloc(c->s, cap * sizeof *v);
		if (!v)
			return -ENOMEM;
		c->s = v, c->cap = cap;
	}
	c->s[c->n++] = (struct report_sample){t, label_of(c, domain), watts};
	return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && !strcasecmp(s + n - k, suffix);
}

int plot_timeline_svg(const char *path, const gops_monitor *m, const struct gops_result *r, const char *title,
                      char *err, size_t errlen)
{
	const char *assets = report_assets_dir(err, errlen);
	if (!assets)
		return -ENOENT;
	struct collect c = {.duration = r->duration_s, .r = r};
	int rc = gops_monitor_foreach_sample(m, add, &c);
	if (rc < 0)
		snprintf(err, errlen, "cannot collect samples for '%s': %s", path, strerror(-rc));
	struct report_window *w = calloc(r->n_windows ? r->n_windows : 1, sizeof *w);
	for (size_t i = 0; i < r->n_windows; i++)
		w[i] = (struct report_window){r->windows[i].name, r->windows[i].start_s, r->windows[i].end_s,
		                              r->windows[i].units, r->windows[i].energy_j};
	if (!rc) {
		json_t *spec =
		    report_timeline_spec(title ? title : "power", c.s, c.n, w, r->n_windows,
		                         r->n_windows ? "shaded: the windows the workload marked" : NULL);
		bool png = ends_with(path, ".png");
		char *svg = png ? gops_xasprintf("%s.svg.tmp", path) : gops_xstrdup(path);
		struct report_figure fig = {spec, svg, png ? (char *)path : NULL};
		rc = report_render(assets, &fig, 1, err, errlen);
		if (png)
			unlink(svg);
		free(svg);
		json_decref(spec);
	}
	for (size_t i = 0; i < c.n_labels; i++)
		free(c.label[i]);
	free(c.s);
	free(w);
	return rc;
}
