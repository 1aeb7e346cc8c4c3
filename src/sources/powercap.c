/* RAPL through the powercap sysfs tree (/sys/class/powercap/intel-rapl:*): one domain per
 * zone and sub-zone, counters unwrapped here with max_energy_range_uj. The tree is read
 * directly rather than through libpowercap: that library fixes the /sys path, so the fake
 * trees under GREENOPS_SYSFS_ROOT that the tests build could not stand in for a machine's. */
#include "sources/source.h"
#include "sources/powercap.h"
#include "sources/sysfs.h"
#include "base/util.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where a zone states no power limit, a wrap is judged plausible up to this power. It is an
 * assumption for unwrapping only, never reported as the domain's limit. */
#define ASSUMED_MAX_POWER_W  500.0
#define RAPL_UPDATE_PERIOD_S 0.001

void gops_powercap_access_note(char *buf, size_t len, const char *path)
{
	snprintf(buf, len,
	         "cannot read '%s': permission denied (root-only since the RAPL security fix); "
	         "grant read access with 'sudo chmod o+r %s' or a udev rule such as "
	         "SUBSYSTEM==\"powercap\", ACTION==\"add\", RUN+=\"/bin/chmod o+r /sys%%p/energy_uj\"",
	         path, path);
}

int gops_powercap_parse_zone(const char *dirname, bool *mmio, int *zone, int *sub)
{
	const char *p;
	if (strncmp(dirname, "intel-rapl-mmio:", 16) == 0)
		*mmio = true, p = dirname + 16;
	else if (strncmp(dirname, "intel-rapl:", 11) == 0)
		*mmio = false, p = dirname + 11;
	else
		return -EINVAL;
	char *end;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	*zone = (int)strtol(p, &end, 10);
	*sub = -1;
	if (*end == ':') {
		p = end + 1;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		*sub = (int)strtol(p, &end, 10);
	}
	return *end ? -EINVAL : 0;
}

struct zone {
	char dir[64];
	bool mmio;
	int zone, sub;
	char name[32]; /* the zone's own name file: package-0, dram, core, uncore, psys */
	double max_power_w;
};

struct pc_dom {
	char path[512];
	struct gops_unwrap u;
};

struct gops_source {
	struct pc_dom *d;
	size_t n;
	char err[600];
};

static int zone_cmp(const void *a, const void *b)
{
	const struct zone *x = a, *y = b;
	if (x->mmio != y->mmio)
		return x->mmio - y->mmio; /* the MSR zones win over their mmio duplicates */
	if (x->zone != y->zone)
		return x->zone - y->zone;
	return x->sub - y->sub;
}

static const char *zone_file(char *buf, size_t len, const struct zone *z, const char *file)
{
	char rel[256];
	snprintf(rel, sizeof rel, "/sys/class/powercap/%s/%s", z->dir, file);
	return gops_sys_path(buf, len, rel);
}

/* The highest of the zone's stated limits: what the counter can plausibly run at. */
static double zone_max_power(const struct zone *z)
{
	double best = 0;
	for (int c = 0; c < 8; c++) {
		static const char *const files[] = {"max_power_uw", "power_limit_uw"};
		for (size_t f = 0; f < 2; f++) {
			char name[64], path[512];
			uint64_t uw;
			snprintf(name, sizeof name, "constraint_%d_%s", c, files[f]);
			if (gops_read_u64(zone_file(path, sizeof path, z, name), &uw) == 0 && uw / 1e6 > best)
				best = (double)uw / 1e6;
		}
	}
	return best;
}

static int scan_zones(struct zone **out, size_t *n, char *err, size_t errlen)
{
	char path[512];
	gops_sys_path(path, sizeof path, "/sys/class/powercap");
	DIR *dir = opendir(path);
	if (!dir) {
		snprintf(err, errlen, "no powercap tree at '%s'", path);
		return -ENOENT;
	}
	size_t cap = 0;
	*out = NULL;
	*n = 0;
	struct dirent *e;
	while ((e = readdir(dir))) {
		struct zone z = {0};
		if (strlen(e->d_name) >= sizeof z.dir ||
		    gops_powercap_parse_zone(e->d_name, &z.mmio, &z.zone, &z.sub) < 0)
			continue;
		gops_strlcpy(z.dir, e->d_name, sizeof z.dir);
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			struct zone *v = realloc(*out, cap * sizeof *v);
			if (!v) {
				closedir(dir);
				free(*out);
				*out = NULL;
				return -ENOMEM;
			}
			*out = v;
		}
		(*out)[(*n)++] = z;
	}
	closedir(dir);
	if (*n == 0) {
		snprintf(err, errlen, "no RAPL zone under '%s'", path);
		return -ENOENT;
	}
	qsort(*out, *n, sizeof **out, zone_cmp);
	return 0;
}

