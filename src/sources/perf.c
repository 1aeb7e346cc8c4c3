/* RAPL through the perf `power` PMU: the events and their scale come from sysfs, one CPU
 * per package from the PMU's cpumask, counts from perf_event_open. The kernel keeps 64-bit
 * counts, so nothing wraps here. The syscalls sit behind a small table tests can replace. */
#include "sources/source.h"
#include "sources/perf.h"
#include "sources/sysfs.h"
#include "base/util.h"

#include <dirent.h>
#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PMU_DIR              "/sys/bus/event_source/devices/power"
#define RAPL_UPDATE_PERIOD_S 0.001
#define MOVE_WAIT_NS         5000000LL /* a live RAPL counter updates every ~1 ms: five updates */

static int sys_open(int type, uint64_t config, int cpu)
{
	struct perf_event_attr a;
	memset(&a, 0, sizeof a);
	a.type = (unsigned)type;
	a.size = sizeof a;
	a.config = config;
	long fd = syscall(SYS_perf_event_open, &a, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
	return fd < 0 ? -errno : (int)fd;
}

static int sys_read(int fd, uint64_t *count)
{
	ssize_t r = read(fd, count, sizeof *count);
	if (r < 0)
		return -errno;
	return r == sizeof *count ? 0 : -EIO;
}

static void sys_close(int fd)
{
	close(fd);
}

static const struct gops_perf_sys real_sys = {sys_open, sys_read, sys_close};
static const struct gops_perf_sys *psys_ops = &real_sys;

void gops_perf_set_sys(const struct gops_perf_sys *sys)
{
	psys_ops = sys ? sys : &real_sys;
}

int gops_perf_parse_config(const char *text, uint64_t *config)
{
	const char *p = strstr(text, "event=");
	if (!p)
		return -EINVAL;
	p += 6;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(p, &end, 0);
	if (errno || end == p || (*end && *end != ',' && *end != '\n'))
		return -EINVAL;
	*config = v;
	return 0;
}

int gops_cpulist_parse(const char *text, int *cpus, size_t cap, size_t *n)
{
	*n = 0;
	const char *p = text;
	while (*p) {
		char *end;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		long a = strtol(p, &end, 10), b = a;
		if (*end == '-') {
			p = end + 1;
			if (*p < '0' || *p > '9')
				return -EINVAL;
			b = strtol(p, &end, 10);
		}
		if (b < a)
			return -EINVAL;
		for (long c = a; c <= b; c++) {
			if (*n >= cap)
				return -EINVAL;
			cpus[(*n)++] = (int)c;
		}
		p = end;
		if (*p == ',')
			p++;
		else if (*p == '\n' || *p == ' ')
			break;
		else if (*p)
			return -EINVAL;
	}
	return *n ? 0 : -EINVAL;
}

bool gops_perf_domain_name(const char *event, int pkg, char *name, size_t len, enum gops_kind *kind)
{
	static const struct {
		const char *event, *prefix;
		enum gops_kind kind;
	} map[] = {
	    {"energy-pkg", "package", GOPS_KIND_PACKAGE}, {"energy-ram", "dram", GOPS_KIND_DRAM},
	    {"energy-cores", "core", GOPS_KIND_CORE},     {"energy-gpu", "uncore", GOPS_KIND_UNCORE},
	    {"energy-psys", NULL, GOPS_KIND_PSYS},
	};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
		if (strcmp(event, map[i].event) != 0)
			continue;
		if (map[i].prefix)
			snprintf(name, len, "%s-%d", map[i].prefix, pkg);
		else
			snprintf(name, len, "psys");
		*kind = map[i].kind;
		return true;
	}
	return false;
}

void gops_perf_access_note(char *buf, size_t len, int paranoid)
{
	char level[32] = "unknown";
	if (paranoid > -100)
		snprintf(level, sizeof level, "%d", paranoid);
	snprintf(buf, len,
	         "perf: cannot open the 'power' PMU's events: permission denied (kernel.perf_event_paranoid "
	         "is %s; system-wide events need it at 0 or below, or CAP_PERFMON): run "
	         "'sudo sysctl kernel.perf_event_paranoid=0' or 'sudo setcap cap_perfmon+ep $(command -v "
	         "greenops)'",
	         level);
}

