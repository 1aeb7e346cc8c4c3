/* greenops top: a live view of every domain's power and energy, like `nvidia-smi dmon` or
 * `perf stat -I`. A monitor samples the sensors; every --delay seconds the view reads its live
 * figures (gops_monitor_live). On a terminal the screen is redrawn in place (the alternate
 * screen, the cursor hidden, the keyboard read key by key for q), and all of it is restored
 * on the way out; otherwise one plain line per domain per update, or one JSON object per
 * update. Like `greenops export` it starts a fresh monitor every --rotate seconds, carrying
 * the energy over exactly, so that memory stays bounded however long it runs; the first
 * rotation comes at the first update, which also tells which domains a total counts. */
#include "cli/commands.h"
#include "cli/monitor_opts.h"
#include "base/fmt.h"
#include "base/util.h"

#include <greenops/greenops.h>

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

const char usage_top[] =
    "usage: greenops top [-d SECONDS] [-n N] [--json] [--sources LIST] [--interval MS]\n"
    "                    [--rotate SECONDS] [--cpu-tdp W]\n"
    "       greenops watch ...   (the same)\n"
    "\n"
    "Shows every sensor domain's power live, like `nvidia-smi dmon`. On a terminal the screen\n"
    "is redrawn in place every update: a header (time, host, how long it has run), then one row\n"
    "per domain with its source, latest power, peak power seen, energy since start, the age of\n"
    "the reading and a bar of power against the peak, and the total of the domains a run would\n"
    "sum (RAPL domains overlap). q or Ctrl-C quits and restores the terminal. Otherwise (a pipe,\n"
    "a file) it writes a header once and then one line per domain per update:\n"
    "  time domain source power_w energy_j\n"
    "with time in ISO 8601 UTC, power in watts and energy since start in joules ('-' where\n"
    "nothing was measured). SIGINT or SIGTERM stop it cleanly: a last line on stderr gives each\n"
    "domain's energy and the total, and it exits 0.\n"
    "\n"
    "  -d, --delay SECONDS  time between updates (default 1; at least 0.1)\n"
    "  -n, --iterations N   stop after N updates (default: run until stopped)\n"
    "  --json               one JSON object per update and line instead (docs/TOP.md)\n"
    "  --sources LIST       nvml,powercap,perf,hwmon,estimate (default: every sensor found)\n"
    "  --interval MS        sampling period (default 100): the power shown is the latest sample\n"
    "  --rotate SECONDS     start a fresh sampler this often, carrying the energy over (default\n"
    "                       3600; 0 never): bounds memory however long it runs\n"
    "  --cpu-tdp W          CPU power at full load, for the estimate where no sensor exists\n";

#define VERB "top"

enum { OPT_DELAY = 3500, OPT_ITERATIONS, OPT_JSON, OPT_ROTATE };

struct top_dom {
	char domain[32], source[16];
	double offset_j; /* energy of the monitors before the current one */
	double shown_j;  /* highest energy shown: energy since start never goes back */
	double peak_w;   /* highest power seen, NAN before any */
	bool summed;     /* counted in the total (known after the first rotation) */
	bool present;    /* in the current monitor */
	/* the figures of the last update */
	double power_w, energy_j, age_s;
	bool up;
};

struct top {
	struct gops_options opts;
	double delay_s, rotate_s;
	long iterations; /* 0: until stopped */
	bool json;
	bool screen;    /* redrawing in place on a terminal */
	bool in_screen; /* the terminal is in the view's mode now */
	bool keys;      /* stdin is a terminal: q quits */
	struct termios saved;
	gops_monitor *mon;
	int64_t t0_ns, t0_realtime_ns; /* the span's start */
	int64_t mon_start_ns;          /* the current monitor's */
	bool summed_known;
	struct top_dom *dom;
	size_t n_dom, cap_dom;
	struct gops_live *live;
	size_t cap_live;
	char host[256];
	unsigned long updates;
};

/* --- options --------------------------------------------------------------------------- */

