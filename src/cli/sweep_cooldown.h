/* The cool-down between a sweep's runs that waits until the machine is back at idle: every
 * measured domain within a given percentage of the idle power `greenops idle` stored, and no
 * GPU compute process left (the quiet checks of `greenops idle`, src/meter/quiet.h). */
#ifndef GOPS_CLI_SWEEP_COOLDOWN_H
#define GOPS_CLI_SWEEP_COOLDOWN_H

#include <stddef.h>

/* Waits at most timeout_s. Returns 0 with msg "" when back at idle, 0 with msg saying why it
 * stopped waiting (no stored idle power, timeout: which domain was above), or -EINTR. */
int sweep_cooldown_until_idle(const char *db_path, double pct, double timeout_s, char *msg, size_t len);

#endif
