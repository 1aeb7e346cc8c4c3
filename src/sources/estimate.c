/* The estimator for machines without CPU/RAM sensors: cpu-estimate is full-load CPU power
 * (the caller's cpu_tdp_w, a small table of CPU models, or a per-thread default) scaled by the CPU
 * load from /proc/stat; ram-estimate is a constant per GB of /proc/meminfo's MemTotal.
 * Both are models, labelled as such everywhere (docs/SENSORS.md has the reasoning). */
#include "sources/source.h"
#include "sources/estimate.h"
#include "sources/sysfs.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STAT_UPDATE_PERIOD_S 0.01 /* /proc/stat counts in USER_HZ ticks */

/* Full-load (TDP) power per socket and threads per socket, from the vendors' specifications. */
static const struct {
	const char *model; /* a substring of /proc/cpuinfo's "model name" */
	double tdp_w;
	int threads;
} cpu_table[] = {
    {"Platinum 8480", 350, 112}, {"Platinum 8468", 350, 96}, {"Platinum 8462Y", 300, 64},
    {"Platinum 8380", 270, 80},  {"Platinum 8358", 250, 64}, {"Gold 6248", 150, 40},
    {"Gold 6230", 125, 40},      {"EPYC 9654", 360, 192},    {"EPYC 9554", 360, 128},
    {"EPYC 9454", 290, 96},      {"EPYC 7763", 280, 128},    {"EPYC 7742", 225, 128},
    {"EPYC 7413", 180, 48},      {"i9-13900K", 125, 32},     {"i7-12700K", 125, 20},
    {"Ryzen 9 7950X", 170, 32},
};

double gops_estimate_cpu_power(double tdp_w, double load)
{
	if (load < 0)
		load = 0;
	if (load > 1)
		load = 1;
	return tdp_w * (GOPS_ESTIMATE_IDLE_FRACTION + (1 - GOPS_ESTIMATE_IDLE_FRACTION) * load);
}

