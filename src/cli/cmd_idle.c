/* greenops idle: waits until the machine is quiet (no GPU compute processes, low CPU load,
 * settled power), measures every domain's mean power and its spread, and stores them as
 * this host's idle baseline, which `greenops run` subtracts as --idle stored. */
#include "cli/commands.h"
#include "cli/config.h"
#include "cli/countdown.h"
#include "cli/db_cli.h"
#include "cli/monitor_opts.h"
#include "meter/quiet.h"
#include "meter/result_json.h"
#include "base/util.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char usage_idle[] =
    "usage: greenops idle [--duration S] [--timeout S] [--db PATH | --no-db] [--sources LIST]\n"
    "                     [--json FILE] [options]\n"
    "\n"
    "Waits until the machine is quiet, then measures each domain's mean power and its spread\n"
    "and stores them as this host's idle baseline (per device, with the date). `greenops run`\n"
    "subtracts it: dynamic energy = gross - idle power x duration. Quiet means: no compute\n"
    "process on any GPU, CPU load below --max-cpu, and each domain's power steady over the last\n"
    "--settle seconds. A machine that turns busy during the measurement is waited for again.\n"
    "\n"
    "  --duration S     how long to measure (default 30)\n"
    "  --timeout S      give up waiting for quiet after S seconds (default 300)\n"
    "  --max-cpu PCT    CPU load counted as quiet, in percent of all CPUs (default 10)\n"
    "  --max-spread W   power standard deviation counted as settled (default 3% of the mean,\n"
    "                   at least 1 W)\n"
    "  --settle S       how long power must stay settled (default 5)\n"
    "  --force          measure at once, without waiting for quiet\n"
    "  --json FILE      write the baseline as JSON (- for stdout)\n"
    "  --interval MS    sampling period (default 100)\n"
    "  --sources LIST   nvml,powercap,perf,hwmon,estimate (default: every sensor found)\n"
    "  --cpu-tdp W      CPU power at full load, for the estimate where no sensor exists\n"
    "  --db PATH        results database (" HELP_DB_DEFAULT ")\n"
    "  --no-db          measure and print, store nothing\n";

enum {
	OPT_DURATION = 3300,
	OPT_TIMEOUT,
	OPT_MAX_CPU,
	OPT_MAX_SPREAD,
	OPT_SETTLE,
	OPT_FORCE,
	OPT_JSON,
	OPT_DB,
	OPT_NO_DB
};

#define CHECK_NS 1000000000LL /* CPU and GPU-process checks: /proc/stat moves in 10 ms jiffies */

struct idle {
	struct gops_options opts;
	double duration_s, timeout_s, max_cpu, max_spread_w, settle_s;
	bool force;
	const char *json_path, *db_path;
	bool no_db;
	/* checks */
	struct gops_gpu_check *gpus;
	struct gops_cpu_times cpu_prev;
	bool have_cpu;
	double cpu_busy;    /* NAN until two readings */
	char busy_why[512]; /* what the last check found not quiet ("" quiet) */
	/* results */
	struct gops_db_baseline *b;
	size_t n_b;
	double waited_s;
	int64_t measured_at_ns;
};

static volatile sig_atomic_t stop_sig;

static void on_signal(int sig)
{
	stop_sig = sig;
}

static void appendf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void appendf(char *buf, size_t len, const char *fmt, ...)
{
	size_t n = strlen(buf);
	if (n + 2 >= len)
		return;
	if (n)
		n += (size_t)snprintf(buf + n, len - n, "; ");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf + n, len - n, fmt, ap);
	va_end(ap);
}

