/* greenops_spank.so: a Slurm SPANK plugin that measures every job step on every node with
 * libgreenops and stores one run per step per node in that node's results database, tagged
 * slurm.job, slurm.step and slurm.node (`greenops slurm JOBID` reads them back). It runs in
 * slurmstepd, once per step per node however many tasks the step has there; a lock file per
 * step keeps a second process on the same host from measuring the same step again.
 * docs/FLEET.md has the plugstack.conf line and the --greenops-* job options. */
#include <slurm/slurm.h>
#include <slurm/spank.h>

#include <greenops/greenops.h>

#include "store/db.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

SPANK_PLUGIN(greenops, 1);

#define TAG(k) "slurm." k

/* Site settings: plugstack.conf arguments. */
static struct {
	char db[PATH_MAX];       /* db=PATH, %h the short hostname */
	char lockdir[PATH_MAX];  /* lockdir=DIR, local to the host */
	char sources[128];       /* sources=LIST */
	unsigned interval_ms;    /* interval=MS */
	bool measure_by_default; /* default=on|off */
} site = {"/var/lib/greenops/slurm.db", "/run/greenops", "", 100, true};

/* The job's choices: --greenops-* options. */
static struct {
	int on; /* -1 not said, 0 --greenops-off, 1 --greenops-on */
	unsigned interval_ms;
	char sources[128];
	char tag[256];
} job = {-1, 0, "", ""};

/* This slurmstepd's measurement. */
static struct {
	gops_monitor *mon;
	int lock_fd;
	char lock_path[PATH_MAX + 64];
	uint32_t jobid, stepid;
	int64_t first_fork_ns, last_exit_ns;
	int exit_status;
	bool any_task_failed;
} step = {.lock_fd = -1};

static int opt_cb(int val, const char *optarg, int remote);

static struct spank_option options[] = {
    {"greenops-off", NULL, "greenops: do not measure this job's energy", 0, 'o', opt_cb},
    {"greenops-on", NULL, "greenops: measure this job's energy (where the site measures on request only)", 0,
     'O', opt_cb},
    {"greenops-interval", "MS", "greenops: sampling period in milliseconds (default 100)", 1, 'i', opt_cb},
    {"greenops-sources", "LIST", "greenops: sensors to read: nvml,powercap,perf,hwmon,estimate", 1, 's',
     opt_cb},
    {"greenops-tag", "KEY=VALUE", "greenops: label the job's runs with this tag", 1, 't', opt_cb},
    SPANK_OPTIONS_TABLE_END,
};

static bool parse_ms(const char *s, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > 60000)
		return false;
	*out = (unsigned)v;
	return true;
}

static bool copy(char *dst, size_t len, const char *src)
{
	size_t n = strlen(src);
	if (n >= len)
		return false;
	memcpy(dst, src, n + 1);
	return true;
}

static int opt_cb(int val, const char *optarg, int remote)
{
	switch (val) {
	case 'o':
	case 'O':
		job.on = val == 'O';
		return 0;
	case 'i':
		if (parse_ms(optarg, &job.interval_ms))
			return 0;
		slurm_error("greenops: invalid value '%s' for --greenops-interval (expected 1 to 60000 ms)",
		            optarg);
		return -1;
	case 's':
		if (copy(job.sources, sizeof job.sources, optarg))
			return 0;
		slurm_error("greenops: --greenops-sources '%s' is too long", optarg);
		return -1;
	case 't':
		if (strchr(optarg, '=') && optarg[0] != '=' && copy(job.tag, sizeof job.tag, optarg))
			return 0;
		slurm_error("greenops: invalid value '%s' for --greenops-tag (expected KEY=VALUE)", optarg);
		return -1;
	}
	return -1;
}

static int parse_site_args(int ac, char **av)
{
	for (int i = 0; i < ac; i++) {
		const char *a = av[i];
		bool ok = true;
		if (!strncmp(a, "db=", 3))
			ok = copy(site.db, sizeof site.db, a + 3) && a[3];
		else if (!strncmp(a, "lockdir=", 8))
			ok = copy(site.lockdir, sizeof site.lockdir, a + 8) && a[8];
		else if (!strncmp(a, "sources=", 8))
			ok = copy(site.sources, sizeof site.sources, a + 8);
		else if (!strncmp(a, "interval=", 9))
			ok = parse_ms(a + 9, &site.interval_ms);
		else if (!strcmp(a, "default=on") || !strcmp(a, "default=off"))
			site.measure_by_default = !strcmp(a, "default=on");
		else
			ok = false;
		if (!ok) {
			slurm_error(
			    "greenops: invalid plugstack.conf argument '%s' (expected db=PATH, lockdir=DIR, "
			    "sources=LIST, interval=MS or default=on|off)",
			    a);
			return -1;
		}
	}
	return 0;
}