static int parse_args(int argc, char **argv, struct top *t)
{
	static const struct option opts[] = {
	    {"delay", required_argument, NULL, 'd'},
	    {"iterations", required_argument, NULL, 'n'},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"rotate", required_argument, NULL, OPT_ROTATE},
	    MONITOR_LONG_OPTIONS,
	    {0},
	};
	optind = 1;
	opterr = 0;
	int c, r;
	while ((c = getopt_long(argc, argv, ":d:n:", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (!parse_double(VERB, "delay", optarg, 0.1, 86400, &t->delay_s))
				return 2;
			break;
		case 'n': {
			char *end;
			errno = 0;
			long n = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || n < 1)
				return cmd_usage_error(VERB,
				                       "invalid value '%s' for --iterations (expected a "
				                       "whole number, 1 or more)",
				                       optarg);
			t->iterations = n;
			break;
		}
		case OPT_JSON:
			t->json = true;
			break;
		case OPT_ROTATE:
			if (!parse_double(VERB, "rotate", optarg, 0, 31 * 86400, &t->rotate_s))
				return 2;
			if (t->rotate_s > 0 && t->rotate_s < 1)
				return cmd_usage_error(
				    VERB, "invalid value '%s' for --rotate (0, or 1 second or more)", optarg);
			break;
		case OPT_IDLE:
			return cmd_usage_error(VERB, "--idle does not apply to top: it shows gross power");
		case ':':
			return cmd_option_error(VERB, c, argv);
		case '?':
			if (optopt && optopt < 256 && argv[optind - 1][0] == '-' &&
			    argv[optind - 1][1] != '-')
				return cmd_usage_error(VERB, "unknown option '-%c'", optopt);
			return cmd_option_error(VERB, c, argv);
		default:
			r = monitor_opt(VERB, c, optarg, &t->opts);
			if (r < 0)
				return 2;
			if (r == 0)
				return cmd_option_error(VERB, '?', argv);
		}
	}
	if (optind < argc)
		return cmd_usage_error(VERB, "unexpected argument '%s'", argv[optind]);
	return 0;
}

/* --- domains and monitors -------------------------------------------------------------- */

static struct top_dom *find_domain(struct top *t, const char *domain, const char *source)
{
	for (size_t i = 0; i < t->n_dom; i++)
		if (!strcmp(t->dom[i].domain, domain) && !strcmp(t->dom[i].source, source))
			return &t->dom[i];
	if (t->n_dom == t->cap_dom) {
		size_t cap = t->cap_dom ? t->cap_dom * 2 : 16;
		struct top_dom *v = realloc(t->dom, cap * sizeof *v);
		if (!v)
			abort();
		t->dom = v, t->cap_dom = cap;
	}
	struct top_dom *d = &t->dom[t->n_dom++];
	memset(d, 0, sizeof *d);
	gops_strlcpy(d->domain, domain, sizeof d->domain);
	gops_strlcpy(d->source, source, sizeof d->source);
	d->shown_j = d->peak_w = d->power_w = d->energy_j = d->age_s = NAN;
	return d;
}

/* gops_monitor_live with room for every domain of M. */
static size_t live(struct top *t, gops_monitor *m)
{
	size_t n = 0;
	for (;;) {
		if (t->cap_live) {
			gops_monitor_live(m, t->live, t->cap_live, &n);
			if (n < t->cap_live)
				return n;
		}
		t->cap_live = t->cap_live ? t->cap_live * 2 : 16;
		t->live = realloc(t->live, t->cap_live * sizeof *t->live);
		if (!t->live)
			abort();
	}
}

/* Opens and starts a monitor whose span starts at *t_start (now, once started). */
static int open_monitor(struct top *t, gops_monitor **out, int64_t *t_start)
{
	int r = gops_monitor_new(out, &t->opts);
	if (r == 0)
		r = gops_monitor_start(*out);
	if (r < 0) {
		cmd_error(VERB, "%s", *out ? gops_monitor_error(*out) : strerror(-r));
		gops_monitor_free(*out);
		*out = NULL;
		return r;
	}
	*t_start = gops_now_ns();
	gops_monitor_set_start(*out, *t_start);
	return 0;
}

/* Adds what the stopped monitor M measured to each domain's offset and learns which domains
 * are summed. Returns false when M has no result. */
static bool carry(struct top *t, gops_monitor *m, int stop_rc)
{
	const struct gops_result *res = stop_rc == 0 ? gops_monitor_result(m) : NULL;
	if (!res)
		return false;
	for (size_t i = 0; i < res->n_domains; i++) {
		const struct gops_domain_result *dr = &res->domains[i];
		struct top_dom *d = find_domain(t, dr->name, dr->source);
		if (isfinite(dr->energy_j))
			d->offset_j += dr->energy_j;
		d->summed = dr->summed;
	}
	t->summed_known = true;
	return true;
}

