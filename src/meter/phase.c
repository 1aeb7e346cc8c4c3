/* The update phase of slow energy counters, remembered between runs: a GPU's counter publishes
 * on a steady grid (every 100 ms on an H100), so the next run can predict its update moment and
 * confirm it with two reads instead of polling a call that burns ~4 ms of CPU. */
#include "meter/phase.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* CLOCK_MONOTONIC restarts at boot, so a phase is only meaningful within one boot: the
 * record carries the boot id. Per user, never shared: the runtime directory (a tmpfs emptied at
 * logout and reboot) where there is one, else the user's cache directory. */
static bool phase_dir(char *buf, size_t len)
{
	const char *rt = getenv("XDG_RUNTIME_DIR"), *cache = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	int n;
	if (rt && rt[0] == '/')
		n = snprintf(buf, len, "%s/greenops", rt);
	else if (cache && cache[0] == '/')
		n = snprintf(buf, len, "%s/greenops", cache);
	else if (home && home[0] == '/')
		n = snprintf(buf, len, "%s/.cache/greenops", home);
	else
		return false;
	return n > 0 && (size_t)n < len;
}

static bool boot_id(char *buf, size_t len)
{
	char p[512];
	if (gops_read_file(gops_sys_path(p, sizeof p, "/proc/sys/kernel/random/boot_id"), buf, len) < 0)
		return false;
	buf[strcspn(buf, "\n")] = 0;
	return buf[0] != 0;
}

/* One file per device, named by its label (model and UUID for a GPU). */
static bool phase_path(const struct gops_domain *d, char *buf, size_t len)
{
	char dir[400], key[140];
	if (!phase_dir(dir, sizeof dir))
		return false;
	const char *src = d->label[0] ? d->label : d->name;
	size_t k = 0;
	for (; src[k] && k + 1 < sizeof key; k++) {
		char c = src[k];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		          c == '-' || c == '.';
		key[k] = ok ? c : '_';
	}
	key[k] = 0;
	int n = snprintf(buf, len, "%s/counter-phase-%s", dir, key);
	return n > 0 && (size_t)n < len;
}

bool phase_recall(const struct gops_domain *d, int64_t *update_ns, double *period_s)
{
	char path[600], boot[64], text[256], rec_boot[64];
	if (!phase_path(d, path, sizeof path) || !boot_id(boot, sizeof boot) ||
	    gops_read_file(path, text, sizeof text) < 0)
		return false;
	long long u;
	double per;
	if (sscanf(text, "%63s %lld %lf", rec_boot, &u, &per) != 3 || strcmp(rec_boot, boot) != 0 || u <= 0 ||
	    !(per > 0.001 && per < 10))
		return false;
	*update_ns = u;
	*period_s = per;
	return true;
}

/* Written through a temporary file and rename, so a concurrent run reads a whole record. */
void phase_remember(const struct gops_domain *d, int64_t update_ns, double period_s)
{
	char path[600], tmp[640], dir[400], boot[64];
	if (update_ns <= 0 || !(period_s > 0) || !phase_dir(dir, sizeof dir) ||
	    !phase_path(d, path, sizeof path) || !boot_id(boot, sizeof boot))
		return;
	/* The cache directory may not exist yet; its parent is the user's. */
	char parent[400];
	gops_strlcpy(parent, dir, sizeof parent);
	char *slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = 0;
		mkdir(parent, 0700);
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return;
	snprintf(tmp, sizeof tmp, "%s.%d", path, (int)getpid());
	FILE *f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "%s %lld %.9f\n", boot, (long long)update_ns, period_s);
	if (fclose(f) != 0 || rename(tmp, path) != 0)
		unlink(tmp);
}