int slurm_spank_init(spank_t sp, int ac, char **av)
{
	for (struct spank_option *o = options; o->name; o++)
		if (spank_option_register(sp, o) != ESPANK_SUCCESS) {
			slurm_error("greenops: cannot register --%s", o->name);
			return -1;
		}
	/* A bad site argument is said where it matters (slurmstepd), without failing jobs. */
	if (spank_remote(sp) && parse_site_args(ac, av) < 0)
		site.measure_by_default = false, job.on = 0;
	return 0;
}

/* The database path with %h replaced by the short hostname (one file per node on shared
 * storage) and %% by %. */
static bool db_path(char *out, size_t len)
{
	char host[256] = "";
	gethostname(host, sizeof host - 1);
	host[strcspn(host, ".")] = 0;
	size_t o = 0;
	for (const char *p = site.db; *p; p++) {
		const char *add = NULL;
		char one[2] = {*p, 0};
		if (p[0] == '%' && p[1] == 'h')
			add = host, p++;
		else if (p[0] == '%' && p[1] == '%')
			add = "%", p++;
		else
			add = one;
		size_t n = strlen(add);
		if (o + n >= len)
			return false;
		memcpy(out + o, add, n + 1);
		o += n;
	}
	return true;
}

/* One measurer per step per host: the first process to lock the step's file measures. */
static bool take_lock(void)
{
	mkdir(site.lockdir, 0755);
	snprintf(step.lock_path, sizeof step.lock_path, "%s/greenops-%u.%u.lock", site.lockdir, step.jobid,
	         step.stepid);
	step.lock_fd = open(step.lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (step.lock_fd < 0) {
		slurm_error("greenops: cannot open '%s': %s; job %u step not measured", step.lock_path,
		            strerror(errno), step.jobid);
		return false;
	}
	if (flock(step.lock_fd, LOCK_EX | LOCK_NB) == 0)
		return true;
	slurm_verbose("greenops: job %u step %u is measured by another process on this host", step.jobid,
	              step.stepid);
	close(step.lock_fd);
	step.lock_fd = -1;
	return false;
}

static void drop_lock(void)
{
	if (step.lock_fd < 0)
		return;
	unlink(step.lock_path);
	close(step.lock_fd);
	step.lock_fd = -1;
}

static void step_name(char *buf, size_t len)
{
	if (step.stepid == SLURM_BATCH_SCRIPT)
		snprintf(buf, len, "batch");
	else
		snprintf(buf, len, "%u", step.stepid);
}

static void tag_u32(spank_t sp, spank_item_t item, const char *key)
{
	uint32_t v;
	char buf[16];
	if (spank_get_item(sp, item, &v) == ESPANK_SUCCESS) {
		snprintf(buf, sizeof buf, "%u", v);
		gops_monitor_tag(step.mon, key, buf);
	}
}

static void tag_step(spank_t sp)
{
	char buf[256];
	snprintf(buf, sizeof buf, "%u", step.jobid);
	gops_monitor_tag(step.mon, TAG("job"), buf);
	step_name(buf, sizeof buf);
	gops_monitor_tag(step.mon, TAG("step"), buf);
	tag_u32(sp, S_JOB_NODEID, TAG("nodeid"));
	tag_u32(sp, S_JOB_NNODES, TAG("nnodes"));
	tag_u32(sp, S_JOB_LOCAL_TASK_COUNT, TAG("tasks"));
	tag_u32(sp, S_JOB_UID, TAG("uid"));
	if (job.tag[0]) {
		char *eq = strchr(job.tag, '=');
		*eq = 0;
		gops_monitor_tag(step.mon, job.tag, eq + 1);
		*eq = '=';
	}
}

/* slurmstepd, still privileged, before any task is forked: the sensors are opened and the
 * sampler started here, so the span can begin the moment the first task is forked. */
int slurm_spank_init_post_opt(spank_t sp, int ac, char **av)
{
	if (!spank_remote(sp))
		return 0;
	if (spank_get_item(sp, S_JOB_ID, &step.jobid) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_STEPID, &step.stepid) != ESPANK_SUCCESS)
		return 0;
	/* The extern step only holds processes adopted from ssh; the interactive step is the
	 * shell of salloc, whose own sruns are steps of their own. */
	if (step.stepid == SLURM_EXTERN_CONT || step.stepid == SLURM_INTERACTIVE_STEP)
		return 0;
	if (job.on == 0 || (job.on < 0 && !site.measure_by_default))
		return 0;
	if (!take_lock())
		return 0;
	struct gops_options o;
	gops_options_init(&o);
	o.interval_ms = job.interval_ms ? job.interval_ms : site.interval_ms;
	const char *src = job.sources[0] ? job.sources : site.sources;
	o.sources = src[0] ? src : NULL;
	o.idle = GOPS_IDLE_NONE;
	if (gops_monitor_new(&step.mon, &o) < 0 || gops_monitor_start(step.mon) < 0) {
		slurm_error("greenops: job %u: %s; step not measured", step.jobid,
		            gops_monitor_error(step.mon));
		gops_monitor_free(step.mon);
		step.mon = NULL;
		drop_lock();
		return 0;
	}
	tag_step(sp);
	return 0;
}

