/* Waiting for idle between runs: a monitor of its own reads each domain's power; the wait ends
 * when the mean of the last two seconds is within pct% of the stored idle power for every
 * domain that has a stored baseline, and no GPU runs a compute process. */
#include "cli/sweep_cooldown.h"

#include "cli/sweep_child.h"
#include "base/util.h"
#include "meter/quiet.h"
#include "store/db.h"

#include <greenops/greenops.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DOMAINS 64
#define SPAN_S      2.0
#define STEP_NS     100000000LL

static int load_baselines(const char *db_path, struct gops_db_baseline **b, size_t *n, char *msg, size_t len)
{
	struct gops_db *db;
	char err[512];
	int rc = gops_db_open(&db, db_path, 0, err, sizeof err);
	if (rc < 0) {
		snprintf(msg, len, "%s", err);
		return rc;
	}
	rc = gops_db_baselines_load(db, b, n);
	if (rc < 0)
		snprintf(msg, len, "%s", gops_db_error(db));
	gops_db_close(db, NULL, 0);
	return rc;
}

static const struct gops_db_baseline *baseline_of(const struct gops_db_baseline *b, size_t n,
                                                  const char *domain)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(b[i].domain, domain))
			return &b[i];
	return NULL;
}

int sweep_cooldown_until_idle(const char *db_path, double pct, double timeout_s, char *msg, size_t len)
{
	msg[0] = 0;
	struct gops_db_baseline *base = NULL;
	size_t n_base = 0;
	if (load_baselines(db_path, &base, &n_base, msg, len) < 0)
		return 0;
	if (!n_base) {
		snprintf(msg, len, "no idle power stored for this machine (run 'greenops idle'): not waited");
		free(base);
		return 0;
	}
	struct gops_options o;
	gops_options_init(&o);
	gops_monitor *m = NULL;
	int rc = gops_monitor_new(&m, &o);
	if (rc < 0 || (rc = gops_monitor_start(m)) < 0) {
		snprintf(msg, len, "cannot read power to wait for idle: %s",
		         m ? gops_monitor_error(m) : strerror(-rc));
		gops_monitor_free(m);
		free(base);
		return 0;
	}
	struct gops_gpu_check *gpus = NULL;
	char err[256];
	if (gops_gpu_check_open(&gpus, err, sizeof err) < 0)
		gpus = NULL;
	struct gops_power_window pw[MAX_DOMAINS];
	for (size_t i = 0; i < MAX_DOMAINS; i++)
		gops_power_window_init(&pw[i], SPAN_S);
	int64_t t0 = gops_now_ns(), deadline = t0 + (int64_t)(timeout_s * 1e9), tick = t0;
	char why[512] = "";
	rc = 0;
	for (;;) {
		int64_t now = gops_now_ns();
		struct gops_live live[MAX_DOMAINS];
		size_t n = 0;
		gops_monitor_live(m, live, MAX_DOMAINS, &n);
		bool idle = true;
		why[0] = 0;
		for (size_t i = 0; i < n; i++) {
			const struct gops_db_baseline *b = baseline_of(base, n_base, live[i].domain);
			if (!b || isnan(live[i].power_w))
				continue;
			gops_power_window_push(&pw[i], (double)(now - t0) / 1e9 - live[i].age_s,
			                       live[i].power_w);
			double mean, sd, covered;
			if (!gops_power_window_stats(&pw[i], &mean, &sd, &covered) ||
			    covered < SPAN_S * 0.8) {
				idle = false;
				continue;
			}
			double limit = b->mean_w * (1 + pct / 100);
			if (mean > limit) {
				idle = false;
				size_t l = strlen(why);
				snprintf(why + l, sizeof why - l, "%s%s at %.1f W (idle %.1f W)",
				         l ? ", " : "", live[i].domain, mean, b->mean_w);
			}
		}
		for (size_t g = 0; gpus && g < gops_gpu_check_count(gpus); g++) {
			unsigned procs = 0;
			if (gops_gpu_check_procs(gpus, g, &procs) == 0 && procs > 0) {
				idle = false;
				size_t l = strlen(why);
				snprintf(why + l, sizeof why - l, "%s%s runs %u compute process%s",
				         l ? ", " : "", gops_gpu_check_name(gpus, g), procs,
				         procs == 1 ? "" : "es");
			}
		}
		if (idle)
			break;
		if (sweep_interrupted) {
			rc = -EINTR;
			break;
		}
		if (now >= deadline) {
			snprintf(msg, len, "not back within %g%% of idle after %g s: %s", pct, timeout_s,
			         why[0] ? why : "too few power readings");
			break;
		}
		tick += STEP_NS;
		gops_sleep_until(tick < now ? now + STEP_NS : tick);
	}
	for (size_t i = 0; i < MAX_DOMAINS; i++)
		gops_power_window_release(&pw[i]);
	gops_gpu_check_close(gpus);
	gops_monitor_stop(m);
	gops_monitor_free(m);
	free(base);
	return rc;
}