long gops_estimate_threads(const char *cpuinfo)
{
	long n = 0;
	for (const char *p = cpuinfo; p && *p;) {
		if (strncmp(p, "processor", 9) == 0 && (p[9] == '\t' || p[9] == ' ' || p[9] == ':'))
			n++;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return n > 0 ? n : 1;
}

static void model_name(const char *cpuinfo, char *buf, size_t len)
{
	buf[0] = 0;
	const char *p = cpuinfo ? strstr(cpuinfo, "model name") : NULL;
	if (!p || !(p = strchr(p, ':')))
		return;
	p++;
	while (*p == ' ' || *p == '\t')
		p++;
	size_t n = strcspn(p, "\n");
	if (n >= len)
		n = len - 1;
	memcpy(buf, p, n);
	buf[n] = 0;
}

void gops_estimate_tdp(const char *cpuinfo, double given_w, double *tdp_w, enum gops_tdp_origin *origin,
                       char *why, size_t whylen)
{
	long threads = gops_estimate_threads(cpuinfo);
	if (given_w > 0) {
		*tdp_w = given_w;
		*origin = GOPS_TDP_GIVEN;
		snprintf(why, whylen, "%.4g W TDP given (--cpu-tdp)", given_w);
		return;
	}
	char model[96];
	model_name(cpuinfo, model, sizeof model);
	for (size_t i = 0; model[0] && i < sizeof cpu_table / sizeof cpu_table[0]; i++) {
		if (!strstr(model, cpu_table[i].model))
			continue;
		*tdp_w = cpu_table[i].tdp_w * (double)threads / cpu_table[i].threads;
		*origin = GOPS_TDP_TABLE;
		snprintf(why, whylen, "%.4g W: %s TDP %.0f W x %ld/%d threads", *tdp_w, cpu_table[i].model,
		         cpu_table[i].tdp_w, threads, cpu_table[i].threads);
		return;
	}
	*tdp_w = GOPS_ESTIMATE_W_PER_THREAD * (double)threads;
	*origin = GOPS_TDP_DEFAULT;
	snprintf(why, whylen, "%.4g W: default %.1f W/thread x %ld threads (model '%.40s' unknown)", *tdp_w,
	         GOPS_ESTIMATE_W_PER_THREAD, threads, model[0] ? model : "?");
}

int gops_estimate_ram(const char *meminfo, double *watts, double *gb)
{
	const char *p = meminfo ? strstr(meminfo, "MemTotal:") : NULL;
	unsigned long long kb;
	if (!p || sscanf(p + 9, "%llu", &kb) != 1 || kb == 0)
		return -EINVAL;
	*gb = (double)kb * 1024 / 1e9;
	*watts = *gb * GOPS_ESTIMATE_W_PER_GB;
	return 0;
}

/* Reads a whole /proc file (cpuinfo runs to hundreds of kB on big machines). */
static char *read_all(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t cap = 16384, n = 0;
	char *buf = malloc(cap);
	while (buf) {
		if (n + 1 >= cap) {
			char *nb = realloc(buf, cap *= 2);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
		}
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (buf)
		buf[n] = 0;
	return buf;
}

enum { DOM_CPU, DOM_RAM };

struct gops_source {
	struct gops_cpu_times prev;
	double tdp_w;
	double cpu_w; /* last estimate, kept when no tick elapsed */
	double ram_w;
	int kinds[2]; /* DOM_* by index */
	char err[600];
};

static bool have_rapl(const struct gops_domain_list *dl)
{
	for (size_t i = 0; i < dl->n; i++)
		if (!dl->v[i].estimated && dl->v[i].kind >= GOPS_KIND_PACKAGE &&
		    dl->v[i].kind <= GOPS_KIND_UNCORE)
			return true;
	return false;
}

static int add_cpu(struct gops_source *s, struct gops_domain_list *dl, const char *why, bool rapl)
{
	struct gops_domain d = {.kind = GOPS_KIND_ESTIMATE, .caps = GOPS_CAP_POWER, .estimated = true};
	snprintf(d.name, sizeof d.name, "cpu-estimate");
	snprintf(d.label, sizeof d.label, "CPU estimate (not measured): load x %.90s", why);
	d.max_power_w = s->tdp_w;
	d.update_period_s = STAT_UPDATE_PERIOD_S;
	gops_domain_note(&d, "estimated, not measured: /proc/stat CPU load x %.4g W full-load power",
	                 s->tdp_w);
	if (!rapl)
		gops_domain_note(&d, "no readable RAPL counter on this machine: see 'greenops list'");
	d.index = 0;
	s->kinds[0] = DOM_CPU;
	int r = gops_domain_list_add(dl, &d);
	return r < 0 ? r : 0;
}

static int add_ram(struct gops_source *s, struct gops_domain_list *dl, struct gops_notes *notes, int index)
{
	char path[512];
	char *mem = read_all(gops_sys_path(path, sizeof path, "/proc/meminfo"));
	double gb;
	int r = gops_estimate_ram(mem, &s->ram_w, &gb);
	free(mem);
	if (r < 0) {
		gops_notes_add(notes, "estimate: cannot read MemTotal from '%s'; no RAM estimate", path);
		return 0;
	}
	struct gops_domain d = {.kind = GOPS_KIND_ESTIMATE, .caps = GOPS_CAP_POWER, .estimated = true};
	snprintf(d.name, sizeof d.name, "ram-estimate");
	snprintf(d.label, sizeof d.label, "RAM estimate (not measured): %.1f GB x %.3g W/GB", gb,
	         GOPS_ESTIMATE_W_PER_GB);
	d.max_power_w = s->ram_w;
	gops_domain_note(&d, "estimated, not measured: %.3g W per GB of installed memory, whatever the load",
	                 GOPS_ESTIMATE_W_PER_GB);
	d.index = index;
	s->kinds[index] = DOM_RAM;
	r = gops_domain_list_add(dl, &d);
	return r < 0 ? r : 0;
}

static int es_open(struct gops_source **out, const struct gops_source_args *args, struct gops_domain_list *dl,
                   struct gops_notes *notes, char *err, size_t errlen)
{
	*out = NULL;
	struct gops_source *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	int r = gops_cpu_times_read(&s->prev, s->err, sizeof s->err);
	if (r < 0) {
		snprintf(err, errlen, "%s", s->err);
		free(s);
		return -ENOENT;
	}
	char path[512], why[128];
	char *info = read_all(gops_sys_path(path, sizeof path, "/proc/cpuinfo"));
	enum gops_tdp_origin origin;
	gops_estimate_tdp(info ? info : "", args ? args->cpu_tdp_w : 0, &s->tdp_w, &origin, why, sizeof why);
	free(info);
	s->cpu_w = gops_estimate_cpu_power(s->tdp_w, 0);
	r = add_cpu(s, dl, why, have_rapl(dl));
	if (r == 0)
		r = add_ram(s, dl, notes, 1);
	if (r < 0) {
		free(s);
		return r;
	}
	*out = s;
	return 0;
}

static int es_read_power(struct gops_source *s, int index, double *watts)
{
	if (index < 0 || index > 1)
		return -EINVAL;
	if (s->kinds[index] == DOM_RAM) {
		*watts = s->ram_w;
		return 0;
	}
	struct gops_cpu_times now;
	int r = gops_cpu_times_read(&now, s->err, sizeof s->err);
	if (r < 0)
		return r;
	double load = gops_cpu_load(&s->prev, &now);
	if (load >= 0) {
		s->cpu_w = gops_estimate_cpu_power(s->tdp_w, load);
		s->prev = now;
	}
	*watts = s->cpu_w;
	return 0;
}

static int es_read_energy(struct gops_source *s, int index, double *joules)
{
	(void)s, (void)index, (void)joules;
	return GOPS_ENOTSUP;
}

static const char *es_error(struct gops_source *s)
{
	return s ? s->err : "";
}

static void es_close(struct gops_source *s)
{
	free(s);
}

const struct gops_source_ops gops_source_estimate = {
    .name = "estimate",
    .open = es_open,
    .read_energy = es_read_energy,
    .read_power = es_read_power,
    .error = es_error,
    .close = es_close,
};
