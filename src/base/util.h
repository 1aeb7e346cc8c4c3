/* Small helpers shared by the library: clocks, paths under the test seams, file reads,
 * growable strings. */
#ifndef GOPS_UTIL_H
#define GOPS_UTIL_H

#include <greenops/greenops.h> /* gops_now_ns(), exported */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

int64_t gops_realtime_ns(void);
/* Sleeps until the CLOCK_MONOTONIC deadline, restarting after signals. */
void gops_sleep_until(int64_t deadline_ns);

/* Path of a file under /sys or /proc, honouring GREENOPS_SYSFS_ROOT / GREENOPS_PROC_ROOT.
 * `path` starts with "/sys/" or "/proc/". Returns buf. */
const char *gops_sys_path(char *buf, size_t len, const char *path);

/* Reads a small file into buf (NUL-terminated, trailing newline removed).
 * Returns bytes read or a negative errno. */
int gops_read_file(const char *path, char *buf, size_t len);
/* Reads one unsigned integer from a file; -EINVAL when it is not a number. */
int gops_read_u64(const char *path, uint64_t *out);

/* snprintf that never overflows and always terminates; returns dst. */
char *gops_strlcpy(char *dst, const char *src, size_t len);
char *gops_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *gops_xstrdup(const char *s);
/* A copy of s (NULL: "") in which every byte that is not part of a well-formed UTF-8 sequence
 * (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF) is replaced by U+FFFD.
 * Names and tags pass through it once, where they enter, so that JSON (which must be UTF-8)
 * and the database hold the same text. */
char *gops_utf8_repair(const char *s);
/* Appends a formatted string to a growable array of strings (*v has *n entries). */
void gops_strv_pushf(char ***v, size_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void gops_strv_vpushf(char ***v, size_t *n, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* A wall-clock time in ns as ISO 8601 UTC with milliseconds ("2026-12-05T09:30:00.250Z"),
 * the one form every stored and exported time takes. Returns buf. */
const char *gops_iso_time(int64_t realtime_ns, char *buf, size_t len);

#endif
