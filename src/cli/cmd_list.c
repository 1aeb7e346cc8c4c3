/* greenops list: tries every energy source, shows what each found (domains, counter or power,
 * range, update period measured over half a second, readability), what it did not find and
 * why, and which domains a run would sum. --json writes the same as one object. A diagnostic
 * of the sources themselves, so it opens them through their internal interface (source.h,
 * select.h): the one verb that does; not public API (docs/ARCHITECTURE.md). */
#include "cli/commands.h"
#include "cli/config.h"
#include "base/fmt.h"
#include "sources/select.h"
#include "sources/source.h"
#include "base/util.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char usage_list[] =
    "usage: greenops list [--sources LIST] [--cpu-tdp W] [--json FILE|-]\n"
    "\n"
    "Tries every energy source (nvml, perf, powercap, hwmon, estimate) and shows what each\n"
    "found: domains, whether they are energy counters or power readings, the counter's range,\n"
    "the update period measured over half a second, and why a source found nothing (absent\n"
    "hardware, permissions, counters that do not move). Ends with the domains a run would sum.\n"
    "\n"
    "  --sources LIST  only these sources, as 'greenops run --sources LIST' would open them\n"
    "  --cpu-tdp W     full-load CPU power for the estimator\n"
    "  --json FILE     also write the findings as JSON ('-': JSON alone on stdout)\n";

#define MEASURE_NS 500000000LL

struct src_rec {
	const struct gops_source_ops *ops;
	struct gops_source *s;
	int status; /* open's return */
	char err[512];
	struct gops_notes notes;
	bool used;          /* a run with the same --sources would open it */
	size_t first, last; /* its domains in the shared list */
};

struct probe {
	bool tried, energy; /* read the counter (else power) */
	int failed;         /* last read's errno */
	size_t reads, changes;
	double first_v, last_v, first_t, last_t; /* value at the first read; at the last change */
	double first_change_v;                   /* value at the first change */
	int64_t t_first_change, t_last_change;
	double cost_ns; /* summed read time */
	double power_w;
};

static void probe_domains(struct src_rec *src, size_t nsrc, struct gops_domain_list *dl, struct probe *p)
{
	for (size_t i = 0; i < dl->n; i++) {
		const struct gops_domain *d = &dl->v[i];
		p[i].tried = !d->estimated;
		p[i].energy =
		    (d->caps & GOPS_CAP_ENERGY) && !(d->energy_expensive && (d->caps & GOPS_CAP_POWER));
		p[i].power_w = NAN;
	}
	int64_t start = gops_now_ns();
	double prev[dl->n + 1];
	for (int64_t now = start; now - start < MEASURE_NS; now = gops_now_ns()) {
		for (size_t s = 0; s < nsrc; s++) {
			for (size_t i = src[s].first; i < src[s].last; i++) {
				if (!p[i].tried)
					continue;
				const struct gops_domain *d = &dl->v[i];
				double v;
				int64_t t0 = gops_now_ns();
				int r = p[i].energy ? src[s].ops->read_energy(src[s].s, d->index, &v)
				                    : src[s].ops->read_power(src[s].s, d->index, &v);
				int64_t t1 = gops_now_ns();
				if (r < 0) {
					p[i].failed = r;
					continue;
				}
				p[i].cost_ns += (double)(t1 - t0);
				if (p[i].reads == 0) {
					p[i].first_v = v, p[i].first_t = (double)t1 / 1e9;
				} else if (v != prev[i]) {
					if (p[i].changes == 0)
						p[i].t_first_change = t1, p[i].first_change_v = v;
					p[i].t_last_change = t1;
					p[i].changes++;
					p[i].last_v = v, p[i].last_t = (double)t1 / 1e9;
				}
				prev[i] = v;
				p[i].reads++;
				if (!p[i].energy)
					p[i].power_w = v;
			}
		}
		gops_sleep_until(gops_now_ns() + 50000);
	}
	for (size_t s = 0; s < nsrc; s++)
		for (size_t i = src[s].first; i < src[s].last; i++) {
			double w;
			/* The model's figure for the CPU load of the half second just spent. */
			if (dl->v[i].estimated && src[s].ops->read_power(src[s].s, dl->v[i].index, &w) == 0)
				p[i].power_w = w;
		}
	for (size_t i = 0; i < dl->n; i++) {
		if (p[i].changes == 0)
			continue;
		/* Between the first and the last change seen: each value is fresh where it has just
		 * changed, whereas the first read may hold a value whoever publishes it is late with. */
		if (p[i].energy && p[i].changes >= 2 && p[i].t_last_change > p[i].t_first_change)
			p[i].power_w = (p[i].last_v - p[i].first_change_v) /
			               ((double)(p[i].t_last_change - p[i].t_first_change) / 1e9);
		else if (p[i].energy && p[i].last_t > p[i].first_t)
			p[i].power_w = (p[i].last_v - p[i].first_v) / (p[i].last_t - p[i].first_t);
	}
}