static const struct zone *find_top(const struct zone *v, size_t n, const struct zone *z)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].mmio == z->mmio && v[i].zone == z->zone && v[i].sub < 0)
			return &v[i];
	return NULL;
}

static int find_domain(const struct gops_domain_list *dl, const char *name)
{
	for (size_t i = 0; i < dl->n; i++)
		if (strcmp(dl->v[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Names the domain of zone z; false (with a note) for a zone greenops does not know. */
static bool zone_domain(const struct zone *v, size_t n, const struct zone *z, bool have_psys,
                        struct gops_domain *d, struct gops_notes *notes)
{
	int pkg = z->zone;
	const struct zone *top = z->sub >= 0 ? find_top(v, n, z) : NULL;
	if (top && sscanf(top->name, "package-%d", &pkg) != 1)
		pkg = z->zone;
	if (z->sub < 0 && sscanf(z->name, "package-%d", &pkg) == 1) {
		d->kind = GOPS_KIND_PACKAGE;
		snprintf(d->name, sizeof d->name, "%s", z->name);
		if (have_psys)
			snprintf(d->parent, sizeof d->parent, "psys");
	} else if (strcmp(z->name, "psys") == 0) {
		d->kind = GOPS_KIND_PSYS;
		snprintf(d->name, sizeof d->name, "psys");
	} else if (strcmp(z->name, "dram") == 0) {
		d->kind = GOPS_KIND_DRAM;
		snprintf(d->name, sizeof d->name, "dram-%d", pkg);
		if (have_psys)
			snprintf(d->parent, sizeof d->parent, "psys");
	} else if (strcmp(z->name, "core") == 0 || strcmp(z->name, "uncore") == 0) {
		d->kind = z->name[0] == 'c' ? GOPS_KIND_CORE : GOPS_KIND_UNCORE;
		if (d->kind == GOPS_KIND_CORE)
			snprintf(d->name, sizeof d->name, "core-%d", pkg);
		else
			snprintf(d->name, sizeof d->name, "uncore-%d", pkg);
		snprintf(d->parent, sizeof d->parent, "package-%d", pkg);
	} else {
		gops_notes_add(notes,
		               "powercap: zone '%s' is named '%s', which greenops does not know; skipped",
		               z->dir, z->name);
		return false;
	}
	return true;
}

/* Reads a zone's counter for the first time; false (with a note) when it is unusable. */
static bool zone_first_read(const struct zone *z, const char *name, uint64_t *raw, uint64_t *range,
                            char *path, size_t len, struct gops_notes *notes, bool *denied)
{
	char rpath[512], msg[1536]; /* the access note names the path twice */
	zone_file(path, len, z, "energy_uj");
	int r = gops_read_u64(path, raw);
	if (r == -EACCES || r == -EPERM) {
		gops_powercap_access_note(msg, sizeof msg, path);
		gops_notes_add(notes, "powercap: %s unavailable: %s", name, msg);
		*denied = true;
		return false;
	}
	if (r == -EINVAL) {
		gops_notes_add(notes, "powercap: %s unavailable: cannot read '%s': not a number", name, path);
		return false;
	}
	if (r < 0) {
		gops_notes_add(notes, "powercap: %s unavailable: cannot read '%s': %s", name, path,
		               strerror(-r));
		return false;
	}
	if (*raw == 0) {
		gops_notes_add(notes, "powercap: %s ('%s') reads 0: present but not moving; left out", name,
		               path);
		return false;
	}
	zone_file(rpath, sizeof rpath, z, "max_energy_range_uj");
	r = gops_read_u64(rpath, range);
	if (r < 0 || *range == 0) {
		gops_notes_add(notes, "powercap: %s unavailable: cannot read '%s': %s", name, rpath,
		               r == -EINVAL || r == 0 ? "not a positive number" : strerror(-r));
		return false;
	}
	return true;
}

static int add_zone(struct gops_source *s, const struct zone *v, size_t n, const struct zone *z,
                    bool have_psys, struct gops_domain_list *dl, struct gops_notes *notes, bool *denied)
{
	struct gops_domain d = {0};
	if (!zone_domain(v, n, z, have_psys, &d, notes))
		return 0;
	int prev = find_domain(dl, d.name);
	if (prev >= 0) {
		if (z->mmio && strstr(dl->v[prev].label, "(powercap "))
			gops_notes_add(notes,
			               "powercap: '%s' (%s) duplicates an intel-rapl zone; kept that one",
			               z->dir, d.name);
		else
			gops_notes_add(notes,
			               "powercap: %s is already read through another source ('%s'); "
			               "powercap's '%s' left unused",
			               d.name, dl->v[prev].label, z->dir);
		return 0;
	}
	uint64_t raw, range;
	struct pc_dom pd = {0};
	if (!zone_first_read(z, d.name, &raw, &range, pd.path, sizeof pd.path, notes, denied))
		return 0;
	const struct zone *top = z->sub >= 0 ? find_top(v, n, z) : NULL;
	d.max_power_w = z->max_power_w > 0            ? z->max_power_w
	                : top && top->max_power_w > 0 ? top->max_power_w
	                                              : 0;
	d.range_j = (double)range / 1e6;
	d.caps = GOPS_CAP_ENERGY;
	d.update_period_s = RAPL_UPDATE_PERIOD_S;
	d.index = (int)s->n;
	snprintf(d.label, sizeof d.label, "RAPL %s (powercap %s)", z->name, z->dir);
	gops_unwrap_init(&pd.u, raw, gops_now_ns(), range, 1e-6,
	                 d.max_power_w > 0 ? d.max_power_w : ASSUMED_MAX_POWER_W);
	struct pc_dom *nv = realloc(s->d, (s->n + 1) * sizeof *nv);
	if (!nv)
		return -ENOMEM;
	s->d = nv;
	s->d[s->n++] = pd;
	int r = gops_domain_list_add(dl, &d);
	return r < 0 ? r : 0;
}

static void pc_close(struct gops_source *s)
{
	if (!s)
		return;
	free(s->d);
	free(s);
}

static int pc_open(struct gops_source **out, const struct gops_source_args *args, struct gops_domain_list *dl,
                   struct gops_notes *notes, char *err, size_t errlen)
{
	struct zone *v;
	size_t n;
	*out = NULL;
	int r = scan_zones(&v, &n, err, errlen);
	if (r < 0)
		return r;
	struct gops_source *s = calloc(1, sizeof *s);
	if (!s) {
		free(v);
		return -ENOMEM;
	}
	bool have_psys = find_domain(dl, "psys") >= 0;
	for (size_t i = 0; i < n; i++) {
		char path[512];
		if (gops_read_file(zone_file(path, sizeof path, &v[i], "name"), v[i].name, sizeof v[i].name) <
		    0)
			v[i].name[0] = 0;
		v[i].max_power_w = zone_max_power(&v[i]);
		have_psys = have_psys || strcmp(v[i].name, "psys") == 0;
	}
	bool denied = false;
	for (size_t i = 0; i < n && r == 0; i++) {
		if (!v[i].name[0]) {
			char path[512];
			gops_notes_add(notes, "powercap: cannot read '%s'; zone skipped",
			               zone_file(path, sizeof path, &v[i], "name"));
			continue;
		}
		r = add_zone(s, v, n, &v[i], have_psys, dl, notes, &denied);
	}
	free(v);
	if (r == 0 && s->n == 0) {
		char path[512];
		snprintf(err, errlen, "no readable RAPL counter under '%s'%s",
		         gops_sys_path(path, sizeof path, "/sys/class/powercap"),
		         denied ? ": permission denied (see notes)" : "");
		r = -ENOENT;
	}
	if (r < 0) {
		pc_close(s);
		return r;
	}
	*out = s;
	return 0;
}

static int pc_read_energy(struct gops_source *s, int index, double *joules)
{
	if (index < 0 || (size_t)index >= s->n)
		return -EINVAL;
	struct pc_dom *d = &s->d[index];
	return gops_sysfs_counter_read(&d->u, d->path, joules, s->err, sizeof s->err);
}

static int pc_read_power(struct gops_source *s, int index, double *watts)
{
	(void)s, (void)index, (void)watts;
	return GOPS_ENOTSUP;
}

static const char *pc_error(struct gops_source *s)
{
	return s ? s->err : "";
}

const struct gops_source_ops gops_source_powercap = {
    .name = "powercap",
    .open = pc_open,
    .read_energy = pc_read_energy,
    .read_power = pc_read_power,
    .error = pc_error,
    .close = pc_close,
};
