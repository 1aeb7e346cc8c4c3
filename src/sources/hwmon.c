/* Board and GPU sensors under /sys/class/hwmon: energy*_input counters (uJ) and
 * power*_input / power*_average readings (uW). GPU drivers (amdgpu, discrete i915/xe) become
 * gpuN after the GPUs already found; every other sensor is "<driver>-<label>", kind other. */
#include "sources/source.h"
#include "sources/hwmon.h"
#include "sources/sysfs.h"
#include "base/util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_CHANNELS 16

void gops_hwmon_domain_name(char *buf, size_t len, const char *driver, const char *label)
{
	snprintf(buf, len, "%s-%s", driver, label);
	for (char *p = buf; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-')
			*p = '_';
}

bool gops_hwmon_is_gpu(const char *driver)
{
	/* i915 and xe register hwmon only for discrete cards, so they never overlap a package. */
	return strcmp(driver, "amdgpu") == 0 || strcmp(driver, "i915") == 0 || strcmp(driver, "xe") == 0;
}

struct chan {
	char label[48];
	char energy[512]; /* energyN_input path, "" none */
	char power[512];  /* powerN_input (or _average) path, "" none */
	double max_w;
};

struct hw_dom {
	char energy[512];
	char power[512];
	struct gops_unwrap u;
};

struct gops_source {
	struct hw_dom *d;
	size_t n;
	char err[600];
};

static int num_cmp(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

static bool exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static struct chan *chan_for(struct chan *c, size_t *n, const char *label)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp(c[i].label, label) == 0)
			return &c[i];
	if (*n >= MAX_CHANNELS)
		return NULL;
	memset(&c[*n], 0, sizeof c[*n]);
	gops_strlcpy(c[*n].label, label, sizeof c[*n].label);
	return &c[(*n)++];
}

/* Collects a device's channels from `dir`, merging energy and power of the same label. */
static void scan_channels(const char *dir, struct chan *c, size_t *n)
{
	for (int kind = 0; kind < 2; kind++) {
		const char *what = kind ? "power" : "energy";
		for (int k = 0; k <= MAX_CHANNELS; k++) {
			char path[512], label[48];
			snprintf(path, sizeof path, "%s/%s%d_input", dir, what, k);
			if (!exists(path)) {
				if (!kind)
					continue;
				snprintf(path, sizeof path, "%s/%s%d_average", dir, what, k);
				if (!exists(path))
					continue;
			}
			char lpath[512];
			snprintf(lpath, sizeof lpath, "%s/%s%d_label", dir, what, k);
			if (gops_read_file(lpath, label, sizeof label) <= 0)
				snprintf(label, sizeof label, "%s%d", what, k);
			struct chan *ch = chan_for(c, n, label);
			if (!ch)
				return;
			gops_strlcpy(kind ? ch->power : ch->energy, path, sizeof ch->power);
			if (kind) {
				static const char *const caps[] = {"cap_max", "cap", "max"};
				for (size_t i = 0; i < 3 && ch->max_w == 0; i++) {
					uint64_t uw;
					snprintf(lpath, sizeof lpath, "%s/power%d_%s", dir, k, caps[i]);
					if (gops_read_u64(lpath, &uw) == 0)
						ch->max_w = (double)uw / 1e6;
				}
			}
		}
	}
}

/* Checks that a sensor file reads as a number; false (with a note) otherwise. */
static bool readable(const char *path, const char *name, uint64_t *v, struct gops_notes *notes)
{
	int r = gops_read_u64(path, v);
	if (r == 0)
		return true;
	if (r == -EACCES || r == -EPERM)
		gops_notes_add(notes,
		               "hwmon: %s: cannot read '%s': permission denied; grant read access with "
		               "'sudo chmod o+r %s' or a udev rule",
		               name, path, path);
	else
		gops_notes_add(notes, "hwmon: %s: cannot read '%s': %s", name, path,
		               r == -EINVAL ? "not a number" : strerror(-r));
	return false;
}

static bool name_taken(const struct gops_domain_list *dl, const char *name)
{
	for (size_t i = 0; i < dl->n; i++)
		if (strcmp(dl->v[i].name, name) == 0)
			return true;
	return false;
}

static int add_domain(struct gops_source *s, struct gops_domain *d, const struct chan *ch,
                      struct gops_domain_list *dl, struct gops_notes *notes)
{
	struct hw_dom hd = {0};
	uint64_t v;
	if (ch->energy[0] && readable(ch->energy, d->name, &v, notes)) {
		if (v == 0) {
			gops_notes_add(notes,
			               "hwmon: %s ('%s') reads 0: present but not moving; counter left out",
			               d->name, ch->energy);
		} else {
			gops_strlcpy(hd.energy, ch->energy, sizeof hd.energy);
			gops_unwrap_init(&hd.u, v, gops_now_ns(), 0, 1e-6, ch->max_w);
			d->caps |= GOPS_CAP_ENERGY;
		}
	}
	if (ch->power[0] && readable(ch->power, d->name, &v, notes)) {
		gops_strlcpy(hd.power, ch->power, sizeof hd.power);
		d->caps |= GOPS_CAP_POWER;
	}
	if (!d->caps)
		return 0;
	d->max_power_w = ch->max_w;
	d->index = (int)s->n;
	struct hw_dom *nv = realloc(s->d, (s->n + 1) * sizeof *nv);
	if (!nv)
		return -ENOMEM;
	s->d = nv;
	s->d[s->n++] = hd;
	int r = gops_domain_list_add(dl, d);
	return r < 0 ? r : 1;
}

