/* greenops run: measures a command. The sampler is armed and has its first readings before
 * the child is released from a "go" pipe; an exec failure comes back through a close-on-exec
 * pipe (perf's evlist__prepare_workload, libuv's process.c). */
#include "cli/commands.h"
#include "cli/config.h"
#include "cli/countdown.h"
#include "cli/monitor_opts.h"
#include "cli/run_output.h"
#include "cli/summary.h"
#include "meter/control.h"

#include <greenops/greenops.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

const char usage_run[] =
    "usage: greenops run [options] -- COMMAND [ARGS...]\n"
    "\n"
    "Measures the energy COMMAND costs, from the hardware's own sensors, and prints a summary on\n"
    "stderr. COMMAND's own output is untouched; greenops exits with COMMAND's status (128+N when\n"
    "it was killed by signal N).\n"
    "\n"
    "  --json FILE          write the result as JSON (- for stdout; COMMAND's stdout then goes\n"
    "                       to stderr, so that stdout holds the JSON alone)\n"
    "  --timeline FILE      write every power sample as CSV (t_s,domain,power_w,counter_j;\n"
    "                       - for stdout, as for --json)\n"
    "  --export-csv FILE    write one CSV row per execution (warmups included, marked):\n"
    "                       exit status, duration, energy in total and per domain, energy\n"
    "                       per unit; - for stdout, as for --json\n"
    "  --export-json FILE   write the executions and their statistics as JSON (the repeat\n"
    "                       object of --json, also for one execution); - for stdout\n"
    "  --export-markdown FILE  write the statistics as a markdown table; - for stdout\n"
    "  -o, --output FILE    write the summary to FILE instead of stderr (- for stdout)\n"
    "  --plot FILE          draw power over time per domain, windows shaded: SVG, or PNG for\n"
    "                       FILE.png (drawn by vega under node, as greenops report)\n"
    "  --units N            units of work done (samples, requests, tokens): energy per unit\n"
    "  --tag KEY=VALUE      label the run (repeatable)\n"
    "  --interval MS        sampling period (default 100)\n"
    "  --sources LIST       nvml,powercap,perf,hwmon,estimate (default: every sensor found)\n"
    "  --idle MODE          none | stored | measure[:SECONDS] | WATTS (default: stored if known)\n"
    "  --cpu-tdp W          CPU power at full load, for the estimate where no sensor exists\n"
    "  --carbon-intensity G grams CO2e per kWh (default 475, a world average)\n"
    "  --pue X              data-centre power usage effectiveness (default 1.0)\n"
    "  --price P            price per kWh, reported beside energy\n"
    "  --currency NAME      the price's currency (EUR, USD, ...), shown and stored with it\n"
    "  --model FILE.onnx    tag the run with the model's MACs and parameters\n"
    "  --db PATH | --no-db  results database (" HELP_DB_DEFAULT ")\n"
    "  --samples            store every power sample in the database\n"
    "  --min-duration S     run COMMAND again and again until S seconds are covered; report\n"
    "                       energy per repetition (for commands too short for any sensor)\n"
    "  --repeat N           run COMMAND N times (N >= 2), each execution a window of its own,\n"
    "                       and report energy and time per execution: mean ± sd, min … max\n"
    "                       and the 95% interval of the mean; a failing execution stops there\n"
    "  --warmup K           with --repeat: run COMMAND K times first, before the measurement\n"
    "                       starts, in nothing measured (default 0)\n"
    "  -q, --quiet          no summary\n"
    "\n"
    "A child marks phases through the socket in $GREENOPS_CONTROL: lines `begin NAME`, `end NAME`,\n"
    "`units N [NAME]`, `tag KEY=VALUE` (bindings/python/greenops.py does this for Python).\n";