/* Replaces the monitor: the new one starts at ts, the old one is stopped at that same ts and
 * its energy up to ts is carried into the offsets (its live figures where it cannot stop). */
static void rotate(struct top *t)
{
	gops_monitor *nm, *old = t->mon;
	int64_t ts;
	if (open_monitor(t, &nm, &ts) < 0)
		return; /* the old one goes on; said on stderr */
	size_t n = live(t, old);
	double *snap = malloc((n + 1) * sizeof *snap);
	if (!snap)
		abort();
	for (size_t i = 0; i < n; i++)
		snap[i] = t->live[i].energy_j;
	int r = gops_monitor_stop_at(old, ts);
	if (!carry(t, old, r)) {
		if (!t->screen)
			fprintf(stderr,
			        "greenops top: warning: %s (energy carried over from the live figures)\n",
			        gops_monitor_error(old));
		for (size_t i = 0; i < n; i++)
			if (isfinite(snap[i]))
				find_domain(t, t->live[i].domain, t->live[i].source)->offset_j += snap[i];
	}
	free(snap);
	gops_monitor_free(old);
	t->mon = nm;
	t->mon_start_ns = ts;
}

/* Reads the current monitor's live figures into the domains. */
static void update(struct top *t)
{
	size_t n = live(t, t->mon);
	for (size_t i = 0; i < t->n_dom; i++)
		t->dom[i].present = false;
	for (size_t i = 0; i < n; i++) {
		const struct gops_live *l = &t->live[i];
		struct top_dom *d = find_domain(t, l->domain, l->source);
		d->present = true;
		d->up = l->up;
		d->power_w = l->power_w;
		d->age_s = l->age_s;
		d->energy_j = isfinite(l->energy_j) ? d->offset_j + l->energy_j : NAN;
		if (isfinite(d->power_w) && !(d->peak_w >= d->power_w))
			d->peak_w = d->power_w;
	}
	for (size_t i = 0; i < t->n_dom; i++) {
		struct top_dom *d = &t->dom[i];
		if (!d->present) { /* gone since a rotation: its energy stays */
			d->up = false;
			d->power_w = NAN;
			d->energy_j = d->offset_j;
		}
		if (isfinite(d->energy_j)) {
			if (d->shown_j > d->energy_j)
				d->energy_j = d->shown_j;
			d->shown_j = d->energy_j;
		}
	}
}

/* The total power and energy of the summed domains; NAN until known. */
static void totals(const struct top *t, double *power_w, double *energy_j)
{
	*power_w = *energy_j = NAN;
	if (!t->summed_known)
		return;
	double p = 0, e = 0;
	bool any = false;
	for (size_t i = 0; i < t->n_dom; i++) {
		const struct top_dom *d = &t->dom[i];
		if (!d->summed)
			continue;
		any = true;
		if (d->present && d->up && isfinite(d->power_w))
			p += d->power_w;
		if (isfinite(d->energy_j))
			e += d->energy_j;
	}
	if (any)
		*power_w = p, *energy_j = e;
}

/* --- the terminal ---------------------------------------------------------------------- */

static void enter_screen(struct top *t)
{
	if (t->keys) {
		struct termios raw = t->saved;
		/* Keys one by one, unechoed. Ctrl-C still signals (ISIG), but without flushing what
		 * was written: the sequences that restore the screen follow at once and would be
		 * lost with it. */
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_lflag |= NOFLSH;
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	}
	/* the alternate screen, the cursor hidden, the screen cleared */
	fputs("\033[?1049h\033[?25l\033[H\033[2J", stdout);
	fflush(stdout);
	t->in_screen = true;
}

static void leave_screen(struct top *t)
{
	if (!t->in_screen)
		return;
	fputs("\033[?25h\033[?1049l", stdout);
	fflush(stdout);
	if (t->keys)
		tcsetattr(STDIN_FILENO, TCSANOW, &t->saved);
	t->in_screen = false;
}