/* CPU load since the last call and compute processes now; fills busy_why. */
static int check_activity(struct idle *s)
{
	s->busy_why[0] = 0;
	struct gops_cpu_times now;
	char err[512];
	int r = gops_cpu_times_read(&now, err, sizeof err);
	if (r < 0)
		return cmd_error("idle", "%s (set --max-cpu 100 to skip the CPU check)", err), r;
	if (s->have_cpu) {
		double load = gops_cpu_load(&s->cpu_prev, &now);
		s->cpu_busy = load < 0 ? 0 : load; /* no tick between the readings: nothing ran */
		if (s->max_cpu < 100 && s->cpu_busy * 100 > s->max_cpu)
			appendf(s->busy_why, sizeof s->busy_why, "CPU %.0f%% busy (quiet is below %g%%)",
			        s->cpu_busy * 100, s->max_cpu);
	}
	s->cpu_prev = now;
	s->have_cpu = true;
	for (size_t i = 0; i < gops_gpu_check_count(s->gpus); i++) {
		unsigned n = 0;
		if (gops_gpu_check_procs(s->gpus, i, &n) == 0 && n > 0)
			appendf(s->busy_why, sizeof s->busy_why, "%s: %u compute process%s",
			        gops_gpu_check_name(s->gpus, i), n, n == 1 ? "" : "es");
	}
	return 0;
}

static int monitor_open(struct idle *s, gops_monitor **m)
{
	int r = gops_monitor_new(m, &s->opts);
	if (r < 0) {
		cmd_error("idle", "%s", *m ? gops_monitor_error(*m) : strerror(-r));
		gops_monitor_free(*m);
		*m = NULL;
		return r;
	}
	if ((r = gops_monitor_start(*m)) < 0) {
		cmd_error("idle", "%s", gops_monitor_error(*m));
		gops_monitor_free(*m);
		*m = NULL;
	}
	return r;
}

static double spread_limit(const struct idle *s, double mean)
{
	if (s->max_spread_w > 0)
		return s->max_spread_w;
	double rel = fabs(mean) * 0.03;
	return rel > 1 ? rel : 1;
}

#define MAX_LIVE 64

/* The reasons without their figures: "CPU % busy (quiet is below %)" stays one reason. */
static void reason_key(const char *why, char *key, size_t len)
{
	size_t o = 0;
	for (; *why && o + 1 < len; why++)
		if ((*why < '0' || *why > '9') && *why != '.')
			key[o++] = *why;
	key[o] = 0;
}

/* Waits until quiet: returns 0, -ETIMEDOUT (why printed), -EINTR, or another failure. */
static int wait_quiet(struct idle *s, int64_t deadline)
{
	gops_monitor *m;
	int r = monitor_open(s, &m);
	if (r < 0)
		return r;
	struct gops_live live[MAX_LIVE];
	struct gops_power_window pw[MAX_LIVE];
	for (size_t i = 0; i < MAX_LIVE; i++)
		gops_power_window_init(&pw[i], s->settle_s);
	int64_t t0 = gops_now_ns(), quiet_since = t0, next_check = t0, tick = t0;
	s->have_cpu = false;
	s->cpu_busy = NAN;
	int64_t step =
	    (int64_t)(s->opts.interval_ms ? s->opts.interval_ms : GOPS_DEFAULT_INTERVAL_MS) * 1000000;
	char last_why[1024] = "", why[1024] = "";
	int64_t last_print = 0;
	for (;;) {
		int64_t now = gops_now_ns();
		if (now >= next_check) {
			if ((r = check_activity(s)) < 0)
				break;
			next_check += CHECK_NS;
			if (s->busy_why[0] || (isnan(s->cpu_busy) && s->max_cpu < 100))
				quiet_since = now;
		}
		size_t n = 0;
		gops_monitor_live(m, live, MAX_LIVE, &n);
		why[0] = 0;
		if (s->busy_why[0])
			appendf(why, sizeof why, "%s", s->busy_why);
		bool settled = true;
		for (size_t i = 0; i < n; i++) {
			if (isnan(live[i].power_w))
				continue;
			gops_power_window_push(&pw[i], (now - t0) / 1e9 - live[i].age_s, live[i].power_w);
			double mean, sd, covered;
			if (!gops_power_window_stats(&pw[i], &mean, &sd, &covered) ||
			    covered < s->settle_s * 0.8) {
				settled = false;
				continue;
			}
			if (sd > spread_limit(s, mean)) {
				settled = false;
				appendf(why, sizeof why,
				        "%s power not settled (spread %.2f W over %g s, at most %.2f W)",
				        live[i].domain, sd, s->settle_s, spread_limit(s, mean));
			}
		}
		if (settled && !s->busy_why[0] && (now - quiet_since) / 1e9 >= s->settle_s) {
			r = 0;
			break;
		}
		/* Say what is not quiet when that changes (figures aside), and every 10 s. */
		char key[1024];
		reason_key(why, key, sizeof key);
		if (why[0] && (strcmp(key, last_why) || now - last_print >= 10 * CHECK_NS)) {
			fprintf(stderr, "greenops idle: waiting for quiet: %s\n", why);
			snprintf(last_why, sizeof last_why, "%s", key);
			last_print = now;
		}
		if (now >= deadline) {
			cmd_error("idle", "the machine did not become quiet within %g s: %s", s->timeout_s,
			          why[0] ? why : "power readings did not cover the settle time");
			r = -ETIMEDOUT;
			break;
		}
		if (stop_sig) {
			r = -EINTR;
			break;
		}
		tick += step;
		gops_sleep_until(tick < now ? now + step : tick);
	}
	for (size_t i = 0; i < MAX_LIVE; i++)
		gops_power_window_release(&pw[i]);
	gops_monitor_free(m);
	return r;
}

