/* Builders of fake /sys and /proc trees for unit tests (perf's tests/pmu.c pattern): a
 * mkdtemp root, files written with their parent folders, and removal. Header-only because
 * every unit test is one C file linked with libgreenops. */
#ifndef GOPS_FAKE_SYSFS_H
#define GOPS_FAKE_SYSFS_H

#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Creates an empty root under $TMPDIR (or /tmp); returns a malloc'd path or NULL. */
static inline char *fake_root_new(void)
{
	const char *tmp = getenv("TMPDIR");
	char buf[512];
	snprintf(buf, sizeof buf, "%s/greenops-fake-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	return mkdtemp(buf) ? strdup(buf) : NULL;
}

static inline int fake_mkdirs(const char *path)
{
	char buf[1024];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			if (mkdir(buf, 0755) < 0 && errno != EEXIST)
				return -errno;
			*p = '/';
		}
	return mkdir(buf, 0755) < 0 && errno != EEXIST ? -errno : 0;
}

/* Writes ROOT/REL (REL starts with '/') with printf-style content, making its folders. */
static inline int __attribute__((format(printf, 3, 4)))
fake_put(const char *root, const char *rel, const char *fmt, ...)
{
	char path[1024], dir[1024];
	snprintf(path, sizeof path, "%s%s", root, rel);
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash) {
		*slash = 0;
		if (fake_mkdirs(dir) < 0)
			return -1;
	}
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	return fclose(f) == 0 ? 0 : -1;
}

/* Path of ROOT/REL in buf. */
static inline const char *fake_path(char *buf, size_t len, const char *root, const char *rel)
{
	snprintf(buf, len, "%s%s", root, rel);
	return buf;
}

/* A powercap zone: name, energy_uj, max_energy_range_uj, and a power limit when max_uw > 0. */
static inline void fake_rapl_zone(const char *root, const char *zone, const char *name,
                                  unsigned long long energy_uj, unsigned long long range_uj,
                                  unsigned long long max_uw)
{
	char rel[256];
	snprintf(rel, sizeof rel, "/class/powercap/%s/name", zone);
	fake_put(root, rel, "%s\n", name);
	snprintf(rel, sizeof rel, "/class/powercap/%s/energy_uj", zone);
	fake_put(root, rel, "%llu\n", energy_uj);
	snprintf(rel, sizeof rel, "/class/powercap/%s/max_energy_range_uj", zone);
	fake_put(root, rel, "%llu\n", range_uj);
	if (max_uw) {
		snprintf(rel, sizeof rel, "/class/powercap/%s/constraint_0_max_power_uw", zone);
		fake_put(root, rel, "%llu\n", max_uw);
	}
}

/* Rewrites a zone's energy_uj. */
static inline void fake_rapl_set(const char *root, const char *zone, unsigned long long energy_uj)
{
	char rel[256];
	snprintf(rel, sizeof rel, "/class/powercap/%s/energy_uj", zone);
	fake_put(root, rel, "%llu\n", energy_uj);
}

static inline int fake_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static inline void fake_root_free(char *root)
{
	if (root)
		nftw(root, fake_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(root);
}

#endif