int slurm_spank_task_post_fork(spank_t sp, int ac, char **av)
{
	if (step.mon && !step.first_fork_ns) {
		step.first_fork_ns = gops_now_ns();
		gops_monitor_set_start(step.mon, step.first_fork_ns);
	}
	return 0;
}

int slurm_spank_task_exit(spank_t sp, int ac, char **av)
{
	if (!step.mon)
		return 0;
	step.last_exit_ns = gops_now_ns();
	int st;
	if (spank_get_item(sp, S_TASK_EXIT_STATUS, &st) == ESPANK_SUCCESS && !step.any_task_failed && st) {
		step.exit_status = st; /* a wait() status: the first task that failed */
		step.any_task_failed = true;
	}
	return 0;
}

static int store(spank_t sp, const struct gops_result *r)
{
	char path[PATH_MAX], err[512];
	if (!db_path(path, sizeof path)) {
		slurm_error("greenops: the database path '%s' is too long", site.db);
		return -1;
	}
	struct gops_db *db;
	int rc = gops_db_open(&db, path, 0, err, sizeof err);
	if (rc) {
		slurm_error("greenops: job %u: %s", step.jobid, err);
		return rc;
	}
	struct gops_db_run_info info;
	gops_db_run_info_init(&info);
	info.kind = "slurm-step";
	int argc = 0;
	char **argv = NULL;
	if (spank_get_item(sp, S_JOB_ARGV, &argc, &argv) == ESPANK_SUCCESS && argc > 0) {
		info.argc = argc;
		info.argv = (const char *const *)argv;
	} else {
		static const char *const none[] = {"(batch script)"};
		info.argc = 1;
		info.argv = none;
	}
	info.cwd = "/";
	info.started_realtime_ns = r->start_realtime_ns;
	info.options_json = "{\"measured_by\":\"slurm\"}";
	int64_t id;
	int es = WIFEXITED(step.exit_status) ? WEXITSTATUS(step.exit_status) : 0;
	int sig = WIFSIGNALED(step.exit_status) ? WTERMSIG(step.exit_status) : 0;
	rc = gops_db_run_begin(db, &info, &id);
	if (!rc)
		rc = gops_db_run_finish(db, id, r, es, sig, sig ? GOPS_RUN_INTERRUPTED : GOPS_RUN_COMPLETED);
	if (rc)
		slurm_error("greenops: job %u: cannot store the step: %s", step.jobid, gops_db_error(db));
	int crc = gops_db_close(db, err, sizeof err);
	if (crc && !rc)
		slurm_error("greenops: job %u: %s", step.jobid, err);
	if (!rc && !crc) {
		char name[16];
		step_name(name, sizeof name);
		slurm_verbose("greenops: job %u step %s: %.1f J in %.2f s, run %lld in %s", step.jobid, name,
		              r->energy_j, r->duration_s, (long long)id, path);
	}
	return rc ? rc : crc;
}

int slurm_spank_exit(spank_t sp, int ac, char **av)
{
	if (!spank_remote(sp) || !step.mon)
		return 0;
	/* Slurm's name of the node: in the job's environment once its tasks were set up (a batch
	 * step has it only then). */
	char node[256] = "";
	if (spank_getenv(sp, "SLURMD_NODENAME", node, sizeof node) != ESPANK_SUCCESS) {
		gethostname(node, sizeof node - 1);
		node[strcspn(node, ".")] = 0;
	}
	gops_monitor_tag(step.mon, TAG("node"), node);
	int64_t end = step.last_exit_ns ? step.last_exit_ns : gops_now_ns();
	if (gops_monitor_stop_at(step.mon, end) < 0)
		slurm_error("greenops: job %u: %s", step.jobid, gops_monitor_error(step.mon));
	else
		store(sp, gops_monitor_result(step.mon));
	gops_monitor_free(step.mon);
	step.mon = NULL;
	drop_lock();
	return 0;
}