struct spread_acc {
	const char *domain;
	size_t n;
	double mean, m2;
};

static int spread_sample(void *ctx, double t_s, const char *domain, double watts, double counter_j)
{
	struct spread_acc *a = ctx;
	if (strcmp(domain, a->domain) || isnan(watts))
		return 0;
	a->n++;
	double d = watts - a->mean;
	a->mean += d / (double)a->n;
	a->m2 += d * (watts - a->mean);
	return 0;
}

static int collect(struct idle *s, gops_monitor *m)
{
	const struct gops_result *r = gops_monitor_result(m);
	s->b = calloc(r->n_domains ? r->n_domains : 1, sizeof *s->b);
	if (!s->b)
		return -ENOMEM;
	for (size_t i = 0; i < r->n_domains; i++) {
		const struct gops_domain_result *d = &r->domains[i];
		if (d->method == GOPS_METHOD_NONE || isnan(d->avg_power_w))
			continue;
		struct gops_db_baseline *b = &s->b[s->n_b++];
		gops_strlcpy(b->domain, d->name, sizeof b->domain);
		gops_strlcpy(b->source, d->source, sizeof b->source);
		gops_strlcpy(b->kind, d->kind, sizeof b->kind);
		gops_strlcpy(b->label, d->label, sizeof b->label);
		b->mean_w = d->avg_power_w;
		b->duration_s = r->duration_s;
		b->measured_realtime_ns = r->start_realtime_ns;
		struct spread_acc acc = {.domain = d->name};
		gops_monitor_foreach_sample(m, spread_sample, &acc);
		b->n_samples = acc.n;
		b->spread_w = acc.n >= 2 ? sqrt(acc.m2 / (double)(acc.n - 1)) : NAN;
	}
	s->measured_at_ns = r->start_realtime_ns;
	if (!s->n_b)
		return cmd_error("idle",
		                 "no energy sensor could be read: nothing to measure (see 'greenops list')"),
		       -ENODEV;
	return 0;
}

/* Measures for the duration. Returns 0, -EAGAIN when the machine turned busy (why printed),
 * or another failure. */
static int measure(struct idle *s)
{
	gops_monitor *m;
	int r = monitor_open(s, &m);
	if (r < 0)
		return r;
	int64_t t0 = gops_now_ns(), end = t0 + (int64_t)(s->duration_s * 1e9);
	s->have_cpu = false;
	s->cpu_busy = NAN;
	struct countdown *cd = countdown_start("idle", "measuring idle power", s->duration_s);
	for (int64_t next = t0;;) {
		int64_t now = gops_now_ns();
		if (!s->force && now >= next) {
			if ((r = check_activity(s)) < 0)
				goto out;
			if (s->busy_why[0]) {
				countdown_stop(cd), cd = NULL;
				fprintf(stderr,
				        "greenops idle: the machine turned busy during the measurement (%s): "
				        "waiting again\n",
				        s->busy_why);
				r = -EAGAIN;
				goto out;
			}
			next += CHECK_NS;
		}
		if (stop_sig) {
			r = -EINTR;
			goto out;
		}
		if (now >= end)
			break;
		int64_t wake = next < end && !s->force ? next : end;
		/* Short sleeps keep Ctrl-C prompt without a signal-driven wakeup. */
		gops_sleep_until(wake < now + 200000000 ? wake : now + 200000000);
	}
	countdown_stop(cd), cd = NULL;
	if ((r = gops_monitor_stop_at(m, end)) < 0) {
		cmd_error("idle", "%s", gops_monitor_error(m));
		goto out;
	}
	r = collect(s, m);
out:
	countdown_stop(cd);
	gops_monitor_free(m);
	return r;
}

