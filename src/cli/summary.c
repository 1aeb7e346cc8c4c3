/* The human summary of a run, on stderr, like `perf stat`: one line per domain, the total
 * of the non-overlapping domains, per-unit energy, windows grouped by name, then notes. */
#include "cli/summary.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void energy_cell(FILE *f, double j, double unc)
{
	if (isnan(j)) {
		fprintf(f, "  %14s %13s", "not measured", "");
		return;
	}
	fprintf(f, "  %12.2f J", j);
	if (!isnan(unc))
		fprintf(f, " ± %9.2f J", unc);
	else
		fprintf(f, " %13s", "");
}

static void domain_line(FILE *f, const struct gops_domain_result *d)
{
	energy_cell(f, d->energy_j, d->uncertainty_j);
	fprintf(f, "  %-13s %-10s", d->name, gops_method_name(d->method));
	if (!isnan(d->avg_power_w))
		fprintf(f, " %8.1f W avg", d->avg_power_w);
	else
		fprintf(f, " %14s", "");
	if (!isnan(d->peak_power_w))
		fprintf(f, " %8.1f W peak", d->peak_power_w);
	else
		fprintf(f, " %15s", "");
	if (!d->summed && d->method != GOPS_METHOD_NONE)
		fprintf(f, "  (inside another domain, not summed)");
	fputc('\n', f);
}

static const char *human_energy(double j, char *buf, size_t len)
{
	double a = fabs(j);
	if (a >= 3.6e6)
		snprintf(buf, len, "%.3f kWh", j / 3.6e6);
	else if (a >= 3600)
		snprintf(buf, len, "%.2f Wh", j / 3600);
	else
		snprintf(buf, len, "%.3f Wh", j / 3600);
	return buf;
}

struct group {
	const char *name;
	size_t count;
	double energy, dynamic, units;
	bool have_units, have_dyn;
};

static void windows(FILE *f, const struct gops_result *r)
{
	if (!r->n_windows)
		return;
	struct group *g = calloc(r->n_windows, sizeof *g);
	size_t ng = 0;
	if (!g)
		return;
	for (size_t i = 0; i < r->n_windows; i++) {
		const struct gops_window_result *w = &r->windows[i];
		size_t k;
		for (k = 0; k < ng && strcmp(g[k].name, w->name); k++)
			;
		if (k == ng)
			g[ng++] = (struct group){.name = w->name, .have_dyn = true};
		g[k].count++;
		g[k].energy += isnan(w->energy_j) ? 0 : w->energy_j;
		if (isnan(w->dynamic_energy_j))
			g[k].have_dyn = false;
		else
			g[k].dynamic += w->dynamic_energy_j;
		if (!isnan(w->units))
			g[k].units += w->units, g[k].have_units = true;
	}
	fprintf(f, "\n  windows:\n");
	for (size_t k = 0; k < ng; k++) {
		fprintf(f, "  %-16s x%-5zu %12.2f J", g[k].name, g[k].count, g[k].energy);
		if (g[k].count > 1)
			fprintf(f, "  %10.3f J each", g[k].energy / g[k].count);
		if (g[k].have_dyn)
			fprintf(f, "  %10.2f J dynamic", g[k].dynamic);
		if (g[k].have_units && g[k].units > 0)
			fprintf(f, "  %.6g J/unit (%.0f units)", g[k].energy / g[k].units, g[k].units);
		fputc('\n', f);
	}
	/* Individual windows only when few: a training loop may mark thousands. */
	if (r->n_windows <= 12 && r->n_windows > ng)
		for (size_t i = 0; i < r->n_windows; i++) {
			const struct gops_window_result *w = &r->windows[i];
			fprintf(f, "    %-14s %8.3f-%-8.3f s %12.2f J ± %.2f J\n", w->name, w->start_s,
			        w->end_s, w->energy_j, w->uncertainty_j);
		}
	for (size_t i = 0, shown = 0; i < r->n_windows && shown < 5; i++)
		for (size_t k = 0; k < r->windows[i].n_warnings && shown < 5; k++, shown++)
			fprintf(f, "    note: %s\n", r->windows[i].warnings[k]);
	free(g);
}

void summary_print(FILE *f, const struct gops_result *r, const struct summary_ctx *c)
{
	fprintf(f, "\n greenops: energy of '%s'", c && c->command ? c->command : "span");
	if (c && c->signal)
		fprintf(f, " (killed by signal %d)", c->signal);
	else if (c)
		fprintf(f, " (exit %d)", c->exit_status);
	fprintf(f, "\n\n");
	size_t n_summed = 0;
	for (size_t i = 0; i < r->n_domains; i++) {
		domain_line(f, &r->domains[i]);
		n_summed += r->domains[i].summed;
	}
	if (r->n_domains == 0)
		fprintf(f, "  no energy sensor found: nothing measured\n");
	fprintf(f, "  %s\n", "------------------------------");
	energy_cell(f, r->energy_j, r->uncertainty_j);
	fprintf(f, "  total");
	if (n_summed) {
		fprintf(f, " (");
		for (size_t i = 0, k = 0; i < r->n_domains; i++)
			if (r->domains[i].summed)
				fprintf(f, "%s%s", k++ ? " + " : "", r->domains[i].name);
		fprintf(f, ")");
	}
	char hb[32];
	if (!isnan(r->energy_j))
		fprintf(f, "  = %s", human_energy(r->energy_j, hb, sizeof hb));
	fputc('\n', f);
	if (!isnan(r->dynamic_energy_j))
		fprintf(f, "  %12.2f J %13s  dynamic (gross minus idle, baseline %s)\n", r->dynamic_energy_j,
		        "", r->idle_source);
	else
		fprintf(f, "  %28s  dynamic: no idle baseline (greenops idle, or --idle)\n", "");
	if (!isnan(r->units) && r->units > 0) {
		fprintf(f, "  %12.6g J/unit %8s  %.0f units", r->energy_per_unit_j, "", r->units);
		if (!isnan(r->dynamic_energy_j))
			fprintf(f, " (dynamic %.6g J/unit)", r->dynamic_energy_j / r->units);
		fputc('\n', f);
	}
	if (c && c->carbon_g_per_kwh > 0 && !isnan(r->energy_j)) {
		double pue = c->pue > 0 ? c->pue : 1;
		double kwh = r->energy_j * pue / 3.6e6;
		fprintf(f, "  %12.4g g CO2e %7s  at %.0f g/kWh, PUE %.2f\n", kwh * c->carbon_g_per_kwh, "",
		        c->carbon_g_per_kwh, pue);
		if (c->price_per_kwh > 0)
			fprintf(f, "  %12.4g %-6s %7s  at %.4g per kWh\n", kwh * c->price_per_kwh,
			        c->currency ? c->currency : "", "", c->price_per_kwh);
	}
	fprintf(f, "\n  %12.6f s elapsed\n", r->duration_s);
	windows(f, r);

	bool header = false;
	for (size_t i = 0; i < r->n_warnings; i++) {
		if (!header)
			fprintf(f, "\n  notes:\n"), header = true;
		fprintf(f, "    %s\n", r->warnings[i]);
	}
	for (size_t i = 0; i < r->n_domains; i++)
		for (size_t k = 0; k < r->domains[i].n_warnings; k++) {
			if (!header)
				fprintf(f, "\n  notes:\n"), header = true;
			fprintf(f, "    %s: %s\n", r->domains[i].name, r->domains[i].warnings[k]);
		}
	if (r->malformed_control_lines)
		fprintf(f, "    %zu malformed control line(s) ignored\n", r->malformed_control_lines);
	fputc('\n', f);
}
