/* A fake RAPL: keeps the energy_uj files of a fake powercap tree moving as P x t modulo each
 * zone's max_energy_range_uj, so that end-to-end tests and benchmarks can check wraps and
 * accuracy. Files are replaced atomically (write, then rename) every few milliseconds.
 *
 *   fake-rapl-writer SYSFS_ROOT ZONE=WATTS... [--period-ms N] [--ready FILE] [--duration S]
 *                    [--log FILE] [FAULT S]...
 *
 * SYSFS_ROOT is what GREENOPS_SYSFS_ROOT will be; ZONE is e.g. intel-rapl:0 or intel-rapl:0:1.
 * --ready FILE is created once every zone holds its first value. --log FILE gets the
 * CLOCK_REALTIME ns of every round of writes, one a line (written out when it ends), so a test
 * knows the updates the writer really made on a busy machine. Ends on SIGTERM/SIGINT.
 * Faults, S seconds after the first value, or after FILE appears with --trigger FILE (every zone
 * alike; a test's command touches FILE, so faults fall inside the run however slow the start):
 * --reset-at (the counter restarts
 * near 0), --freeze-at/--thaw-at (it stops, then moves on from where it stopped: what was used
 * meanwhile never shows), --unreadable-at/--readable-at (energy_uj becomes a folder: reads fail
 * even for root, as a permission change does for others), --garbage-at/--garbage-for (it holds
 * text that is not a number: a burst of failed reads), --lost-at (energy_uj is removed). A
 * counter that wraps more often than greenops reads it needs no option: give a zone more watts
 * than its constraint_0_max_power_uw allows. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_ZONES 32

struct zone {
	char path[1024], tmp[1024];
	double watts;
	unsigned long long range_uj, start_uj;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int read_ull(const char *path, unsigned long long *v)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	int ok = fscanf(f, "%llu", v) == 1;
	fclose(f);
	return ok ? 0 : -1;
}

static int write_value(const struct zone *z, unsigned long long v)
{
	FILE *f = fopen(z->tmp, "w");
	if (!f)
		return -1;
	fprintf(f, "%llu\n", v);
	if (fclose(f) != 0)
		return -1;
	return rename(z->tmp, z->path);
}

static int usage(void)
{
	fprintf(stderr,
	        "usage: fake-rapl-writer SYSFS_ROOT ZONE=WATTS... [--period-ms N] [--ready FILE] "
	        "[--duration S] [--log FILE] [--reset-at S] [--freeze-at S [--thaw-at S]] [--unreadable-at S "
	        "[--readable-at S]] [--garbage-at S --garbage-for S] [--lost-at S]\n");
	return 2;
}

/* --- faults (times in seconds after the first value; < 0: never) --- */
struct faults {
	double reset_at, freeze_at, thaw_at, unreadable_at, readable_at, garbage_at, garbage_for, lost_at;
};

static bool parse_fault(const char *opt, const char *val, struct faults *f)
{
	static const struct {
		const char *name;
		size_t off;
	} opts[] = {
	    {"--reset-at", offsetof(struct faults, reset_at)},
	    {"--freeze-at", offsetof(struct faults, freeze_at)},
	    {"--thaw-at", offsetof(struct faults, thaw_at)},
	    {"--unreadable-at", offsetof(struct faults, unreadable_at)},
	    {"--readable-at", offsetof(struct faults, readable_at)},
	    {"--garbage-at", offsetof(struct faults, garbage_at)},
	    {"--garbage-for", offsetof(struct faults, garbage_for)},
	    {"--lost-at", offsetof(struct faults, lost_at)},
	};
	for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
		if (!strcmp(opt, opts[i].name)) {
			*(double *)((char *)f + opts[i].off) = atof(val);
			return true;
		}
	return false;
}

/* Moves every fault time by dt (the moment the trigger file appeared). */
static void shift_faults(struct faults *f, double dt)
{
	double *v[] = {&f->reset_at,    &f->freeze_at,  &f->thaw_at, &f->unreadable_at,
	               &f->readable_at, &f->garbage_at, &f->lost_at};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
		if (*v[i] >= 0)
			*v[i] += dt;
}

static bool between(double t, double from, double to)
{
	return from >= 0 && t >= from && (to < 0 || t < to);
}

/* The counter's value at t (before the modulo), with reset and freeze applied. */
static unsigned long long fault_value(const struct zone *z, const struct faults *f, double t)
{
	double e = z->watts * t;
	if (f->freeze_at >= 0 && t >= f->freeze_at) /* the frozen stretch never shows */
		e = z->watts * f->freeze_at +
		    (f->thaw_at >= f->freeze_at && t >= f->thaw_at ? z->watts * (t - f->thaw_at) : 0);
	if (f->reset_at >= 0 && t >= f->reset_at) /* restarts near 0: what was counted is gone */
		return 1 + (unsigned long long)((e - z->watts * f->reset_at > 0 ? e - z->watts * f->reset_at
		                                                                : 0) *
		                                1e6);
	return z->start_uj + (unsigned long long)(e * 1e6);
}