static double update_period(const struct probe *p)
{
	if (p->changes < 2)
		return NAN;
	return (double)(p->t_last_change - p->t_first_change) / 1e9 / (double)(p->changes - 1);
}

static json_t *jnum(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static json_t *domain_json(const struct gops_domain *d, const struct probe *p, const char *source,
                           bool summed)
{
	json_t *o = json_object();
	json_object_set_new(o, "name", json_string(d->name));
	json_object_set_new(o, "source", json_string(source));
	json_object_set_new(o, "kind", json_string(gops_kind_name(d->kind)));
	json_object_set_new(o, "label", json_string(d->label));
	json_object_set_new(o, "reading",
	                    json_string(d->estimated                ? "model"
	                                : d->caps & GOPS_CAP_ENERGY ? "counter"
	                                                            : "power"));
	json_object_set_new(o, "estimated", json_boolean(d->estimated));
	json_object_set_new(o, "counter_range_j", d->range_j > 0 ? json_real(d->range_j) : json_null());
	json_object_set_new(o, "max_power_w", d->max_power_w > 0 ? json_real(d->max_power_w) : json_null());
	json_object_set_new(o, "parent", d->parent[0] ? json_string(d->parent) : json_null());
	json_object_set_new(o, "readable", json_boolean(!p->failed));
	json_object_set_new(o, "update_period_s", jnum(update_period(p)));
	json_object_set_new(o, "nominal_update_period_s",
	                    d->update_period_s > 0 ? json_real(d->update_period_s) : json_null());
	json_object_set_new(o, "moving", p->tried ? json_boolean(p->changes > 0) : json_null());
	json_object_set_new(o, "power_w", jnum(p->power_w));
	json_object_set_new(o, "read_cost_us",
	                    p->reads ? json_real(p->cost_ns / (double)p->reads / 1e3) : json_null());
	json_object_set_new(o, "summed", json_boolean(summed));
	json_t *notes = json_array();
	for (size_t k = 0; k < d->n_notes; k++)
		json_array_append_new(notes, json_string(d->notes[k]));
	json_object_set_new(o, "notes", notes);
	return o;
}

static void print_domain(FILE *f, const struct gops_domain *d, const struct probe *p, bool parent_found)
{
	char range[48] = "", period[48] = "", power[32] = "", v[GOPS_FMT_LEN];
	if (d->range_j > 0)
		snprintf(range, sizeof range, "wraps at %s", gops_fmt_si(v, sizeof v, d->range_j, "J", 4));
	double up = update_period(p);
	if (d->estimated)
		snprintf(period, sizeof period, "model (/proc)");
	else if (p->failed)
		snprintf(period, sizeof period, "read failed: %s", strerror(-p->failed));
	else if (isfinite(up))
		snprintf(period, sizeof period, "updates every %s", gops_fmt_si(v, sizeof v, up, "s", 3));
	else if (p->changes == 1)
		snprintf(period, sizeof period, "changed once in 0.5 s");
	else if (p->energy)
		snprintf(period, sizeof period, "NOT MOVING in 0.5 s");
	else
		snprintf(period, sizeof period, "constant for 0.5 s");
	if (isfinite(p->power_w))
		gops_fmt_si(power, sizeof power, p->power_w, "W", 3);
	fprintf(f, "  %-14s %-8s %-7s %-22s %-24s %s\n", d->name, gops_kind_name(d->kind),
	        d->estimated                ? "model"
	        : d->caps & GOPS_CAP_ENERGY ? "counter"
	                                    : "power",
	        range, period, power);
	char limit[32] = "";
	if (d->max_power_w > 0 && !d->estimated)
		snprintf(limit, sizeof limit, ", up to %s", gops_fmt_si(v, sizeof v, d->max_power_w, "W", 4));
	fprintf(f, "  %-14s %s%s%s%s\n", "", d->label, limit, parent_found ? ", inside " : "",
	        parent_found ? d->parent : "");
	for (size_t k = 0; k < d->n_notes; k++)
		fprintf(f, "  %-14s note: %s\n", "", d->notes[k]);
}

struct listing {
	struct src_rec src[8];
	size_t n;
	struct gops_domain_list dl;   /* every domain found */
	struct gops_domain_list used; /* those a run would open */
	bool *summed;                 /* by position in dl */
	struct probe *probe;
};

static bool named_in(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; p && *p;) {
		size_t len = strcspn(p, ",");
		if (len == n && strncmp(p, name, n) == 0)
			return true;
		p += len + (p[len] == ',');
	}
	return false;
}