/* Display width of UTF-8 text: the bytes that start a character. */
static int width(const char *s)
{
	int w = 0;
	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

/* Appends S padded with spaces to W columns (right-aligned when RIGHT). */
static void pad(FILE *f, const char *s, int w, bool right)
{
	int n = w - width(s);
	if (right)
		fprintf(f, "%*s%s", n > 0 ? n : 0, "", s);
	else
		fprintf(f, "%s%*s", s, n > 0 ? n : 0, "");
}

/* Writes LINE (one line, no line feed) cut to COLS columns, then clears the rest of the
 * screen's line. */
static void put_line(FILE *out, const char *line, int cols)
{
	int w = 0;
	const char *p = line;
	for (; *p && *p != '\n'; p++) {
		bool start = ((unsigned char)*p & 0xc0) != 0x80;
		if (start && w == cols)
			break;
		w += start;
		fputc(*p, out);
	}
	fputs("\033[K", out);
}

static void fmt_age(char *buf, size_t len, const struct top_dom *d)
{
	if (!d->present || !d->up)
		gops_strlcpy(buf, "lost", len);
	else
		gops_fmt_si(buf, len, d->age_s, "s", 2);
}

/* One row: DOMAIN SOURCE POWER PEAK ENERGY AGE, then a bar of power against the peak. */
static void row(FILE *f, const char *domain, const char *source, double power, double peak, double energy,
                const char *age, int bar)
{
	char b[GOPS_FMT_LEN];
	pad(f, domain, 13, false);
	pad(f, source, 9, false);
	pad(f, gops_fmt_si(b, sizeof b, power, "W", 4), 10, true);
	pad(f, gops_fmt_si(b, sizeof b, peak, "W", 4), 11, true);
	pad(f, gops_fmt_si(b, sizeof b, energy, "J", 4), 12, true);
	pad(f, age, 9, true);
	if (bar > 0 && isfinite(power) && peak > 0) {
		double x = power / peak;
		int k = (int)lround((x < 0 ? 0 : x > 1 ? 1 : x) * bar);
		fputs("  [", f);
		for (int i = 0; i < bar; i++)
			fputc(i < k ? '#' : ' ', f);
		fputc(']', f);
	}
	fputc('\n', f);
}

static void draw(struct top *t, bool clear)
{
	int cols = 80, rows = 24;
	struct winsize ws;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0)
		cols = ws.ws_col, rows = ws.ws_row;
	int bar = cols - 64 - 4; /* the figures take 64 columns, then "  [" BAR "]" */
	if (bar > 30)
		bar = 30;

	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return;
	char now[32], up[GOPS_FMT_LEN], every[GOPS_FMT_LEN];
	time_t wall = time(NULL);
	struct tm tm;
	strftime(now, sizeof now, "%Y-%m-%d %H:%M:%S", localtime_r(&wall, &tm));
	gops_fmt_sig(up, sizeof up, (gops_now_ns() - t->t0_ns) / 1e9, 3);
	gops_fmt_sig(every, sizeof every, t->delay_s, 3);
	fprintf(f, "greenops top  %s  %s  up %s s  every %s s  %s\n", now, t->host, up, every,
	        t->keys ? "(q quits)" : "");
	fprintf(f, "\n");
	pad(f, "DOMAIN", 13, false);
	pad(f, "SOURCE", 9, false);
	pad(f, "POWER", 10, true);
	pad(f, "PEAK", 11, true);
	pad(f, "ENERGY", 12, true);
	pad(f, "AGE", 9, true);
	fprintf(f, "%s\n", bar > 0 ? "  POWER/PEAK" : "");
	/* what fits beside the header, blank, titles and total lines */
	size_t room = rows > 5 ? (size_t)rows - 4 : 1;
	for (size_t i = 0; i < t->n_dom; i++) {
		const struct top_dom *d = &t->dom[i];
		if (t->n_dom > room && i == room - 1) {
			fprintf(f, "(%zu more domains: a taller terminal shows them)\n", t->n_dom - i);
			break;
		}
		char age[GOPS_FMT_LEN];
		fmt_age(age, sizeof age, d);
		row(f, d->domain, d->source, d->present ? d->power_w : NAN, d->peak_w, d->energy_j, age, bar);
	}
	if (t->n_dom == 0)
		fprintf(f, "(no domain yet)\n");
	double tp, te;
	totals(t, &tp, &te);
	row(f, "total", t->summed_known ? "" : "(pending)", tp, NAN, te, "", 0);
	if (fclose(f) != 0) {
		free(buf);
		return;
	}
	fputs(clear ? "\033[H\033[2J" : "\033[H", stdout);
	/* each line cut to the width and no line feed after the last one, so that nothing wraps
	 * or scrolls and the rows stay in place */
	char *line = buf;
	for (int k = 0; *line && k < rows; k++) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = 0;
		if (k)
			fputc('\n', stdout);
		put_line(stdout, line, cols);
		line = nl ? nl + 1 : line + strlen(line);
	}
	fputs("\033[J", stdout);
	fflush(stdout);
	free(buf);
}