/* Writes zone z at t as the faults say; returns -1 on a write error. */
static int write_faulty(const struct zone *z, const struct faults *f, double t)
{
	if (f->lost_at >= 0 && t >= f->lost_at) {
		unlink(z->path);
		return 0;
	}
	if (between(t, f->unreadable_at, f->readable_at)) {
		unlink(z->path);
		return mkdir(z->path, 0755) < 0 && errno != EEXIST ? -1 : 0;
	}
	rmdir(z->path); /* readable again (fails harmlessly when it is a file) */
	if (between(t, f->garbage_at, f->garbage_at >= 0 ? f->garbage_at + f->garbage_for : -1)) {
		FILE *o = fopen(z->tmp, "w");
		if (!o || fprintf(o, "garbage\n") < 0 || fclose(o) != 0)
			return -1;
		return rename(z->tmp, z->path);
	}
	return write_value(z, fault_value(z, f, t) % z->range_uj);
}
/* --- end of faults --- */

int main(int argc, char **argv)
{
	struct zone z[MAX_ZONES];
	size_t n = 0;
	double period_ms = 2, duration = 0;
	const char *ready = NULL, *trigger = NULL;
	FILE *log = NULL;
	struct faults fl = {-1, -1, -1, -1, -1, -1, 0, -1};
	if (argc < 3)
		return usage();
	const char *root = argv[1];
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--period-ms") && i + 1 < argc) {
			period_ms = atof(argv[++i]);
		} else if (!strcmp(argv[i], "--ready") && i + 1 < argc) {
			ready = argv[++i];
		} else if (!strcmp(argv[i], "--duration") && i + 1 < argc) {
			duration = atof(argv[++i]);
		} else if (!strcmp(argv[i], "--log") && i + 1 < argc) {
			if (!(log = fopen(argv[++i], "w"))) {
				fprintf(stderr, "fake-rapl-writer: cannot write '%s': %s\n", argv[i],
				        strerror(errno));
				return 1;
			}
		} else if (!strcmp(argv[i], "--trigger") && i + 1 < argc) {
			trigger = argv[++i];
		} else if (i + 1 < argc && parse_fault(argv[i], argv[i + 1], &fl)) {
			i++;
		} else {
			char *eq = strchr(argv[i], '=');
			if (!eq || n == MAX_ZONES)
				return usage();
			struct zone *c = &z[n++];
			char dir[900], rpath[1100];
			snprintf(dir, sizeof dir, "%s/class/powercap/%.*s", root, (int)(eq - argv[i]),
			         argv[i]);
			snprintf(c->path, sizeof c->path, "%s/energy_uj", dir);
			snprintf(c->tmp, sizeof c->tmp, "%s/.energy_uj.tmp", dir);
			snprintf(rpath, sizeof rpath, "%s/max_energy_range_uj", dir);
			c->watts = atof(eq + 1);
			if (read_ull(rpath, &c->range_uj) < 0 || c->range_uj == 0) {
				fprintf(stderr, "fake-rapl-writer: cannot read '%s'\n", rpath);
				return 1;
			}
			if (read_ull(c->path, &c->start_uj) < 0)
				c->start_uj = 1;
		}
	}
	if (n == 0 || period_ms <= 0)
		return usage();
	const struct faults idle = {-1, -1, -1, -1, -1, -1, 0, -1}; /* until the trigger */
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	double t0 = now_s();
	for (unsigned long long tick = 0; !stop; tick++) {
		double t = now_s() - t0;
		if (trigger && access(trigger, F_OK) == 0) {
			shift_faults(&fl, t);
			trigger = NULL;
		}
		for (size_t i = 0; i < n; i++) {
			if (write_faulty(&z[i], trigger ? &idle : &fl, t) < 0) {
				fprintf(stderr, "fake-rapl-writer: cannot write '%s': %s\n", z[i].path,
				        strerror(errno));
				return 1;
			}
		}
		if (log) {
			struct timespec rt;
			clock_gettime(CLOCK_REALTIME, &rt);
			fprintf(log, "%lld\n", (long long)rt.tv_sec * 1000000000LL + rt.tv_nsec);
		}
		if (tick == 0 && ready) {
			FILE *f = fopen(ready, "w");
			if (!f || fclose(f) != 0)
				return 1;
		}
		if (duration > 0 && t >= duration)
			break;
		double next = t0 + (double)(tick + 1) * period_ms / 1e3;
		struct timespec ts = {.tv_sec = (time_t)next,
		                      .tv_nsec = (long)((next - (double)(time_t)next) * 1e9)};
		while (!stop && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
	}
	return log && fclose(log) != 0;
}