static int open_all(struct listing *L, const char *list, const struct gops_source_args *args)
{
	for (size_t i = 0; i < gops_n_sources && L->n < sizeof L->src / sizeof L->src[0]; i++) {
		const struct gops_source_ops *ops = gops_sources[i];
		if (list && !named_in(list, ops->name))
			continue;
		struct src_rec *r = &L->src[L->n++];
		r->ops = ops;
		r->used = list ? true : gops_source_default(ops->name, &L->used);
		r->first = L->dl.n;
		r->status = ops->open(&r->s, args, &L->dl, &r->notes, r->err, sizeof r->err);
		if (r->status < 0)
			L->dl.n = r->first;
		r->last = L->dl.n;
		for (size_t k = r->first; r->used && k < r->last; k++)
			if (gops_domain_list_add(&L->used, &L->dl.v[k]) < 0)
				return -ENOMEM;
	}
	L->summed = calloc(L->dl.n + 1, sizeof *L->summed);
	L->probe = calloc(L->dl.n + 1, sizeof *L->probe);
	if (!L->summed || !L->probe)
		return -ENOMEM;
	size_t u = 0;
	for (size_t s = 0; s < L->n; s++)
		for (size_t k = L->src[s].first; k < L->src[s].last; k++)
			L->summed[k] = L->src[s].used && gops_domain_summed(&L->used, u++);
	return 0;
}

static const char *status_name(const struct src_rec *r)
{
	return r->status == 0 ? "found" : r->status == -ENOENT ? "absent" : "error";
}

static bool parent_found(const struct gops_domain_list *dl, const char *parent)
{
	for (size_t i = 0; parent[0] && i < dl->n; i++)
		if (strcmp(dl->v[i].name, parent) == 0)
			return true;
	return false;
}

static void print_listing(FILE *f, const struct listing *L)
{
	for (size_t s = 0; s < L->n; s++) {
		const struct src_rec *r = &L->src[s];
		if (r->status < 0)
			fprintf(f, "%-9s %s: %s\n", r->ops->name,
			        r->status == -ENOENT ? "nothing found" : "failed",
			        r->err[0] ? r->err : strerror(-r->status));
		else
			fprintf(f, "%-9s %zu domain%s%s\n", r->ops->name, r->last - r->first,
			        r->last - r->first == 1 ? "" : "s",
			        r->used ? "" : " (not used by a run: a sensor covers the CPU)");
		for (size_t k = 0; k < r->notes.n; k++)
			fprintf(f, "          note: %s\n", r->notes.v[k]);
		for (size_t k = r->first; k < r->last; k++)
			print_domain(f, &L->dl.v[k], &L->probe[k], parent_found(&L->dl, L->dl.v[k].parent));
	}
	fprintf(f, "\na run would sum:");
	bool any = false, est = false;
	for (size_t k = 0; k < L->dl.n; k++)
		if (L->summed[k]) {
			fprintf(f, " %s", L->dl.v[k].name);
			any = true;
			est = est || L->dl.v[k].estimated;
		}
	fprintf(f, "%s\n", any ? "" : " nothing (no source found a domain)");
	if (est)
		fprintf(f,
		        "CPU and RAM would be ESTIMATED from load and size, not measured: no readable RAPL "
		        "counter (see the notes above)\n");
}