/* --- plain and JSON lines -------------------------------------------------------------- */

static void plain_header(void)
{
	printf("%-24s %-12s %-9s %10s %14s\n", "time", "domain", "source", "power_w", "energy_j");
	fflush(stdout);
}

static void plain_lines(struct top *t)
{
	char when[40], p[32], e[32];
	gops_iso_time(gops_realtime_ns(), when, sizeof when);
	for (size_t i = 0; i < t->n_dom; i++) {
		const struct top_dom *d = &t->dom[i];
		double pw = d->present && d->up ? d->power_w : NAN;
		snprintf(p, sizeof p, isfinite(pw) ? "%.2f" : "-", pw);
		snprintf(e, sizeof e, isfinite(d->energy_j) ? "%.3f" : "-", d->energy_j);
		printf("%-24s %-12s %-9s %10s %14s\n", when, d->domain, d->source, p, e);
	}
	fflush(stdout);
}

static json_t *num(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static void json_line(struct top *t)
{
	char when[40];
	int64_t now = gops_now_ns();
	gops_iso_time(gops_realtime_ns(), when, sizeof when);
	json_t *o = json_object(), *doms = json_array();
	json_object_set_new(o, "time", json_string(when));
	json_object_set_new(o, "t_s", json_real((now - t->t0_ns) / 1e9));
	json_object_set_new(o, "host", json_string(t->host));
	for (size_t i = 0; i < t->n_dom; i++) {
		const struct top_dom *d = &t->dom[i];
		json_t *x = json_object();
		json_object_set_new(x, "domain", json_string(d->domain));
		json_object_set_new(x, "source", json_string(d->source));
		json_object_set_new(x, "power_w", num(d->present && d->up ? d->power_w : NAN));
		json_object_set_new(x, "peak_power_w", num(d->peak_w));
		json_object_set_new(x, "energy_j", num(d->energy_j));
		json_object_set_new(x, "age_s", num(d->present ? d->age_s : NAN));
		json_object_set_new(x, "up", json_boolean(d->present && d->up));
		json_object_set_new(x, "summed", t->summed_known ? json_boolean(d->summed) : json_null());
		json_array_append_new(doms, x);
	}
	json_object_set_new(o, "domains", doms);
	double tp, te;
	totals(t, &tp, &te);
	json_object_set_new(o, "power_w", num(tp));
	json_object_set_new(o, "energy_j", num(te));
	char *s = json_dumps(o, JSON_COMPACT);
	if (s)
		printf("%s\n", s);
	free(s);
	json_decref(o);
	fflush(stdout);
}

/* --- the loop -------------------------------------------------------------------------- */

static void show(struct top *t, bool clear)
{
	if (t->screen)
		draw(t, clear);
	else if (t->json)
		json_line(t);
	else
		plain_lines(t);
}

/* Reads what was typed; true when it says quit. */
static bool read_keys(void)
{
	char c[64];
	ssize_t n = read(STDIN_FILENO, c, sizeof c);
	for (ssize_t i = 0; i < n; i++)
		if (c[i] == 'q' || c[i] == 'Q')
			return true;
	return false;
}

/* Runs until -n updates, q, SIGINT or SIGTERM. */
static void loop(struct top *t, int sfd)
{
	int64_t period = (int64_t)(t->delay_s * 1e9), next = t->t0_ns + period;
	int64_t rotate_ns = (int64_t)(t->rotate_s * 1e9);
	bool keys = t->keys;
	for (;;) {
		int64_t wait = next - gops_now_ns();
		struct pollfd p[2] = {{.fd = sfd, .events = POLLIN}, {.fd = STDIN_FILENO, .events = POLLIN}};
		int r = wait > 0 ? poll(p, keys ? 2 : 1, (int)((wait + 999999) / 1000000)) : 0;
		if (r < 0 && errno != EINTR)
			return;
		if (r > 0 && (p[0].revents & POLLIN)) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
				if (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM)
					return;
				if (si.ssi_signo == SIGTSTP) { /* Ctrl-Z: give the terminal back, then stop */
					leave_screen(t);
					kill(getpid(), SIGSTOP);
					enter_screen(t);
				}
				if (t->screen) /* SIGWINCH, SIGCONT, back from a stop: draw afresh */
					draw(t, true);
			}
		}
		if (keys && r > 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			if (p[1].revents & POLLIN && read_keys())
				return;
			if (!(p[1].revents & POLLIN))
				keys = false; /* the terminal went away */
		}
		if (gops_now_ns() < next)
			continue;
		/* an update: the first one learns what a total counts */
		if (!t->summed_known || (rotate_ns > 0 && gops_now_ns() - t->mon_start_ns >= rotate_ns))
			rotate(t);
		update(t);
		t->updates++;
		show(t, false);
		if (t->iterations && t->updates >= (unsigned long)t->iterations)
			return;
		next += period;
		int64_t now = gops_now_ns();
		if (next <= now) /* late (a stop, a busy machine): the next one on the grid */
			next += ((now - next) / period + 1) * period;
	}
}

