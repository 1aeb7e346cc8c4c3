/* The control socket of a run: a private Unix stream socket whose path the child finds in
 * GREENOPS_CONTROL; lines `begin NAME [T_NS]`, `end NAME [T_NS]`, `units N [NAME]`,
 * `tag KEY=VALUE` mark windows on the monitor. Served by its own thread, promptly. */
#ifndef GOPS_CONTROL_H
#define GOPS_CONTROL_H

#include <greenops/greenops.h>
#include <stddef.h>

struct gops_control;

/* Creates the socket in a fresh 0700 directory and starts serving it. */
int gops_control_start(struct gops_control **out, gops_monitor *m, char *err, size_t errlen);
const char *gops_control_path(const struct gops_control *c);
/* Reads whatever clients have already written, then stops, closes and removes the socket. */
void gops_control_stop(struct gops_control *c);

/* Applies one protocol line (without the newline) at arrival time now_ns; returns 0 or
 * -EINVAL for a malformed line. Exposed for tests. */
int gops_control_line(gops_monitor *m, const char *line, int64_t now_ns);

#endif