/* The table goes to standard error when the JSON takes standard output. */
static void print_table(FILE *out, const struct idle *s, struct gops_db *db)
{
	char when[32], host[256] = "";
	gethostname(host, sizeof host - 1);
	fprintf(out, "idle baseline of %s, measured %s for %.1f s", host,
	        db_cli_local_time(s->measured_at_ns, true, when, sizeof when), s->duration_s);
	if (s->waited_s >= 0.5)
		fprintf(out, " after %.1f s of waiting for quiet", s->waited_s);
	fprintf(out, "\n\n  %-13s %-9s %10s %10s %8s  %s\n", "DOMAIN", "SOURCE", "MEAN", "SPREAD", "SAMPLES",
	        "DEVICE");
	for (size_t i = 0; i < s->n_b; i++) {
		const struct gops_db_baseline *b = &s->b[i];
		char spread[32] = "-";
		if (!isnan(b->spread_w))
			snprintf(spread, sizeof spread, "%.2f W", b->spread_w);
		fprintf(out, "  %-13s %-9s %8.2f W %10s %8zu  %s\n", b->domain, b->source, b->mean_w, spread,
		        b->n_samples, b->label);
	}
	if (db)
		fprintf(out, "\nstored in %s: `greenops run` subtracts it (--idle stored)\n",
		        gops_db_path(db));
	else
		fprintf(out, "\nnot stored (--no-db)\n");
}

static int write_json(const struct idle *s, struct gops_db *db)
{
	json_t *o = json_object(), *doms = json_array();
	char host[256] = "";
	gethostname(host, sizeof host - 1);
	json_object_set_new(o, "host", json_string(host));
	json_object_set_new(o, "measured_at_ns", json_integer(s->measured_at_ns));
	json_object_set_new(o, "duration_s", json_real(s->duration_s));
	json_object_set_new(o, "waited_s", json_real(s->waited_s));
	json_object_set_new(o, "stored", json_boolean(db != NULL));
	json_object_set_new(o, "db", db ? json_string(gops_db_path(db)) : json_null());
	for (size_t i = 0; i < s->n_b; i++) {
		const struct gops_db_baseline *b = &s->b[i];
		json_t *d = json_object();
		json_object_set_new(d, "name", json_string(b->domain));
		json_object_set_new(d, "source", json_string(b->source));
		json_object_set_new(d, "kind", json_string(b->kind));
		json_object_set_new(d, "label", json_string(b->label));
		json_object_set_new(d, "mean_w", gops_json_num(b->mean_w));
		json_object_set_new(d, "spread_w", gops_json_num(b->spread_w));
		json_object_set_new(d, "n_samples", json_integer((json_int_t)b->n_samples));
		json_array_append_new(doms, d);
	}
	json_object_set_new(o, "domains", doms);
	char *text = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
	json_decref(o);
	FILE *f = strcmp(s->json_path, "-") ? fopen(s->json_path, "w") : stdout;
	if (!f || !text) {
		int e = errno;
		free(text);
		return cmd_error("idle", "cannot write '%s': %s", s->json_path, strerror(e));
	}
	fprintf(f, "%s\n", text);
	free(text);
	if (f == stdout ? fflush(f) != 0 : fclose(f) != 0)
		return cmd_error("idle", "cannot write '%s': %s", s->json_path, strerror(errno));
	return 0;
}