/* The last line: each domain's energy since start and the total, from the stopped monitor. */
static void print_totals(struct top *t, bool stopped, int64_t end_ns)
{
	if (stopped)
		carry(t, t->mon, 0);
	double secs = (end_ns - t->t0_ns) / 1e9;
	char b[GOPS_FMT_LEN], s[GOPS_FMT_LEN];
	fprintf(stderr, "greenops top: %lu update%s in %s s; energy since start:", t->updates,
	        t->updates == 1 ? "" : "s", gops_fmt_sig(s, sizeof s, secs, 3));
	double total = 0;
	bool any = false, any_summed = false;
	for (size_t i = 0; i < t->n_dom; i++) {
		struct top_dom *d = &t->dom[i];
		/* after a stop the offsets hold everything; else the last figures shown */
		double e = stopped ? fmax(d->offset_j, isfinite(d->shown_j) ? d->shown_j : 0) : d->energy_j;
		if (!isfinite(e))
			continue;
		fprintf(stderr, "%s %s %s", any ? "," : "", d->domain, gops_fmt_si(b, sizeof b, e, "J", 4));
		any = true;
		if (d->summed)
			total += e, any_summed = true;
	}
	if (!any)
		fprintf(stderr, " nothing measured\n");
	else if (any_summed && t->summed_known)
		fprintf(stderr, "; total %s (%s average)\n", gops_fmt_si(b, sizeof b, total, "J", 4),
		        gops_fmt_si(s, sizeof s, secs > 0 ? total / secs : NAN, "W", 4));
	else
		fputc('\n', stderr);
}

int cmd_top(int argc, char **argv)
{
	struct top t = {.delay_s = 1, .rotate_s = 3600};
	gops_options_init(&t.opts);
	t.opts.idle = GOPS_IDLE_NONE;
	int status = parse_args(argc, argv, &t);
	if (status)
		return status;
	t.screen = !t.json && isatty(STDOUT_FILENO);
	t.keys = t.screen && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &t.saved) == 0;
	if (gethostname(t.host, sizeof t.host - 1) < 0)
		gops_strlcpy(t.host, "unknown", sizeof t.host);

	/* Blocked before the sampler's threads start, so that they inherit it: the signals reach
	 * only the signalfd read in the loop. */
	sigset_t sigs, old;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	if (t.screen) {
		sigaddset(&sigs, SIGWINCH);
		sigaddset(&sigs, SIGTSTP);
		sigaddset(&sigs, SIGCONT);
	}
	pthread_sigmask(SIG_BLOCK, &sigs, &old);
	int sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (sfd < 0) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		return cmd_error(VERB, "cannot wait for signals: %s", strerror(errno));
	}
	status = 1;
	if (open_monitor(&t, &t.mon, &t.t0_ns) < 0)
		goto out;
	t.mon_start_ns = t.t0_ns;
	const char *const *notes;
	size_t n = gops_monitor_notes(t.mon, &notes);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "greenops top: note: %s\n", notes[i]);

	if (t.screen) {
		enter_screen(&t);
		update(&t);
		draw(&t, true);
	} else if (!t.json) {
		plain_header();
	}
	loop(&t, sfd);
	leave_screen(&t);
	status = 0;
	int64_t end_ns = gops_now_ns(); /* the span's end: the stop waits for a counter update */
	bool stopped = gops_monitor_stop_at(t.mon, end_ns) == 0;
	if (!stopped)
		cmd_error(VERB, "%s (the totals are the last figures shown)", gops_monitor_error(t.mon));
	print_totals(&t, stopped, end_ns);
out:
	leave_screen(&t);
	gops_monitor_free(t.mon);
	close(sfd);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	free(t.dom);
	free(t.live);
	return status;
}
