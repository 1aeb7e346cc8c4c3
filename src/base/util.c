/* Clocks, test-seam paths and file reads used throughout libgreenops. */
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int64_t gops_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t gops_realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void gops_sleep_until(int64_t deadline_ns)
{
	struct timespec ts = {.tv_sec = deadline_ns / 1000000000, .tv_nsec = deadline_ns % 1000000000};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

const char *gops_sys_path(char *buf, size_t len, const char *path)
{
	const char *root = NULL, *rest = path;
	if (strncmp(path, "/sys", 4) == 0 && (path[4] == '/' || path[4] == 0))
		root = getenv("GREENOPS_SYSFS_ROOT"), rest = path + 4;
	else if (strncmp(path, "/proc", 5) == 0 && (path[5] == '/' || path[5] == 0))
		root = getenv("GREENOPS_PROC_ROOT"), rest = path + 5;
	if (root && *root)
		snprintf(buf, len, "%s%s", root, rest);
	else
		snprintf(buf, len, "%s", path);
	return buf;
}

int gops_read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t off = 0;
	while (off + 1 < len) {
		ssize_t r = read(fd, buf + off, len - 1 - off);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = -errno;
			close(fd);
			return e;
		}
		if (r == 0)
			break;
		off += (size_t)r;
	}
	close(fd);
	buf[off] = 0;
	while (off > 0 && (buf[off - 1] == '\n' || buf[off - 1] == ' '))
		buf[--off] = 0;
	return (int)off;
}

int gops_read_u64(const char *path, uint64_t *out)
{
	char buf[64];
	int r = gops_read_file(path, buf, sizeof buf);
	if (r < 0)
		return r;
	char *end;
	errno = 0;
	if (buf[0] < '0' || buf[0] > '9')
		return -EINVAL;
	unsigned long long v = strtoull(buf, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

char *gops_strlcpy(char *dst, const char *src, size_t len)
{
	if (len == 0)
		return dst;
	size_t n = strlen(src);
	if (n >= len)
		n = len - 1;
	memcpy(dst, src, n);
	dst[n] = 0;
	return dst;
}

char *gops_xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (!s)
		abort();
	return s;
}

char *gops_xstrdup(const char *s)
{
	char *d = strdup(s ? s : "");
	if (!d)
		abort();
	return d;
}

/* Length of the well-formed UTF-8 sequence at p, 0 when there is none. Each byte is looked
 * at only after the one before it was accepted, so the terminating NUL stops the scan. */
static size_t utf8_seq(const unsigned char *p)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t n;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
	else
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

char *gops_utf8_repair(const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	char *out = malloc(3 * strlen((const char *)p) + 1), *o = out;
	if (!out)
		abort();
	while (*p) {
		size_t n = utf8_seq(p);
		if (n) {
			memcpy(o, p, n);
			o += n, p += n;
		} else {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3, p++;
		}
	}
	*o = 0;
	return out;
}

void gops_strv_vpushf(char ***v, size_t *n, const char *fmt, va_list ap)
{
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	char **nv = realloc(*v, (*n + 1) * sizeof *nv);
	if (!nv)
		abort();
	nv[(*n)++] = s;
	*v = nv;
}

void gops_strv_pushf(char ***v, size_t *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	gops_strv_vpushf(v, n, fmt, ap);
	va_end(ap);
}

const char *gops_iso_time(int64_t realtime_ns, char *buf, size_t len)
{
	time_t sec = (time_t)(realtime_ns / 1000000000);
	struct tm tm;
	gmtime_r(&sec, &tm);
	size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03dZ", (int)(realtime_ns / 1000000 % 1000));
	return buf;
}
