/* What several sources share: counter unwrapping, reading a counter file, and /proc/stat
 * CPU times. The sources call in here; nothing here knows a particular source. */
#include "sources/sysfs.h"
#include "sources/source.h"
#include "base/util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

void gops_unwrap_init(struct gops_unwrap *u, uint64_t raw, int64_t t_ns, uint64_t range, double unit_j,
                      double max_power_w)
{
	*u = (struct gops_unwrap){
	    .last = raw, .last_ns = t_ns, .range = range, .unit_j = unit_j, .max_power_w = max_power_w};
}

int gops_unwrap_step(struct gops_unwrap *u, uint64_t raw, int64_t t_ns)
{
	double dt = (double)(t_ns - u->last_ns) / 1e9;
	uint64_t prev = u->last;
	u->last = raw;
	u->last_ns = t_ns;
	if (raw >= prev) {
		double step_j = (double)(raw - prev) * u->unit_j;
		u->total_j += step_j;
		/* More than max power allows (the same allowance as for a wrap): the counter
		 * wrapped more than once between the reads, so the step is short by whole ranges. */
		if (u->range > 0 && u->max_power_w > 0 && dt >= 0 &&
		    step_j > u->max_power_w * (2 * dt + 0.05))
			return GOPS_READ_TOO_FAST;
		return 0;
	}
	if (u->range > 0 && prev <= u->range) {
		double step_j = (double)(u->range - prev + raw) * u->unit_j;
		bool plausible = step_j < (double)u->range * u->unit_j / 2;
		if (u->max_power_w > 0 && dt >= 0)
			plausible = plausible && step_j <= u->max_power_w * (2 * dt + 0.05);
		if (plausible) {
			u->total_j += step_j;
			return 0;
		}
		/* Read so seldom that max power could have carried it round the range: it wrapped
		 * more often than it was read (a reset cannot be told apart, and is not measured
		 * either way). */
		if (u->max_power_w > 0 && dt >= 0 &&
		    u->max_power_w * (2 * dt + 0.05) >= (double)u->range * u->unit_j)
			return GOPS_READ_TOO_FAST;
	}
	return GOPS_READ_DISCONTINUITY;
}

int gops_unwrap_add(struct gops_unwrap *u, uint64_t raw, const char *what, double *joules, char *err,
                    size_t errlen)
{
	int r = gops_unwrap_step(u, raw, gops_now_ns());
	if (r == GOPS_READ_DISCONTINUITY)
		snprintf(err, errlen, "%s went backwards: counter reset", what);
	else if (r == GOPS_READ_TOO_FAST)
		snprintf(err, errlen, "%s rose faster than %.0f W: wraps were missed", what, u->max_power_w);
	*joules = u->total_j;
	return r;
}

int gops_sysfs_read_u64(const char *path, uint64_t *v, char *err, size_t errlen)
{
	int r = gops_read_u64(path, v);
	if (r < 0)
		snprintf(err, errlen, "cannot read '%s': %s", path,
		         r == -EINVAL ? "not a number" : strerror(-r));
	return r;
}

int gops_sysfs_counter_read(struct gops_unwrap *u, const char *path, double *joules, char *err, size_t errlen)
{
	uint64_t raw;
	int r = gops_sysfs_read_u64(path, &raw, err, errlen);
	if (r < 0)
		return r;
	char what[600];
	snprintf(what, sizeof what, "'%s'", path);
	return gops_unwrap_add(u, raw, what, joules, err, errlen);
}

int gops_cpu_times_parse(const char *text, struct gops_cpu_times *t)
{
	uint64_t v[8] = {0};
	if (strncmp(text, "cpu ", 4) != 0)
		return -EINVAL;
	int n = sscanf(text + 4,
	               "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
	               " %" SCNu64,
	               &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
	if (n < 4)
		return -EINVAL;
	/* user nice system idle iowait irq softirq steal (guest, guest_nice: inside user) */
	t->busy = v[0] + v[1] + v[2] + v[5] + v[6];
	t->total = t->busy + v[3] + v[4];
	return 0;
}

int gops_cpu_times_read(struct gops_cpu_times *t, char *err, size_t errlen)
{
	char path[4096], buf[1024];
	gops_sys_path(path, sizeof path, "/proc/stat");
	int r = gops_read_file(path, buf, sizeof buf);
	if (r < 0) {
		snprintf(err, errlen, "cannot read '%s': %s", path, strerror(-r));
		return r;
	}
	if (gops_cpu_times_parse(buf, t) < 0) {
		snprintf(err, errlen, "cannot read '%s': no aggregate 'cpu' line", path);
		return -EINVAL;
	}
	return 0;
}

double gops_cpu_load(const struct gops_cpu_times *a, const struct gops_cpu_times *b)
{
	if (b->total <= a->total || b->busy < a->busy)
		return -1;
	double load = (double)(b->busy - a->busy) / (double)(b->total - a->total);
	return load > 1 ? 1 : load;
}