static int read_text(const char *rel, char *buf, size_t len, char *path, size_t plen)
{
	return gops_read_file(gops_sys_path(path, plen, rel), buf, len);
}

static int ev_cmp(const void *a, const void *b)
{
	return strcmp(((const struct gops_perf_event *)a)->name, ((const struct gops_perf_event *)b)->name);
}

/* Reads one energy-* event with its scale and unit; false (with a note) when unusable. */
static bool parse_event(const char *ename, struct gops_perf_event *ev, struct gops_notes *notes)
{
	char rel[256], path[512], text[128];
	snprintf(rel, sizeof rel, PMU_DIR "/events/%.47s", ename);
	if (read_text(rel, text, sizeof text, path, sizeof path) < 0 ||
	    gops_perf_parse_config(text, &ev->config) < 0) {
		gops_notes_add(notes, "perf: cannot read '%s': not an event=N code; event skipped", path);
		return false;
	}
	snprintf(rel, sizeof rel, PMU_DIR "/events/%.47s.scale", ename);
	char *end;
	if (read_text(rel, text, sizeof text, path, sizeof path) < 0 ||
	    !((ev->scale = strtod(text, &end)) > 0) || *end) {
		gops_notes_add(notes, "perf: cannot read '%s': not a positive number; event skipped", path);
		return false;
	}
	snprintf(rel, sizeof rel, PMU_DIR "/events/%.47s.unit", ename);
	if (read_text(rel, text, sizeof text, path, sizeof path) >= 0 && strcmp(text, "Joules") != 0) {
		gops_notes_add(notes, "perf: '%s' says '%s', not Joules; event skipped", path, text);
		return false;
	}
	gops_strlcpy(ev->name, ename, sizeof ev->name);
	return true;
}

static void parse_packages(struct gops_perf_pmu *p)
{
	for (size_t i = 0; i < p->n_cpus; i++) {
		char rel[128], path[512];
		uint64_t id;
		snprintf(rel, sizeof rel, "/sys/devices/system/cpu/cpu%d/topology/physical_package_id",
		         p->cpus[i]);
		p->pkg[i] = gops_read_u64(gops_sys_path(path, sizeof path, rel), &id) == 0 ? (int)id : (int)i;
		for (size_t k = 0; k < i; k++)
			if (p->pkg[k] == p->pkg[i]) /* per-die counters: number them in mask order */
				p->pkg[i] = (int)i;
	}
}

int gops_perf_parse_pmu(struct gops_perf_pmu *p, struct gops_notes *notes, char *err, size_t errlen)
{
	char path[512], text[256];
	memset(p, 0, sizeof *p);
	int r = read_text(PMU_DIR "/type", text, sizeof text, path, sizeof path);
	if (r == -ENOENT) {
		snprintf(err, errlen, "no 'power' PMU at '%s'", gops_sys_path(path, sizeof path, PMU_DIR));
		return -ENOENT;
	}
	char *end;
	long type = r >= 0 ? strtol(text, &end, 10) : -1;
	if (r < 0 || text[0] < '0' || text[0] > '9' || *end) {
		snprintf(err, errlen, "cannot read '%s': %s", path, r < 0 ? strerror(-r) : "not a number");
		return -EINVAL;
	}
	p->type = (int)type;
	r = read_text(PMU_DIR "/cpumask", text, sizeof text, path, sizeof path);
	if (r == -ENOENT) {
		p->cpus[0] = 0;
		p->n_cpus = 1;
	} else if (r < 0 || gops_cpulist_parse(text, p->cpus, GOPS_PERF_MAX_CPUS, &p->n_cpus) < 0) {
		snprintf(err, errlen, "cannot read '%s': not a CPU list", path);
		return -EINVAL;
	}
	parse_packages(p);
	DIR *dir = opendir(gops_sys_path(path, sizeof path, PMU_DIR "/events"));
	if (!dir) {
		snprintf(err, errlen, "no events under '%s'", path);
		return -ENOENT;
	}
	struct dirent *e;
	while ((e = readdir(dir)) && p->n_events < GOPS_PERF_MAX_EVENTS) {
		if (strncmp(e->d_name, "energy-", 7) != 0 || strchr(e->d_name, '.') ||
		    strlen(e->d_name) >= sizeof p->ev[0].name)
			continue;
		if (parse_event(e->d_name, &p->ev[p->n_events], notes))
			p->n_events++;
	}
	closedir(dir);
	qsort(p->ev, p->n_events, sizeof p->ev[0], ev_cmp);
	if (p->n_events == 0) {
		snprintf(err, errlen, "no usable energy event under '%s'", path);
		return -ENOENT;
	}
	return 0;
}