static int parse_args(struct idle *s, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"duration", required_argument, NULL, OPT_DURATION},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"max-cpu", required_argument, NULL, OPT_MAX_CPU},
	    {"max-spread", required_argument, NULL, OPT_MAX_SPREAD},
	    {"settle", required_argument, NULL, OPT_SETTLE},
	    {"force", no_argument, NULL, OPT_FORCE},
	    {"json", required_argument, NULL, OPT_JSON},
	    {"db", required_argument, NULL, OPT_DB},
	    {"no-db", no_argument, NULL, OPT_NO_DB},
	    MONITOR_LONG_OPTIONS,
	    {0},
	};
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:", opts, NULL)) != -1) {
		bool ok = true;
		switch (c) {
		case OPT_DURATION:
			ok = parse_double("idle", "duration", optarg, 0.5, 86400, &s->duration_s);
			break;
		case OPT_TIMEOUT:
			ok = parse_double("idle", "timeout", optarg, 0, 86400, &s->timeout_s);
			break;
		case OPT_MAX_CPU:
			ok = parse_double("idle", "max-cpu", optarg, 0, 100, &s->max_cpu);
			break;
		case OPT_MAX_SPREAD:
			ok = parse_double("idle", "max-spread", optarg, 0.001, 1e6, &s->max_spread_w);
			break;
		case OPT_SETTLE:
			ok = parse_double("idle", "settle", optarg, 0.5, 3600, &s->settle_s);
			break;
		case OPT_FORCE:
			s->force = true;
			break;
		case OPT_JSON:
			s->json_path = optarg;
			break;
		case OPT_DB:
			s->db_path = optarg;
			break;
		case OPT_NO_DB:
			s->no_db = true;
			break;
		case OPT_IDLE:
			return cmd_usage_error("idle",
			                       "--idle does not apply: idle measures the baseline itself");
		default: {
			int h = monitor_opt("idle", c, optarg, &s->opts);
			if (h < 0)
				return 2;
			if (h == 0)
				return cmd_option_error("idle", c, argv);
		}
		}
		if (!ok)
			return 2;
	}
	if (optind < argc)
		return cmd_usage_error("idle", "unexpected argument '%s'", argv[optind]);
	if (s->no_db && s->db_path)
		return cmd_usage_error("idle", "--db and --no-db exclude each other");
	return 0;
}

static int run_idle(struct idle *s, struct gops_db *db)
{
	char err[512];
	int r = gops_gpu_check_open(&s->gpus, err, sizeof err);
	if (r < 0 && r != -ENOENT)
		fprintf(stderr, "greenops idle: cannot check GPU processes: %s\n", err);
	int64_t t0 = gops_now_ns(), deadline = t0 + (int64_t)(s->timeout_s * 1e9);
	for (;;) {
		if (!s->force && (r = wait_quiet(s, deadline)) < 0)
			break;
		s->waited_s = (gops_now_ns() - t0) / 1e9;
		r = measure(s);
		if (r != -EAGAIN)
			break;
		if (gops_now_ns() >= deadline) {
			cmd_error("idle", "the machine did not stay quiet for %g s within %g s",
			          s->duration_s, s->timeout_s);
			r = -ETIMEDOUT;
			break;
		}
	}
	gops_gpu_check_close(s->gpus);
	if (r == -EINTR)
		cmd_error("idle", "interrupted: nothing stored");
	if (r < 0)
		return 1;
	if (db && gops_db_baselines_store(db, s->b, s->n_b) < 0)
		return cmd_error("idle", "%s", gops_db_error(db));
	print_table(s->json_path && !strcmp(s->json_path, "-") ? stderr : stdout, s, db);
	if (s->json_path && write_json(s, db))
		return 1;
	return 0;
}

int cmd_idle(int argc, char **argv)
{
	struct idle s = {.duration_s = 30, .timeout_s = 300, .max_cpu = 10, .settle_s = 5, .cpu_busy = NAN};
	gops_options_init(&s.opts);
	config_monitor_defaults(&s.opts, CONFIG_SOURCES | CONFIG_INTERVAL | CONFIG_CPU_TDP);
	s.opts.idle = GOPS_IDLE_NONE;
	int status = parse_args(&s, argc, argv);
	if (status)
		return status;
	/* The database first: a bad path should fail now, not after minutes of measuring. */
	struct gops_db *db = NULL;
	if (!s.no_db && db_cli_open("idle", s.db_path, 0, &db))
		return 1;
	struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	status = run_idle(&s, db);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (db && db_cli_close("idle", db))
		status = 1;
	free(s.b);
	if (stop_sig && status)
		return 128 + stop_sig;
	return status;
}
