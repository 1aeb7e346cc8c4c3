/* A fake RAPL: keeps the energy_uj files of a fake powercap tree moving as P x t modulo each
 * zone's max_energy_range_uj, so that end-to-end tests and benchmarks can check wraps and
 * accuracy. Files are replaced atomically (write, then rename) every few milliseconds.
 *
 *   fake-rapl-writer SYSFS_ROOT ZONE=WATTS... [--period-ms N] [--ready FILE] [--duration S]
 *
 * SYSFS_ROOT is what GREENOPS_SYSFS_ROOT will be; ZONE is e.g. intel-rapl:0 or intel-rapl:0:1.
 * --ready FILE is created once every zone holds its first value. Ends on SIGTERM/SIGINT. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	fprintf(stderr, "usage: fake-rapl-writer SYSFS_ROOT ZONE=WATTS... [--period-ms N] [--ready FILE] "
	                "[--duration S]\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct zone z[MAX_ZONES];
	size_t n = 0;
	double period_ms = 2, duration = 0;
	const char *ready = NULL;
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
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	double t0 = now_s();
	for (unsigned long long tick = 0; !stop; tick++) {
		double t = now_s() - t0;
		for (size_t i = 0; i < n; i++) {
			unsigned long long e = z[i].start_uj + (unsigned long long)(z[i].watts * t * 1e6);
			if (write_value(&z[i], e % z[i].range_uj) < 0) {
				fprintf(stderr, "fake-rapl-writer: cannot write '%s': %s\n", z[i].path,
				        strerror(errno));
				return 1;
			}
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
	return 0;
}