struct pf_dom {
	int fd;
	double scale;
	uint64_t last; /* the first non-zero count, while opening */
	struct gops_unwrap u;
	struct gops_domain d;
};

struct gops_source {
	struct pf_dom *d;
	size_t n;
	char err[600];
};

static void pf_close(struct gops_source *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		if (s->d[i].fd >= 0)
			psys_ops->close(s->d[i].fd);
	free(s->d);
	free(s);
}

static bool dl_has(const struct gops_domain_list *dl, const char *name, const char **label)
{
	for (size_t i = 0; i < dl->n; i++)
		if (strcmp(dl->v[i].name, name) == 0) {
			*label = dl->v[i].label;
			return true;
		}
	return false;
}

static int read_paranoid(void)
{
	char path[256], text[32];
	if (gops_read_file(gops_sys_path(path, sizeof path, "/proc/sys/kernel/perf_event_paranoid"), text,
	                   sizeof text) < 0)
		return -100;
	return atoi(text);
}

struct open_state {
	bool denied, no_type, psys;
};

/* Opens event ev on the k-th CPU of the mask as one pending domain. */
static int open_one(struct gops_source *s, const struct gops_perf_pmu *p, const struct gops_perf_event *ev,
                    size_t k, struct gops_domain_list *dl, struct gops_notes *notes, struct open_state *st)
{
	struct pf_dom pd = {.fd = -1, .scale = ev->scale};
	if (!gops_perf_domain_name(ev->name, p->pkg[k], pd.d.name, sizeof pd.d.name, &pd.d.kind)) {
		if (k == 0)
			gops_notes_add(notes, "perf: event '%s' is not one greenops knows; skipped",
			               ev->name);
		return 0;
	}
	if (pd.d.kind == GOPS_KIND_PSYS && k > 0)
		return 0; /* one platform counter, whichever package reads it */
	const char *label;
	if (dl_has(dl, pd.d.name, &label)) {
		gops_notes_add(notes, "perf: %s is already read through '%s'; '%s' left unused", pd.d.name,
		               label, ev->name);
		return 0;
	}
	int fd = psys_ops->open(p->type, ev->config, p->cpus[k]);
	if (fd == -EACCES || fd == -EPERM) {
		st->denied = true;
		return 0;
	}
	if ((fd == -ENOENT || fd == -EINVAL || fd == -ENODEV) && getenv("GREENOPS_SYSFS_ROOT")) {
		st->no_type = true;
		return 0;
	}
	if (fd < 0) {
		gops_notes_add(notes, "perf: cannot open '%s' on cpu %d: %s", ev->name, p->cpus[k],
		               strerror(-fd));
		return 0;
	}
	pd.fd = fd;
	if (pd.d.kind == GOPS_KIND_CORE || pd.d.kind == GOPS_KIND_UNCORE)
		snprintf(pd.d.parent, sizeof pd.d.parent, "package-%d", p->pkg[k]);
	else if (pd.d.kind != GOPS_KIND_PSYS && st->psys)
		snprintf(pd.d.parent, sizeof pd.d.parent, "psys");
	snprintf(pd.d.label, sizeof pd.d.label, "RAPL %s (perf power PMU, cpu %d)", ev->name, p->cpus[k]);
	pd.d.caps = GOPS_CAP_ENERGY;
	pd.d.max_power_w = 0; /* the PMU states no limit; perf's counters are 64-bit, no wrap */
	pd.d.update_period_s = RAPL_UPDATE_PERIOD_S;
	struct pf_dom *nv = realloc(s->d, (s->n + 1) * sizeof *nv);
	if (!nv) {
		psys_ops->close(fd);
		return -ENOMEM;
	}
	s->d = nv;
	s->d[s->n++] = pd;
	return 0;
}

