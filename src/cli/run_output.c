/* Writes a measured run to the database, --json, --timeline and the summary. */
#include "cli/run_output.h"
#include "cli/commands.h"
#include "cli/summary.h"
#include "lib/result_json.h"

#include <jansson.h>
#include <sys/resource.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void run_output_init(struct run_output *o)
{
	memset(o, 0, sizeof *o);
	o->carbon = 475;
	o->pue = 1;
	o->verb = "run";
}

int run_output_prepare(struct run_output *o, struct gops_options *opts)
{
	(void)opts;
	return 0;
}

void run_output_tag_model(struct run_output *o, gops_monitor *m)
{
	(void)o;
	(void)m;
}

void run_output_begin(struct run_output *o, gops_monitor *m)
{
	(void)o;
	(void)m;
}

void run_output_abandon(struct run_output *o)
{
	(void)o;
}

/* greenops's own cost, so users can see that measuring is cheap. */
static double self_cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int write_json(const struct run_output *o, const struct gops_result *r, int status, int sig)
{
	json_t *obj = gops_result_json_object(r, status, sig);
	json_t *cmd = json_array();
	for (char **a = o->argv; a && *a; a++)
		json_array_append_new(cmd, json_string(*a));
	json_object_set_new(obj, "command", cmd);
	json_object_set_new(obj, "greenops_cpu_s", json_real(self_cpu_s()));
	if (o->run_id > 0)
		json_object_set_new(obj, "run_id", json_integer(o->run_id));
	char *s = json_dumps(obj, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
	json_decref(obj);
	if (!s)
		return cmd_error(o->verb, "cannot encode the result as JSON"), -ENOMEM;
	FILE *f = strcmp(o->json_path, "-") ? fopen(o->json_path, "w") : stdout;
	if (!f) {
		int e = errno;
		free(s);
		cmd_error(o->verb, "cannot write '%s': %s", o->json_path, strerror(e));
		return -e;
	}
	fprintf(f, "%s\n", s);
	free(s);
	int bad = f == stdout ? fflush(f) : fclose(f);
	if (bad) {
		cmd_error(o->verb, "cannot write '%s': %s", o->json_path, strerror(errno));
		return -EIO;
	}
	return 0;
}

static int timeline_row(void *ctx, double t, const char *domain, double w, double j)
{
	FILE *f = ctx;
	fprintf(f, "%.6f,%s,", t, domain);
	if (!isnan(w))
		fprintf(f, "%.3f", w);
	fputc(',', f);
	if (!isnan(j))
		fprintf(f, "%.6f", j);
	fputc('\n', f);
	return ferror(f) ? -EIO : 0;
}

static int write_timeline(const struct run_output *o, gops_monitor *m)
{
	FILE *f = fopen(o->timeline_path, "w");
	if (!f) {
		int e = errno;
		cmd_error(o->verb, "cannot write '%s': %s", o->timeline_path, strerror(e));
		return -e;
	}
	fprintf(f, "t_s,domain,power_w,counter_j\n");
	int r = gops_monitor_foreach_sample(m, timeline_row, f);
	if (fclose(f) != 0 || r < 0) {
		cmd_error(o->verb, "cannot write '%s': %s", o->timeline_path, strerror(errno ? errno : EIO));
		return -EIO;
	}
	return 0;
}

int run_output_finish(struct run_output *o, gops_monitor *m, int exit_status, int signal)
{
	const struct gops_result *r = gops_monitor_result(m);
	int rc = 0;
	if (!r)
		return -EINVAL;
	if (o->json_path && write_json(o, r, exit_status, signal) < 0)
		rc = -1;
	if (o->timeline_path && write_timeline(o, m) < 0)
		rc = -1;
	if (!o->quiet) {
		struct summary_ctx c = {.command = o->command,
					.exit_status = exit_status,
					.signal = signal,
					.carbon_g_per_kwh = o->carbon,
					.pue = o->pue,
					.price_per_kwh = o->price};
		summary_print(stderr, r, &c);
	}
	return rc;
}

void run_output_release(struct run_output *o)
{
	(void)o;
}
