/* libFuzzer entry point for the control-socket protocol: the bytes are what a child writes
 * to GREENOPS_CONTROL, split into lines as the socket's reader splits them, applied to a
 * running monitor (the estimate source, nothing else to open), which is then stopped and its
 * result written as JSON. Never a crash, a leak or undefined behaviour; a window's T_NS is
 * taken as the fuzzer wrote it, or, after a line "@", as nanoseconds after the start.
 * Built and run by bench/fuzz.sh control. */
#include "meter/control.h"
#include "meter/result_json.h"
#include "base/util.h"

#include <greenops/greenops.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* "begin NAME T" with T relative to t0: rewritten with the absolute stamp. */
static void relative_stamp(char *line, size_t cap, int64_t t0)
{
	char *sp = strrchr(line, ' ');
	char *end;
	long long rel;
	if (!sp || (strncmp(line, "begin ", 6) && strncmp(line, "end ", 4)))
		return;
	rel = strtoll(sp + 1, &end, 10);
	if (*end || end == sp + 1 || rel < 0 || rel > 1000000000LL)
		return;
	snprintf(sp + 1, cap - (size_t)(sp + 1 - line), "%lld", (long long)(t0 + rel));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gops_options o;
	gops_options_init(&o);
	o.sources = "estimate";
	o.interval_ms = 5;
	o.idle = GOPS_IDLE_NONE;
	gops_monitor *m = NULL;
	if (gops_monitor_new(&m, &o) < 0 || gops_monitor_start(m) < 0) {
		gops_monitor_free(m);
		return 0;
	}
	int64_t t0 = gops_now_ns();
	bool relative = false;
	char line[4096 + 32]; /* the socket's reader keeps lines below 4 KiB: longer is malformed */
	size_t len = 0;
	bool overlong = false;
	for (size_t i = 0; i <= size; i++) {
		if (i < size && data[i] != '\n') {
			if (len + 1 < 4096)
				line[len++] = (char)data[i];
			else
				overlong = true;
			continue;
		}
		line[len] = 0;
		len = 0;
		if (overlong) {
			gops_monitor_count_malformed(m);
			overlong = false;
			continue;
		}
		if (!strcmp(line, "@")) {
			relative = true;
			continue;
		}
		if (relative)
			relative_stamp(line, sizeof line, t0);
		if (line[0] && gops_control_line(m, line, gops_now_ns()) < 0)
			gops_monitor_count_malformed(m);
	}
	if (gops_monitor_stop(m) == 0) {
		json_t *j = gops_result_json_object(gops_monitor_result(m), 0, 0);
		char *s = json_dumps(j, JSON_COMPACT);
		if (!s)
			__builtin_trap(); /* a result that cannot be written */
		free(s);
		json_decref(j);
	}
	gops_monitor_free(m);
	return 0;
}