/* A freshly opened perf count starts at 0; a live RAPL counter moves within a few ms. */
static void drop_still(struct gops_source *s, struct gops_notes *notes)
{
	int64_t deadline = gops_now_ns() + MOVE_WAIT_NS;
	for (;;) {
		bool waiting = false;
		for (size_t i = 0; i < s->n; i++)
			if (s->d[i].last == 0 && psys_ops->read(s->d[i].fd, &s->d[i].last) == 0 &&
			    s->d[i].last == 0)
				waiting = true;
		if (!waiting || gops_now_ns() >= deadline)
			break;
		gops_sleep_until(gops_now_ns() + 1000000);
	}
	size_t k = 0;
	for (size_t i = 0; i < s->n; i++) {
		if (s->d[i].last == 0) {
			gops_notes_add(notes, "perf: %s ('%s') reads 0: present but not moving; left out",
			               s->d[i].d.name, s->d[i].d.label);
			psys_ops->close(s->d[i].fd);
			continue;
		}
		/* The kernel's count is 64-bit: it never wraps, a smaller value is a restart. */
		gops_unwrap_init(&s->d[i].u, s->d[i].last, gops_now_ns(), 0, s->d[i].scale, 0);
		s->d[k++] = s->d[i];
	}
	s->n = k;
}

static int pf_open(struct gops_source **out, const struct gops_source_args *args, struct gops_domain_list *dl,
                   struct gops_notes *notes, char *err, size_t errlen)
{
	struct gops_perf_pmu p;
	*out = NULL;
	int r = gops_perf_parse_pmu(&p, notes, err, errlen);
	if (r < 0)
		return r == -EINVAL ? -ENOENT : r; /* a broken PMU description: nothing usable here */
	struct gops_source *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	const char *label;
	struct open_state st = {.psys = dl_has(dl, "psys", &label)};
	for (size_t e = 0; e < p.n_events; e++)
		st.psys = st.psys || strcmp(p.ev[e].name, "energy-psys") == 0;
	for (size_t e = 0; e < p.n_events && r == 0; e++)
		for (size_t k = 0; k < p.n_cpus && r == 0; k++)
			r = open_one(s, &p, &p.ev[e], k, dl, notes, &st);
	if (st.denied) {
		char msg[512];
		gops_perf_access_note(msg, sizeof msg, read_paranoid());
		gops_notes_add(notes, "%s", msg);
	}
	if (st.no_type)
		gops_notes_add(notes,
		               "perf: the kernel has no PMU of type %d (the 'power' PMU described under "
		               "GREENOPS_SYSFS_ROOT cannot be opened)",
		               p.type);
	drop_still(s, notes);
	for (size_t i = 0; i < s->n && r >= 0; i++) {
		s->d[i].d.index = (int)i;
		r = gops_domain_list_add(dl, &s->d[i].d);
	}
	if (r >= 0 && s->n == 0) {
		snprintf(err, errlen, "no readable counter on the 'power' PMU%s",
		         st.denied ? ": permission denied (see notes)" : " (see notes)");
		r = -ENOENT;
	}
	if (r < 0) {
		pf_close(s);
		return r;
	}
	*out = s;
	return 0;
}

static int pf_read_energy(struct gops_source *s, int index, double *joules)
{
	if (index < 0 || (size_t)index >= s->n)
		return -EINVAL;
	struct pf_dom *d = &s->d[index];
	uint64_t v;
	int r = psys_ops->read(d->fd, &v);
	if (r < 0) {
		snprintf(s->err, sizeof s->err, "cannot read perf event %s: %s", d->d.label, strerror(-r));
		return r;
	}
	char what[160];
	snprintf(what, sizeof what, "perf event %s", d->d.label);
	return gops_unwrap_add(&d->u, v, what, joules, s->err, sizeof s->err);
}

static int pf_read_power(struct gops_source *s, int index, double *watts)
{
	(void)s, (void)index, (void)watts;
	return GOPS_ENOTSUP;
}

static const char *pf_error(struct gops_source *s)
{
	return s ? s->err : "";
}

const struct gops_source_ops gops_source_perf = {
    .name = "perf",
    .open = pf_open,
    .read_energy = pf_read_energy,
    .read_power = pf_read_power,
    .error = pf_error,
    .close = pf_close,
};
