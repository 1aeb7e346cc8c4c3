/* Plots as standalone SVG files: the power timeline of a run, one line per domain, with its
 * windows shaded. No library needed: SVG is text, and every browser shows it. */
#include "cli/plot.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define W       960
#define H       420
#define ML      64 /* margins: left, right, top, bottom */
#define MR      170
#define MT      36
#define MB      44
#define COLUMNS 800

static const char *const colors[] = {"#1b9e77", "#d95f02", "#7570b3", "#e7298a",
                                     "#66a61e", "#e6ab02", "#a6761d", "#666666"};

struct series {
	char name[32];
	double sum[COLUMNS];
	unsigned n[COLUMNS];
	double peak;
};

struct collect {
	struct series *s;
	size_t n, cap;
	double t_max;
	double duration;
};

static struct series *find(struct collect *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->s[i].name, name))
			return &c->s[i];
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 4;
		struct series *v = realloc(c->s, cap * sizeof *v);
		if (!v)
			return NULL;
		c->s = v, c->cap = cap;
	}
	struct series *s = &c->s[c->n++];
	memset(s, 0, sizeof *s);
	snprintf(s->name, sizeof s->name, "%s", name);
	return s;
}

static int add(void *ctx, double t, const char *domain, double watts, double counter_j)
{
	(void)counter_j;
	struct collect *c = ctx;
	if (isnan(watts) || t < 0 || t > c->duration)
		return 0;
	struct series *s = find(c, domain);
	if (!s)
		return -ENOMEM;
	size_t col = c->duration > 0 ? (size_t)(t / c->duration * (COLUMNS - 1)) : 0;
	if (col >= COLUMNS)
		col = COLUMNS - 1;
	s->sum[col] += watts;
	s->n[col]++;
	if (watts > s->peak)
		s->peak = watts;
	return 0;
}

/* A round step for the axis: 1, 2 or 5 times a power of ten, about `ticks` per range. */
static double nice_step(double range, int ticks)
{
	double raw = range / ticks, p = pow(10, floor(log10(raw)));
	double m = raw / p;
	return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static void escape(FILE *f, const char *s)
{
	for (; *s; s++)
		switch (*s) {
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '&':
			fputs("&amp;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		default:
			fputc(*s, f);
		}
}

int plot_timeline_svg(const char *path, const gops_monitor *m, const struct gops_result *r, const char *title,
                      char *err, size_t errlen)
{
	struct collect c = {.duration = r->duration_s};
	int rc = gops_monitor_foreach_sample(m, add, &c);
	if (rc < 0) {
		snprintf(err, errlen, "cannot collect samples for '%s': %s", path, strerror(-rc));
		free(c.s);
		return rc;
	}
	FILE *f = fopen(path, "w");
	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
		free(c.s);
		return rc;
	}
	double ymax = 1;
	for (size_t i = 0; i < c.n; i++)
		if (c.s[i].peak > ymax)
			ymax = c.s[i].peak;
	double ystep = nice_step(ymax, 5);
	ymax = ceil(ymax * 1.05 / ystep) * ystep;
	double dur = r->duration_s > 0 ? r->duration_s : 1, xstep = nice_step(dur, 8);
	double pw = W - ML - MR, ph = H - MT - MB;
#define X(t) (ML + (t) / dur * pw)
#define Y(w) (MT + ph - (w) / ymax * ph)
	fprintf(
	    f,
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" "
	    "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
	    W, H);
	fprintf(f, "<text x=\"%d\" y=\"22\" font-size=\"14\">", ML);
	escape(f, title ? title : "power");
	fprintf(f, "</text>\n");
	/* Windows first, underneath: at most 200 shaded, so thousands of batches stay readable. */
	for (size_t i = 0; i < r->n_windows && i < 200; i++) {
		const struct gops_window_result *w = &r->windows[i];
		fprintf(f,
		        "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%.0f\" fill=\"%s\" "
		        "fill-opacity=\"0.10\">"
		        "<title>",
		        X(w->start_s), MT, fmax(0.5, X(w->end_s) - X(w->start_s)), ph,
		        i % 2 ? "#aa7744" : "#4477aa");
		escape(f, w->name);
		fprintf(f, ": %.2f J</title></rect>\n", w->energy_j);
	}
	for (double y = 0; y <= ymax + 1e-9; y += ystep)
		fprintf(f,
		        "<line x1=\"%d\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
		        "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
		        ML, ML + pw, Y(y), Y(y), ML - 6, Y(y) + 4, y);
	for (double x = 0; x <= dur + 1e-9; x += xstep)
		fprintf(f,
		        "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%.0f\" stroke=\"#eee\"/>"
		        "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%g</text>\n",
		        X(x), X(x), MT, MT + ph, X(x), MT + ph + 16, x);
	fprintf(f, "<text x=\"%.0f\" y=\"%d\" text-anchor=\"middle\">seconds from the start</text>\n",
	        ML + pw / 2, H - 8);
	fprintf(f, "<text transform=\"translate(16,%.0f) rotate(-90)\" text-anchor=\"middle\">watts</text>\n",
	        MT + ph / 2);
	for (size_t i = 0; i < c.n; i++) {
		const struct series *s = &c.s[i];
		const char *col = colors[i % (sizeof colors / sizeof colors[0])];
		fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", col);
		for (size_t k = 0; k < COLUMNS; k++)
			if (s->n[k])
				fprintf(f, "%.1f,%.1f ", X(k * dur / (COLUMNS - 1)), Y(s->sum[k] / s->n[k]));
		fprintf(f, "\"/>\n");
		const struct gops_domain_result *d = NULL;
		for (size_t k = 0; k < r->n_domains; k++)
			if (!strcmp(r->domains[k].name, s->name))
				d = &r->domains[k];
		double ly = MT + 10 + 34.0 * (double)i;
		fprintf(f, "<rect x=\"%.0f\" y=\"%.0f\" width=\"12\" height=\"3\" fill=\"%s\"/>",
		        ML + pw + 12, ly - 4, col);
		fprintf(f, "<text x=\"%.0f\" y=\"%.0f\">", ML + pw + 30, ly);
		escape(f, s->name);
		if (d && !isnan(d->energy_j))
			fprintf(f, "</text><text x=\"%.0f\" y=\"%.0f\" fill=\"#555\">%.1f J, %s%s</text>\n",
			        ML + pw + 30, ly + 14, d->energy_j, gops_method_name(d->method),
			        d->summed ? "" : ", not summed");
		else
			fprintf(f, "</text>\n");
	}
	fprintf(f,
	        "<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
	        "stroke=\"#888\"/>\n</svg>\n",
	        ML, MT, pw, ph);
#undef X
#undef Y
	free(c.s);
	if (fclose(f) != 0) {
		snprintf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
		return -EIO;
	}
	return 0;
}
