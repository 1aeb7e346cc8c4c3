/* The human summary of a run, on stderr, like `perf stat`: one line per domain, the total
 * of the non-overlapping domains, per-unit energy, windows grouped by name, then notes. */
#include "cli/summary.h"
#include "base/fmt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* "700.0 J ± 2.3 J", right-aligned. */
/* printf pads by bytes: a "µ" or "±" takes two bytes and one column. */
static int utf8_extra(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) == 0x80;
	return n;
}

static void energy_cell(FILE *f, double j, double unc)
{
	char cell[GOPS_FMT_LEN];
	if (isnan(j)) {
		fprintf(f, "  %22s", "not measured");
		return;
	}
	gops_fmt_si_pm(cell, sizeof cell, j, unc, "J", 4);
	fprintf(f, "  %*s", 22 + utf8_extra(cell), cell);
}

static void domain_line(FILE *f, const struct gops_domain_result *d)
{
	char a[GOPS_FMT_LEN];
	energy_cell(f, d->energy_j, d->uncertainty_j);
	fprintf(f, "  %-13s %-10s", d->name, gops_method_name(d->method));
	if (!isnan(d->avg_power_w)) {
		gops_fmt_si(a, sizeof a, d->avg_power_w, "W", 4);
		fprintf(f, " %*s avg", 9 + utf8_extra(a), a);
	} else {
		fprintf(f, " %13s", "");
	}
	if (!isnan(d->peak_power_w)) {
		gops_fmt_si(a, sizeof a, d->peak_power_w, "W", 4);
		fprintf(f, " %*s peak", 9 + utf8_extra(a), a);
	} else {
		fprintf(f, " %14s", "");
	}
	if (!d->summed && d->method != GOPS_METHOD_NONE)
		fprintf(f, "  (inside another domain, not summed)");
	fputc('\n', f);
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
	char a[GOPS_FMT_LEN], b[GOPS_FMT_LEN];
	fprintf(f, "\n  windows:\n");
	for (size_t k = 0; k < ng; k++) {
		fprintf(f, "  %-16s x%-5zu %10s", g[k].name, g[k].count,
		        gops_fmt_si(a, sizeof a, g[k].energy, "J", 4));
		if (g[k].count > 1)
			fprintf(f, "  %10s each", gops_fmt_si(a, sizeof a, g[k].energy / g[k].count, "J", 4));
		if (g[k].have_dyn)
			fprintf(f, "  %10s dynamic", gops_fmt_si(a, sizeof a, g[k].dynamic, "J", 4));
		if (g[k].have_units && g[k].units > 0)
			fprintf(f, "  %s/unit (%s units)",
			        gops_fmt_si(a, sizeof a, g[k].energy / g[k].units, "J", 4),
			        gops_fmt_sig(b, sizeof b, g[k].units, 6));
		fputc('\n', f);
	}
	/* Individual windows only when few: a training loop may mark thousands. */
	if (r->n_windows <= 12 && r->n_windows > ng)
		for (size_t i = 0; i < r->n_windows; i++) {
			const struct gops_window_result *w = &r->windows[i];
			fprintf(f, "    %-14s %8.3f-%-8.3f s %s\n", w->name, w->start_s, w->end_s,
			        gops_fmt_si_pm(a, sizeof a, w->energy_j, w->uncertainty_j, "J", 4));
		}
	for (size_t i = 0, shown = 0; i < r->n_windows && shown < 5; i++)
		for (size_t k = 0; k < r->windows[i].n_warnings && shown < 5; k++, shown++)
			fprintf(f, "    note: %s\n", r->windows[i].warnings[k]);
	free(g);
}

/* A source that was looked for and gave no domain: its note ("nvml: cannot load ...") is
 * summed up in one line; `greenops list` says it in full. Such a note begins with a source's
 * name (lower-case letters and digits) and a colon, the word being neither a measured
 * domain's source nor a domain's name (which begin the notes about domains that were
 * measured). A note such as "CUDA_VISIBLE_DEVICES=0: measuring gpu0 only" is not one. */
static bool about_absent_source(const struct gops_result *r, const char *note)
{
	size_t n = strspn(note, "abcdefghijklmnopqrstuvwxyz0123456789");
	if (n == 0 || note[n] != ':' || note[n + 1] != ' ')
		return false;
	for (size_t k = 0; k < r->n_domains; k++)
		if (!strncmp(r->domains[k].source, note, n) && !r->domains[k].source[n])
			return false;
		else if (!strncmp(r->domains[k].name, note, n) && !r->domains[k].name[n])
			return false;
	return true;
}

static void notes_header(FILE *f, bool *shown)
{
	if (!*shown)
		fprintf(f, "\n  notes:\n");
	*shown = true;
}

/* Notes, briefly: absent sources and estimates in one line (`greenops list` has the
 * details), then what concerns this measurement itself. */