static int count_gpus(const struct gops_domain_list *dl)
{
	int n = 0;
	for (size_t i = 0; i < dl->n; i++)
		n += dl->v[i].kind == GOPS_KIND_GPU;
	return n;
}

static int add_device(struct gops_source *s, int num, struct gops_domain_list *dl, struct gops_notes *notes)
{
	char rel[128], dir[512], driver[32], path[512];
	snprintf(rel, sizeof rel, "/sys/class/hwmon/hwmon%d", num);
	gops_sys_path(dir, sizeof dir, rel);
	if (snprintf(path, sizeof path, "%s/name", dir) >= (int)sizeof path ||
	    gops_read_file(path, driver, sizeof driver) <= 0)
		return 0;
	struct chan c[MAX_CHANNELS];
	size_t n = 0;
	scan_channels(dir, c, &n);
	if (snprintf(path, sizeof path, "%s/device", dir) < (int)sizeof path)
		scan_channels(path, c, &n);
	if (n == 0)
		return 0;
	if (gops_hwmon_is_gpu(driver)) {
		/* One GPU: its first counter and first power (amdgpu's PPT) cover the whole board. */
		struct chan g = c[0];
		for (size_t i = 1; i < n && !(g.energy[0] && g.power[0]); i++) {
			if (!g.energy[0])
				memcpy(g.energy, c[i].energy, sizeof g.energy);
			if (!g.power[0]) {
				memcpy(g.power, c[i].power, sizeof g.power);
				g.max_w = c[i].max_w;
			}
		}
		struct gops_domain d = {.kind = GOPS_KIND_GPU};
		snprintf(d.name, sizeof d.name, "gpu%d", count_gpus(dl));
		snprintf(d.label, sizeof d.label, "%.31s GPU (hwmon%d, %.47s)", driver, num, g.label);
		int r = add_domain(s, &d, &g, dl, notes);
		return r < 0 ? r : 0;
	}
	for (size_t i = 0; i < n; i++) {
		struct gops_domain d = {.kind = GOPS_KIND_OTHER};
		gops_hwmon_domain_name(d.name, sizeof d.name, driver, c[i].label);
		if (name_taken(dl, d.name)) {
			char alt[64];
			snprintf(alt, sizeof alt, "%.20s-hwmon%d", d.name, num);
			gops_strlcpy(d.name, alt, sizeof d.name);
		}
		snprintf(d.label, sizeof d.label, "%.31s %.47s (hwmon%d)", driver, c[i].label, num);
		int r = add_domain(s, &d, &c[i], dl, notes);
		if (r < 0)
			return r;
	}
	return 0;
}

static void hw_close(struct gops_source *s)
{
	if (!s)
		return;
	free(s->d);
	free(s);
}

static int hw_open(struct gops_source **out, const struct gops_source_args *args, struct gops_domain_list *dl,
                   struct gops_notes *notes, char *err, size_t errlen)
{
	char path[512];
	*out = NULL;
	DIR *dir = opendir(gops_sys_path(path, sizeof path, "/sys/class/hwmon"));
	if (!dir) {
		snprintf(err, errlen, "no hwmon tree at '%s'", path);
		return -ENOENT;
	}
	int nums[256];
	size_t nn = 0;
	struct dirent *e;
	while ((e = readdir(dir)) && nn < sizeof nums / sizeof nums[0]) {
		int k;
		char extra;
		if (sscanf(e->d_name, "hwmon%d%c", &k, &extra) == 1)
			nums[nn++] = k;
	}
	closedir(dir);
	qsort(nums, nn, sizeof nums[0], num_cmp);
	struct gops_source *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	int r = 0;
	for (size_t i = 0; i < nn && r == 0; i++)
		r = add_device(s, nums[i], dl, notes);
	if (r == 0 && s->n == 0) {
		snprintf(err, errlen, "no readable energy or power sensor under '%s'", path);
		r = -ENOENT;
	}
	if (r < 0) {
		hw_close(s);
		return r;
	}
	*out = s;
	return 0;
}

static int hw_read_energy(struct gops_source *s, int index, double *joules)
{
	if (index < 0 || (size_t)index >= s->n)
		return -EINVAL;
	struct hw_dom *d = &s->d[index];
	if (!d->energy[0])
		return GOPS_ENOTSUP;
	return gops_sysfs_counter_read(&d->u, d->energy, joules, s->err, sizeof s->err);
}

static int hw_read_power(struct gops_source *s, int index, double *watts)
{
	if (index < 0 || (size_t)index >= s->n)
		return -EINVAL;
	struct hw_dom *d = &s->d[index];
	if (!d->power[0])
		return GOPS_ENOTSUP;
	uint64_t uw;
	int r = gops_sysfs_read_u64(d->power, &uw, s->err, sizeof s->err);
	if (r < 0)
		return r;
	*watts = (double)uw / 1e6;
	return 0;
}

static const char *hw_error(struct gops_source *s)
{
	return s ? s->err : "";
}

const struct gops_source_ops gops_source_hwmon = {
    .name = "hwmon",
    .open = hw_open,
    .read_energy = hw_read_energy,
    .read_power = hw_read_power,
    .error = hw_error,
    .close = hw_close,
};