enum {
	OPT_JSON = 2000,
	OPT_TIMELINE,
	OPT_UNITS,
	OPT_TAG,
	OPT_DB,
	OPT_NO_DB,
	OPT_SAMPLES,
	OPT_CARBON,
	OPT_PUE,
	OPT_PRICE,
	OPT_MODEL,
	OPT_PLOT,
	OPT_MIN_DURATION,
	OPT_REPEAT,
	OPT_WARMUP,
	OPT_CURRENCY,
	OPT_EXPORT_CSV,
	OPT_EXPORT_JSON,
	OPT_EXPORT_MD
};

static volatile sig_atomic_t child_pid;
static volatile sig_atomic_t pending_sig;
static volatile sig_atomic_t stop_sig; /* SIGINT, SIGTERM, SIGHUP or SIGQUIT came: no more repetitions */

static void forward(int sig)
{
	if (sig != SIGUSR1 && sig != SIGUSR2)
		stop_sig = sig;
	if (child_pid > 0)
		kill((pid_t)child_pid, sig);
	else
		pending_sig = sig;
}

static void install_forwarding(void)
{
	struct sigaction sa = {.sa_handler = forward};
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigaction(sigs[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void child_defaults(void)
{
	int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE};
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		signal(sigs[i], SIG_DFL);
}

static char *join_argv(char **argv)
{
	size_t len = 1;
	for (char **a = argv; *a; a++)
		len += strlen(*a) + 3;
	char *s = malloc(len);
	if (!s)
		abort();
	s[0] = 0;
	for (char **a = argv; *a; a++) {
		if (a != argv)
			strcat(s, " ");
		strcat(s, *a);
	}
	return s;
}

/* Processes the command started and left running when it exited: orphans are handed to
 * greenops (a child subreaper, set before the fork), so they are the children greenops still
 * has. Their energy after the span's end is not in the run: say so, naming a few. */
static void tell_leftovers(double span_s)
{
	DIR *dir = opendir("/proc");
	if (!dir)
		return;
	char pids[128] = "";
	size_t n = 0, off = 0;
	struct dirent *e;
	while ((e = readdir(dir))) {
		char path[300], buf[512];
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		size_t len = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[len] = 0;
		const char *close_paren = strrchr(buf, ')'); /* the command name may hold anything */
		char state;
		int ppid;
		if (!close_paren || sscanf(close_paren + 1, " %c %d", &state, &ppid) != 2 ||
		    ppid != getpid() || state == 'Z')
			continue;
		if (n++ < 5 && off < sizeof pids)
			off += (size_t)snprintf(pids + off, sizeof pids - off, "%s%s", off ? ", " : "",
			                        e->d_name);
	}
	closedir(dir);
	if (n)
		fprintf(stderr,
		        "greenops run: warning: the command left %zu process%s running when it exited (pid "
		        "%s%s): "
		        "what they use after %.3f s is not in this run\n",
		        n, n == 1 ? "" : "es", pids, n > 5 ? ", ..." : "", span_s);
}

/* Forks the child, which waits for a byte on `go` before exec. With stdout_to_stderr its
 * standard output is greenops's stderr (greenops's stdout carries --json - or --timeline -). */
static pid_t spawn(char **argv, const char *control, int go_rd, int err_wr, bool stdout_to_stderr)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	child_defaults();
	if (stdout_to_stderr && dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
		_exit(126);
	char c;
	ssize_t r;
	do
		r = read(go_rd, &c, 1);
	while (r < 0 && errno == EINTR);
	if (r != 1)
		_exit(127); /* greenops went away before releasing us */
	if (control)
		setenv("GREENOPS_CONTROL", control, 1);
	execvp(argv[0], argv);
	int e = errno;
	ssize_t w = write(err_wr, &e, sizeof e);
	(void)w;
	_exit(e == ENOENT ? 127 : 126);
}

/* The command once more, after the first: forked, then (with a monitor) a window named
 * "repetition" opened, with UNITS in it where given, before it is released, and closed once
 * it has been waited for. Returns its end, or -1 when no process could be made; *ws is its
 * wait status, *exec_failed the errno of an exec that failed (status 126/127), else 0. */
static int64_t once_more(gops_monitor *m, char **argv, const char *control, bool stdout_taken, double units,
                         int64_t *t_begin, int *ws, int *exec_failed)
{
	int go[2], ep[2];
	*exec_failed = 0;
	if (pipe2(go, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(ep, O_CLOEXEC) < 0) {
		close(go[0]), close(go[1]);
		return -1;
	}
	int64_t t0 = *t_begin = gops_now_ns();
	pid_t pid = spawn(argv, control, go[0], ep[1], stdout_taken);
	close(go[0]), close(ep[1]);
	if (pid > 0) {
		child_pid = pid;
		if (m)
			gops_monitor_set_command_pid(m, pid);
		if (m) {
			gops_monitor_begin_window(m, "repetition", t0);
			if (!isnan(units))
				gops_monitor_add_units(m, "repetition", units);
		}
		ssize_t w;
		do
			w = write(go[1], "g", 1);
		while (w < 0 && errno == EINTR);
	}
	close(go[1]);
	int e;
	ssize_t r;
	do
		r = read(ep[0], &e, sizeof e);
	while (r < 0 && errno == EINTR);
	close(ep[0]);
	if (pid < 0)
		return -1;
	while (waitpid(pid, ws, 0) < 0 && errno == EINTR)
		;
	int64_t t_end = gops_now_ns();
	child_pid = 0;
	if (m)
		gops_monitor_end_window(m, "repetition", t_end);
	*exec_failed = r == (ssize_t)sizeof e ? e : 0;
	return t_end;
}

static bool succeeded(int ws)
{
	return WIFEXITED(ws) && WEXITSTATUS(ws) == 0;
}

static int status_of(int ws)
{
	return WIFSIGNALED(ws) ? 128 + WTERMSIG(ws) : WEXITSTATUS(ws);
}

/* "exited with status 3", "was killed by signal 9" */
static const char *how_it_ended(int ws, char *buf, size_t len)
{
	snprintf(buf, len, "%s %d", WIFSIGNALED(ws) ? "was killed by signal" : "exited with status",
	         WIFSIGNALED(ws) ? WTERMSIG(ws) : WEXITSTATUS(ws));
	return buf;
}

/* --min-duration: the command again, back to back, each run a window named "repetition",
 * until the span covers the duration, the command fails or a signal came. Returns the end of
 * the last repetition; *ws is the last wait status. */
static int64_t repeat(struct run_output *out, gops_monitor *m, char **argv, struct gops_control *ctl,
                      int64_t t_begin, int64_t t_end, double min_duration, bool stdout_taken, int *ws)
{
	const char *control = ctl ? gops_control_path(ctl) : NULL;
	gops_monitor_begin_window(m, "repetition", t_begin);
	gops_monitor_end_window(m, "repetition", t_end);
	out->repetitions = 1;
	while (succeeded(*ws) && !pending_sig && !stop_sig &&
	       (double)(t_end - t_begin) / 1e9 < min_duration) {
		int exec_failed;
		int64_t t0, t = once_more(m, argv, control, stdout_taken, NAN, &t0, ws, &exec_failed);
		if (t < 0)
			break;
		t_end = t;
		out->repetitions++;
		if (exec_failed)
			break; /* it could not be run this time: its status (126/127) ends the run */
	}
	return t_end;
}

/* --repeat: progress on stderr, "repetition I/N" redrawn on a terminal, else one line each. */
static void progress(const struct run_output *out, const char *what, unsigned i, unsigned n, double s, int st)
{
	if (out->quiet)
		return;
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "\r\033[Kgreenops run: %s %u/%u", what, i, n);
	else if (s >= 0)
		fprintf(stderr, "greenops run: %s %u/%u: %.3f s, exit %d\n", what, i, n, s, st);
}

static void progress_done(const struct run_output *out)
{
	if (!out->quiet && isatty(STDERR_FILENO))
		fprintf(stderr, "\r\033[K");
}

/* --warmup: the command K times before the measurement starts, in no window and without the
 * control socket. Returns 0, or the status that ends greenops (the command failed or a signal
 * came), having said so. */
static int warm_up(struct run_output *out, char **argv, bool stdout_taken)
{
	for (unsigned i = 1; i <= out->warmup; i++) {
		if (pending_sig || stop_sig) {
			fprintf(stderr, "greenops run: interrupted during the warmup: nothing measured\n");
			return 128 + (pending_sig ? pending_sig : stop_sig);
		}
		progress(out, "warmup", i, out->warmup, -1, 0);
		int ws = 0;
		int exec_failed;
		int64_t t0, t = once_more(NULL, argv, NULL, stdout_taken, NAN, &t0, &ws, &exec_failed);
		if (t < 0) {
			progress_done(out);
			cmd_error("run", "cannot start the command: %s", strerror(errno));
			return 1;
		}
		if (exec_failed) {
			progress_done(out);
			cmd_error("run", "cannot run '%s': %s", argv[0], strerror(exec_failed));
			return status_of(ws);
		}
		progress(out, "warmup", i, out->warmup, (double)(t - t0) / 1e9, status_of(ws));
		out->warmup_s[i - 1] = (double)(t - t0) / 1e9;
		out->warmup_status[i - 1] = status_of(ws);
		if (!succeeded(ws)) {
			progress_done(out);
			char how[64];
			fprintf(stderr, "greenops run: warmup %u of %u %s: nothing measured\n", i,
			        out->warmup, how_it_ended(ws, how, sizeof how));
			return status_of(ws);
		}
	}
	return 0;
}

/* --repeat: the executions after the first, until N have run, one fails or a signal came.
 * Returns the end of the last; *ws is the last wait status. */
static int64_t repeat_count(struct run_output *out, gops_monitor *m, char **argv, struct gops_control *ctl,
                            int64_t t_end, bool stdout_taken, int *ws)
{
	const char *control = ctl ? gops_control_path(ctl) : NULL;
	while (out->n_runs < out->repeat && succeeded(*ws) && !pending_sig && !stop_sig) {
		progress(out, "repetition", out->n_runs + 1, out->repeat, -1, 0);
		int exec_failed;
		int64_t t0, t = once_more(m, argv, control, stdout_taken, out->units, &t0, ws, &exec_failed);
		if (t < 0)
			break;
		progress(out, "repetition", out->n_runs + 1, out->repeat, (double)(t - t0) / 1e9,
		         status_of(*ws));
		t_end = t;
		out->run_status[out->n_runs++] = status_of(*ws);
		if (exec_failed)
			break;
	}
	progress_done(out);
	if (out->n_runs < out->repeat) {
		unsigned i = out->n_runs;
		char how[64];
		if (!succeeded(*ws))
			fprintf(stderr,
			        "greenops run: repetition %u of %u %s: stopped there, what was measured "
			        "is kept\n",
			        i, out->repeat, how_it_ended(*ws, how, sizeof how));
		else
			fprintf(stderr, "greenops run: stopped after %u of %u repetitions%s\n", i,
			        out->repeat, pending_sig || stop_sig ? " (interrupted)" : "");
	}
	return t_end;
}

/* A whole number from MIN to MAX for --NAME; prints the usage error otherwise. */
static bool parse_whole(const char *name, const char *arg, unsigned min, unsigned max, unsigned *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(arg, &end, 10);
	if (errno || end == arg || *end || v < (long long)min || v > (long long)max) {
		cmd_usage_error("run", "invalid value '%s' for --%s (expected a whole number from %u to %u)",
		                arg, name, min, max);
		return false;
	}
	*out = (unsigned)v;
	return true;
}

int cmd_run(int argc, char **argv)
{
	static const struct option longopts[] = {
	    MONITOR_LONG_OPTIONS,
	    {"json", required_argument, NULL, OPT_JSON},
	    {"timeline", required_argument, NULL, OPT_TIMELINE},
	    {"plot", required_argument, NULL, OPT_PLOT},
	    {"units", required_argument, NULL, OPT_UNITS},
	    {"tag", required_argument, NULL, OPT_TAG},
	    {"db", required_argument, NULL, OPT_DB},
	    {"no-db", no_argument, NULL, OPT_NO_DB},
	    {"samples", no_argument, NULL, OPT_SAMPLES},
	    {"carbon-intensity", required_argument, NULL, OPT_CARBON},
	    {"pue", required_argument, NULL, OPT_PUE},
	    {"price", required_argument, NULL, OPT_PRICE},
	    {"currency", required_argument, NULL, OPT_CURRENCY},
	    {"model", required_argument, NULL, OPT_MODEL},
	    {"min-duration", required_argument, NULL, OPT_MIN_DURATION},
	    {"repeat", required_argument, NULL, OPT_REPEAT},
	    {"warmup", required_argument, NULL, OPT_WARMUP},
	    {"export-csv", required_argument, NULL, OPT_EXPORT_CSV},
	    {"export-json", required_argument, NULL, OPT_EXPORT_JSON},
	    {"export-markdown", required_argument, NULL, OPT_EXPORT_MD},
	    {"output", required_argument, NULL, 'o'},
	    {"quiet", no_argument, NULL, 'q'},
	    {NULL, 0, NULL, 0},
	};
	struct run_output out;
	run_output_init(&out);
	struct gops_options o;
	gops_options_init(&o);
	config_monitor_defaults(&o, CONFIG_SOURCES | CONFIG_INTERVAL | CONFIG_IDLE | CONFIG_CPU_TDP);
	double units = NAN, min_duration = 0;
	bool warmup_given = false;
	const char *tags[64];
	size_t n_tags = 0;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+:qo:", longopts, NULL)) != -1) {
		int r = monitor_opt("run", c, optarg, &o);
		if (r < 0)
			return 2;
		if (r)
			continue;
		switch (c) {
		case OPT_JSON:
			out.json_path = optarg;
			break;
		case OPT_TIMELINE:
			out.timeline_path = optarg;
			break;
		case OPT_PLOT:
			out.plot_path = optarg;
			break;
		case OPT_UNITS:
			if (!parse_double("run", "units", optarg, 0, 1e18, &units))
				return 2;
			break;
		case OPT_TAG:
			if (!strchr(optarg, '=') || optarg[0] == '=')
				return cmd_usage_error(
				    "run", "invalid value '%s' for --tag (expected KEY=VALUE)", optarg);
			if (n_tags == sizeof tags / sizeof tags[0])
				return cmd_usage_error("run", "too many --tag options");
			tags[n_tags++] = optarg;
			break;
		case OPT_DB:
			out.db_path = optarg;
			break;
		case OPT_NO_DB:
			out.no_db = true;
			break;
		case OPT_SAMPLES:
			out.store_samples = true;
			break;
		case OPT_CARBON:
			if (!parse_double("run", "carbon-intensity", optarg, 0, 5000, &out.carbon))
				return 2;
			break;
		case OPT_PUE:
			if (!parse_double("run", "pue", optarg, 1, 10, &out.pue))
				return 2;
			break;
		case OPT_PRICE:
			if (!parse_double("run", "price", optarg, 0, 1e6, &out.price))
				return 2;
			break;
		case OPT_CURRENCY:
			if (!optarg[0] || strlen(optarg) > 16 || strpbrk(optarg, " \t\n"))
				return cmd_usage_error(
				    "run", "invalid value '%s' for --currency (a short name such as EUR)",
				    optarg);
			out.currency = optarg;
			break;
		case OPT_MODEL:
			out.model_path = optarg;
			break;
		case OPT_MIN_DURATION:
			if (!parse_double("run", "min-duration", optarg, 0.001, 1e7, &min_duration))
				return 2;
			break;
		case OPT_REPEAT:
			if (!parse_whole("repeat", optarg, 2, 1000000, &out.repeat))
				return 2;
			break;
		case OPT_WARMUP:
			if (!parse_whole("warmup", optarg, 0, 1000000, &out.warmup))
				return 2;
			warmup_given = true;
			break;
		case OPT_EXPORT_CSV:
			out.export_csv_path = optarg;
			break;
		case OPT_EXPORT_JSON:
			out.export_json_path = optarg;
			break;
		case OPT_EXPORT_MD:
			out.export_md_path = optarg;
			break;
		case 'o':
			out.summary_path = optarg;
			break;
		case 'q':
			out.quiet = true;
			break;
		default:
			return cmd_option_error("run", c, argv);
		}
	}
	if (out.repeat && min_duration > 0)
		return cmd_usage_error("run", "--repeat and --min-duration cannot be used together");
	if (min_duration > 0 && (out.export_csv_path || out.export_json_path || out.export_md_path))
		return cmd_usage_error("run", "--export-csv, --export-json and --export-markdown give each "
		                              "execution's energy: not with --min-duration, which shares "
		                              "one span out");
	if (warmup_given && !out.repeat)
		return cmd_usage_error("run", "--warmup needs --repeat");
	if (optind >= argc)
		return cmd_usage_error("run", "no command given (greenops run [options] -- COMMAND)");
	char **child_argv = argv + optind;
	out.argv = child_argv;
	out.tag_kv = tags;
	out.n_tag_kv = n_tags;
	out.units = units;
	char *command = join_argv(child_argv);
	out.command = command;

	int status = 1;
	gops_monitor *m = NULL;
	struct gops_control *ctl = NULL;
	int go[2] = {-1, -1}, ep[2] = {-1, -1};

	/* Output paths are checked before the command runs, not found unwritable after it. */
	if (run_output_check_paths(&out) < 0) {
		status = 2;
		goto done;
	}
	if (run_output_prepare(&out, &o) < 0) /* database, stored baseline, model counts */
		goto done;
	double cpu_mark = run_output_self_cpu();
	out.cpu_setup_s = cpu_mark;
	if (gops_monitor_new(&m, &o) < 0) {
		cmd_error("run", "%s", gops_monitor_error(m));
		goto done;
	}
	out.cpu_open_s = run_output_self_cpu() - cpu_mark;
	char err[512];
	if (gops_control_start(&ctl, m, err, sizeof err) < 0)
		fprintf(stderr, "greenops run: warning: %s; windows from the child are off\n", err);
	for (size_t i = 0; i < n_tags; i++) {
		char *kv = strdup(tags[i]), *eq = strchr(kv, '=');
		*eq = 0;
		gops_monitor_tag(m, kv, eq + 1);
		free(kv);
	}
	run_output_tag_model(&out, m);
	if (pipe2(go, O_CLOEXEC) < 0 || pipe2(ep, O_CLOEXEC) < 0) {
		cmd_error("run", "cannot create a pipe: %s", strerror(errno));
		goto done;
	}
	install_forwarding();
	prctl(PR_SET_CHILD_SUBREAPER, 1); /* the command's orphans come to greenops: tell_leftovers */
	bool stdout_taken = run_output_takes_stdout(&out);
	if (out.repeat) {
		out.run_status = calloc(out.repeat, sizeof *out.run_status);
		out.warmup_s = calloc(out.warmup ? out.warmup : 1, sizeof *out.warmup_s);
		out.warmup_status = calloc(out.warmup ? out.warmup : 1, sizeof *out.warmup_status);
		if (!out.run_status || !out.warmup_s || !out.warmup_status)
			abort();
		int st = warm_up(&out, child_argv, stdout_taken);
		if (st) {
			status = st;
			goto done;
		}
	}
	pid_t pid = spawn(child_argv, ctl ? gops_control_path(ctl) : NULL, go[0], ep[1], stdout_taken);
	if (pid < 0) {
		cmd_error("run", "cannot fork: %s", strerror(errno));
		goto done;
	}
	close(go[0]), go[0] = -1;
	close(ep[1]), ep[1] = -1;
	child_pid = pid;
	if (pending_sig)
		kill(pid, pending_sig);

	struct countdown *cd = NULL;
	if (o.idle == GOPS_IDLE_MEASURE && !out.quiet)
		cd = countdown_start("run", "measuring idle power before the command starts", o.idle_seconds);
	cpu_mark = run_output_self_cpu();
	int started = gops_monitor_start(m);
	out.cpu_start_s = run_output_self_cpu() - cpu_mark;
	countdown_stop(cd);
	if (started < 0) {
		cmd_error("run", "%s", gops_monitor_error(m));
		close(go[1]), go[1] = -1; /* the child sees EOF and leaves */
		waitpid(pid, NULL, 0);
		goto done;
	}
	gops_monitor_set_command_pid(m, pid); /* who else uses its GPUs */
	if (!isnan(units) && !out.repeat)     /* with --repeat, units per execution: in its window */
		gops_monitor_add_units(m, NULL, units);
	run_output_begin(&out, m);
	if (out.repeat)
		progress(&out, "repetition", 1, out.repeat, -1, 0);
	int64_t t_go = gops_now_ns();
	ssize_t w;
	do
		w = write(go[1], "g", 1);
	while (w < 0 && errno == EINTR);
	gops_monitor_set_start(m, t_go);
	if (out.repeat) {
		gops_monitor_begin_window(m, "repetition", t_go);
		if (!isnan(units))
			gops_monitor_add_units(m, "repetition", units);
	}
	close(go[1]), go[1] = -1;
	double cpu_go = run_output_self_cpu();

	int exec_errno = 0;
	ssize_t r;
	do
		r = read(ep[0], &exec_errno, sizeof exec_errno);
	while (r < 0 && errno == EINTR);
	int ws = 0;
	while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
		;
	int64_t t_exit = gops_now_ns();
	if (min_duration > 0 && r != (ssize_t)sizeof exec_errno)
		t_exit = repeat(&out, m, child_argv, ctl, t_go, t_exit, min_duration, stdout_taken, &ws);
	if (out.repeat && r != (ssize_t)sizeof exec_errno) {
		gops_monitor_end_window(m, "repetition", t_exit);
		progress(&out, "repetition", 1, out.repeat, (double)(t_exit - t_go) / 1e9, status_of(ws));
		out.run_status[out.n_runs++] = status_of(ws);
		t_exit = repeat_count(&out, m, child_argv, ctl, t_exit, stdout_taken, &ws);
		if (!isnan(units)) /* the run's units: those of the executions measured */
			gops_monitor_add_units(m, NULL, units * out.n_runs);
	}
	out.cpu_span_s = run_output_self_cpu() - cpu_go;
	child_pid = 0;
	tell_leftovers((double)(t_exit - t_go) / 1e9);
	while (waitpid(-1, NULL, WNOHANG) > 0) /* orphans that have already ended */
		;
	if (r == (ssize_t)sizeof exec_errno) {
		cmd_error("run", "cannot run '%s': %s", child_argv[0], strerror(exec_errno));
		status = exec_errno == ENOENT ? 127 : 126;
		gops_control_stop(ctl), ctl = NULL;
		gops_monitor_stop_at(m, t_exit);
		run_output_abandon(&out, status);
		goto done;
	}
	int sig = WIFSIGNALED(ws) ? WTERMSIG(ws) : 0;
	status = sig ? 128 + sig : WEXITSTATUS(ws);
	if (ctl)
		gops_control_stop(ctl), ctl = NULL;
	cpu_mark = run_output_self_cpu();
	if (gops_monitor_stop_at(m, t_exit) < 0) {
		cmd_error("run", "%s", gops_monitor_error(m));
		goto done;
	}
	out.cpu_end_s = run_output_self_cpu() - cpu_mark;
	if (run_output_finish(&out, m, status, sig) < 0 && status == 0)
		status = 1;
done:
	if (ctl)
		gops_control_stop(ctl);
	for (int i = 0; i < 2; i++) {
		if (go[i] >= 0)
			close(go[i]);
		if (ep[i] >= 0)
			close(ep[i]);
	}
	run_output_release(&out);
	gops_monitor_free(m);
	free(command);
	return status;
}