static void notes(FILE *f, const struct gops_result *r)
{
	char absent[256] = "", estimated[256] = "";
	size_t la = 0, le = 0;
	bool shown = false;
	for (size_t i = 0; i < r->n_warnings; i++)
		if (about_absent_source(r, r->warnings[i]) && la < sizeof absent)
			la += (size_t)snprintf(absent + la, sizeof absent - la, "%s%.*s", la ? ", " : "",
			                       (int)strcspn(r->warnings[i], ":"), r->warnings[i]);
	for (size_t i = 0; i < r->n_domains; i++)
		if (r->domains[i].method == GOPS_METHOD_ESTIMATED && le < sizeof estimated)
			le += (size_t)snprintf(estimated + le, sizeof estimated - le, "%s%s", le ? ", " : "",
			                       r->domains[i].name);
	if (la || le) {
		notes_header(f, &shown);
		fprintf(f, "    ");
		if (la)
			fprintf(f, "no sensor from %s", absent);
		if (le)
			fprintf(f, "%s%s: estimated, not measured", la ? "; " : "", estimated);
		fprintf(f, " (details: greenops list)\n");
	}
	for (size_t i = 0; i < r->n_warnings; i++)
		if (!about_absent_source(r, r->warnings[i]))
			notes_header(f, &shown), fprintf(f, "    %s\n", r->warnings[i]);
	for (size_t i = 0; i < r->n_domains; i++)
		for (size_t k = r->domains[i].n_sensor_notes; k < r->domains[i].n_warnings; k++)
			notes_header(f, &shown),
			    fprintf(f, "    %s: %s\n", r->domains[i].name, r->domains[i].warnings[k]);
}

/* One line per shared GPU: the command's estimated share of its measured energy. */
static void attributions(FILE *f, const struct gops_result *r)
{
	for (size_t i = 0; i < r->n_attributions; i++) {
		const struct gops_attribution *at = &r->attributions[i];
		char a[GOPS_FMT_LEN], b[GOPS_FMT_LEN];
		gops_fmt_si(a, sizeof a, at->command_j, "J", 3);
		gops_fmt_si(b, sizeof b, at->energy_j, "J", 3);
		bool mig = !strcmp(at->basis, "mig_slices");
		if (mig) {
			size_t used = 0;
			for (size_t k = 0; k < at->n_instances; k++)
				used += at->instances[k].command;
			fprintf(f,
			        "  %s MIG, %zu instance%s, the command on %zu: this command \u2248 %s of %s "
			        "(estimated from the busy instances' slices)\n",
			        at->domain, at->n_instances, at->n_instances == 1 ? "" : "s", used, a, b);
		} else {
			fprintf(
			    f,
			    "  %s shared with %zu other process%s: this command \u2248 %s of %s (estimated "
			    "from SM utilisation)\n",
			    at->domain, at->n_other_processes, at->n_other_processes == 1 ? "" : "es", a, b);
		}
		if (at->missing_s > 0)
			fprintf(
			    f,
			    "  %s: %.1f s shared without utilisation samples: their energy is unattributed\n",
			    at->domain, at->missing_s);
	}
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
	char a[GOPS_FMT_LEN], b[GOPS_FMT_LEN];
	if (!isnan(r->energy_j))
		fprintf(f, "  = %s", gops_fmt_si(a, sizeof a, r->energy_j / 3600, "Wh", 4));
	fputc('\n', f);
	if (!isnan(r->dynamic_energy_j)) {
		gops_fmt_si(a, sizeof a, r->dynamic_energy_j, "J", 4);
		fprintf(f, "  %*s  dynamic (gross minus idle, baseline %s)\n", 22 + utf8_extra(a), a,
		        r->idle_source);
	} else {
		fprintf(f, "  %22s  dynamic: no idle baseline (greenops idle, or --idle)\n", "");
	}
	if (!isnan(r->units) && r->units > 0) {
		gops_fmt_si(a, sizeof a, r->energy_per_unit_j, "J", 4);
		fprintf(f, "  %*s/unit  %s units", 17 + utf8_extra(a), a,
		        gops_fmt_sig(b, sizeof b, r->units, 6));
		/* Units from --units and from the command's own `units` lines are added: say so. */
		if (c && c->units_given > 0 && fabs(r->units - c->units_given) > 1e-9 * r->units)
			fprintf(f, " (%s from --units + %s reported by the command)",
			        gops_fmt_sig(a, sizeof a, c->units_given, 6),
			        gops_fmt_sig(b, sizeof b, r->units - c->units_given, 6));
		if (!isnan(r->dynamic_energy_j))
			fprintf(f, " (dynamic %s/unit)",
			        gops_fmt_si(a, sizeof a, r->dynamic_energy_j / r->units, "J", 4));
		fputc('\n', f);
	}
	if (c && c->carbon_g_per_kwh > 0 && !isnan(r->energy_j)) {
		double pue = c->pue > 0 ? c->pue : 1;
		double kwh = r->energy_j * pue / 3.6e6;
		gops_fmt_si(a, sizeof a, kwh * c->carbon_g_per_kwh, "g", 4);
		fprintf(f, "  %*s CO2e  at %s g/kWh, PUE %.2f\n", 17 + utf8_extra(a), a,
		        gops_fmt_sig(b, sizeof b, c->carbon_g_per_kwh, 6), pue);
		if (c->price_per_kwh > 0) {
			const char *cur = c->currency && c->currency[0] ? c->currency : NULL;
			fprintf(f, "  %17s %-4s  at %s %s per kWh\n",
			        gops_fmt_sig(a, sizeof a, kwh * c->price_per_kwh, 3), cur ? cur : "",
			        gops_fmt_sig(b, sizeof b, c->price_per_kwh, 6),
			        cur ? cur : "(no --currency)");
		}
	}
	attributions(f, r);
	fprintf(f, "\n  %22s elapsed\n", gops_fmt_si(a, sizeof a, r->duration_s, "s", 4));
	windows(f, r);

	notes(f, r);
	if (r->malformed_control_lines)
		fprintf(f, "  %zu malformed control line(s) ignored\n", r->malformed_control_lines);
	fputc('\n', f);
}