static json_t *listing_json(const struct listing *L)
{
	json_t *root = json_object(), *srcs = json_array(), *summed = json_array();
	bool est = false;
	for (size_t s = 0; s < L->n; s++) {
		const struct src_rec *r = &L->src[s];
		json_t *o = json_object(), *notes = json_array(), *doms = json_array();
		json_object_set_new(o, "name", json_string(r->ops->name));
		json_object_set_new(o, "status", json_string(status_name(r)));
		json_object_set_new(o, "used", json_boolean(r->used && r->status == 0));
		json_object_set_new(o, "error",
		                    r->status < 0 ? json_string(r->err[0] ? r->err : strerror(-r->status))
		                                  : json_null());
		for (size_t k = 0; k < r->notes.n; k++)
			json_array_append_new(notes, json_string(r->notes.v[k]));
		for (size_t k = r->first; k < r->last; k++) {
			json_array_append_new(
			    doms, domain_json(&L->dl.v[k], &L->probe[k], r->ops->name, L->summed[k]));
			if (L->summed[k]) {
				json_array_append_new(summed, json_string(L->dl.v[k].name));
				est = est || L->dl.v[k].estimated;
			}
		}
		json_object_set_new(o, "notes", notes);
		json_object_set_new(o, "domains", doms);
		json_array_append_new(srcs, o);
	}
	json_object_set_new(root, "sources", srcs);
	json_object_set_new(root, "summed", summed);
	json_object_set_new(root, "estimated", json_boolean(est));
	return root;
}

static void listing_release(struct listing *L)
{
	for (size_t s = 0; s < L->n; s++) {
		if (L->src[s].s)
			L->src[s].ops->close(L->src[s].s);
		gops_notes_release(&L->src[s].notes);
	}
	gops_domain_list_release(&L->dl);
	gops_domain_list_release(&L->used);
	free(L->summed);
	free(L->probe);
}

static int write_json(const struct listing *L, const char *path)
{
	json_t *j = listing_json(L);
	FILE *f = strcmp(path, "-") ? fopen(path, "w") : stdout;
	int bad = !f;
	if (f) {
		bad = json_dumpf(j, f, JSON_INDENT(2)) != 0 || fputc('\n', f) == EOF;
		if (f != stdout)
			bad = fclose(f) != 0 || bad;
	}
	json_decref(j);
	if (bad)
		return cmd_error("list", "cannot write '%s': %s", path, strerror(errno));
	return 0;
}

int cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {{"json", required_argument, NULL, 'j'},
	                                     {"sources", required_argument, NULL, 's'},
	                                     {"cpu-tdp", required_argument, NULL, 't'},
	                                     {NULL, 0, NULL, 0}};
	const char *json_path = NULL, *list = NULL;
	struct gops_source_args args = {0};
	struct gops_options cfg; /* what the configuration file gives a run: the flags win */
	gops_options_init(&cfg);
	config_monitor_defaults(&cfg, CONFIG_SOURCES | CONFIG_CPU_TDP);
	list = cfg.sources;
	args.cpu_tdp_w = cfg.cpu_tdp_w;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:", opts, NULL)) != -1) {
		if (c == 'j') {
			json_path = optarg;
		} else if (c == 's') {
			const struct gops_source_ops *v[8];
			size_t n;
			char err[256];
			if (gops_sources_parse(optarg, v, 8, &n, err, sizeof err) < 0)
				return cmd_usage_error("list", "%s", err);
			list = optarg;
		} else if (c == 't') {
			char *end;
			double w = strtod(optarg, &end);
			if (*end || !(w > 0) || !isfinite(w))
				return cmd_usage_error("list", "invalid value '%s' for --cpu-tdp: watts > 0",
				                       optarg);
			args.cpu_tdp_w = w;
		} else {
			return cmd_option_error("list", c, argv);
		}
	}
	if (optind < argc)
		return cmd_usage_error("list", "unexpected argument '%s'", argv[optind]);
	struct listing L = {0};
	int rc = 0;
	if (open_all(&L, list, &args) < 0) {
		rc = cmd_error("list", "out of memory");
		goto out;
	}
	probe_domains(L.src, L.n, &L.dl, L.probe);
	if (!json_path || strcmp(json_path, "-") != 0)
		print_listing(stdout, &L);
	if (json_path)
		rc = write_json(&L, json_path);
out:
	listing_release(&L);
	return rc;
}
