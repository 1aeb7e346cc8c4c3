/* greenops export: a Prometheus exporter. A monitor samples every sensor; libmicrohttpd serves
 * /metrics with each domain's energy since start (counter), latest power and sensor state.
 * The monitor keeps every sample of its span, so the exporter replaces it with a fresh one
 * every --rotate seconds and carries the energy over exactly: memory and scrape cost stay
 * bounded however long it runs. docs/EXPORT.md describes the metrics and deployment. */
#include "cli/commands.h"
#include "cli/config.h"
#include "cli/monitor_opts.h"
#include "base/util.h"

#include <greenops/greenops.h>

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

const char usage_export[] =
    "usage: greenops export [--listen ADDR:PORT] [--sources LIST] [--interval MS] [--host NAME]\n"
    "                       [--rotate SECONDS] [--cpu-tdp W]\n"
    "\n"
    "Serves the machine's power and energy to Prometheus at http://ADDR:PORT/metrics:\n"
    "  greenops_energy_joules_total  energy per sensor domain since the exporter started (counter)\n"
    "  greenops_power_watts          latest power per domain (gauge)\n"
    "  greenops_sensor_up            1 while the domain's sensor is read, 0 once it is lost\n"
    "  greenops_sample_age_seconds   how old the served power reading is\n"
    "Labels: domain, source, kind, method (counter, integrated or estimated: estimates are\n"
    "models, not measurements), summed (whether a run's total counts the domain: RAPL domains\n"
    "overlap) and host. Prints \"listening on ADDR:PORT\" on stderr once it serves; runs until\n"
    "SIGINT or SIGTERM, then stops the sensors cleanly.\n"
    "\n"
    "  --listen ADDR:PORT  address to serve on (default 127.0.0.1:9464; port 0 picks a free one;\n"
    "                      [::1]:9464 for IPv6, :9464 for every interface)\n"
    "  --sources LIST      nvml,powercap,perf,hwmon,estimate (default: every sensor found)\n"
    "  --interval MS       sampling period (default 200: under 0.1% of a core; a GPU power reading\n"
    "                      served is then at most about 250 ms old, counting NVML's own 100 ms\n"
    "                      update period, while the energy counter is extrapolated to the scrape;\n"
    "                      25 keeps readings within 100 ms at about 4x the CPU; the CPU and RAM\n"
    "                      estimates are recomputed every 500 ms)\n"
    "  --host NAME         the host label (default: this machine's hostname)\n"
    "  --rotate SECONDS    start a fresh sampler this often, carrying the energy over (default\n"
    "                      3600; 0 never): bounds memory and scrape time\n"
    "  --cpu-tdp W         CPU power at full load, for the estimate where no sensor exists\n";

#define VERB "export"

enum { OPT_LISTEN = 3400, OPT_HOST, OPT_ROTATE };

struct exp_domain {
	char domain[32], source[16], kind[16], method[16];
	bool summed;
	double offset_j; /* energy of the monitors before the current one */
	double served_j; /* highest energy served: a Prometheus counter never goes back */
	bool served;
	bool present; /* in the current monitor */
};

/* Clients that hold a connection without finishing a request (a slow or stalled client, a
 * port scanner, slowloris) must not crowd out Prometheus: many connections are allowed, each
 * is closed after IDLE_S without a byte, and one that has not completed a request REQUEST_S
 * after it opened or after its last response is shut down, trickling or not. */
#define CONN_LIMIT     512
#define CONN_IDLE_S    5u
#define CONN_REQUEST_S 10

struct conn_slot {
	int fd;           /* -1: free */
	int64_t since_ns; /* opened, or last answered */
};

struct conns {
	pthread_mutex_t lock;
	struct conn_slot slot[CONN_LIMIT];
	unsigned long cut; /* connections shut down for holding a request too long */
};

struct exporter {
	struct conns conns;
	pthread_mutex_t lock; /* everything below */
	gops_monitor *mon;
	struct exp_domain *dom;
	size_t n_dom, cap_dom;
	struct gops_live *live;
	size_t cap_live;
	char host[256];
	unsigned long rotations, scrapes;
	struct gops_options opts;
};

/* --- domains and monitors ------------------------------------------------------------ */

static struct exp_domain *find_domain(struct exporter *ex, const char *domain, const char *source, bool add)
{
	for (size_t i = 0; i < ex->n_dom; i++)
		if (!strcmp(ex->dom[i].domain, domain) && !strcmp(ex->dom[i].source, source))
			return &ex->dom[i];
	if (!add)
		return NULL;
	if (ex->n_dom == ex->cap_dom) {
		size_t cap = ex->cap_dom ? ex->cap_dom * 2 : 16;
		struct exp_domain *v = realloc(ex->dom, cap * sizeof *v);
		if (!v)
			abort();
		ex->dom = v, ex->cap_dom = cap;
	}
	struct exp_domain *d = &ex->dom[ex->n_dom++];
	memset(d, 0, sizeof *d);
	gops_strlcpy(d->domain, domain, sizeof d->domain);
	gops_strlcpy(d->source, source, sizeof d->source);
	/* Known for sure before any result: the estimator's figures are a model. */
	gops_strlcpy(d->method, !strcmp(source, "estimate") ? "estimated" : "unknown", sizeof d->method);
	gops_strlcpy(d->kind, "unknown", sizeof d->kind);
	return d;
}

/* Labels are fixed once a domain has served: a label that changed would start a new series. */
static void learn_labels(struct exporter *ex, const struct gops_result *r)
{
	for (size_t i = 0; i < r->n_domains; i++) {
		const struct gops_domain_result *dr = &r->domains[i];
		struct exp_domain *d = find_domain(ex, dr->name, dr->source, true);
		if (d->served)
			continue;
		gops_strlcpy(d->kind, dr->kind, sizeof d->kind);
		if (dr->method != GOPS_METHOD_NONE)
			gops_strlcpy(d->method, gops_method_name(dr->method), sizeof d->method);
		d->summed = dr->summed;
	}
}

static int open_monitor(struct exporter *ex, gops_monitor **out, int64_t *t_start)
{
	int r = gops_monitor_new(out, &ex->opts);
	if (r == 0)
		r = gops_monitor_start(*out);
	if (r < 0) {
		cmd_error(VERB, "%s", gops_monitor_error(*out));
		gops_monitor_free(*out);
		*out = NULL;
		return r;
	}
	/* The span starts now, the moment the previous one's energy is cut. */
	*t_start = gops_now_ns();
	gops_monitor_set_start(*out, *t_start);
	return 0;
}

/* Learns each domain's kind, method and overlap from a short measured span before serving,
 * so that the labels are right from the first scrape. */
static int probe(struct exporter *ex)
{
	gops_monitor *m;
	int64_t t0;
	int r = open_monitor(ex, &m, &t0);
	if (r < 0)
		return r;
	const char *const *notes;
	size_t n = gops_monitor_notes(m, &notes);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "greenops export: note: %s\n", notes[i]);
	gops_sleep_until(t0 + 2 * (int64_t)ex->opts.interval_ms * 1000000);
	r = gops_monitor_stop(m);
	if (r < 0)
		cmd_error(VERB, "%s", gops_monitor_error(m));
	else
		learn_labels(ex, gops_monitor_result(m));
	gops_monitor_free(m);
	return r;
}

/* Calls gops_monitor_live with room for every domain. Under the lock. */
static size_t live(struct exporter *ex)
{
	size_t n = 0;
	for (;;) {
		if (ex->cap_live) {
			gops_monitor_live(ex->mon, ex->live, ex->cap_live, &n);
			if (n < ex->cap_live)
				return n;
		}
		ex->cap_live = ex->cap_live ? ex->cap_live * 2 : 16;
		ex->live = realloc(ex->live, ex->cap_live * sizeof *ex->live);
		if (!ex->live)
			abort();
	}
}

/* Replaces the monitor: the new one starts at t; the old one is stopped at that same t, so
 * its energy up to t (counter-anchored, exact) is carried into the offsets. Meanwhile scrapes
 * use the old one's live figure at the switch as a provisional offset. */
static int rotate(struct exporter *ex)
{
	gops_monitor *nm, *old;
	int64_t t;
	if (open_monitor(ex, &nm, &t) < 0)
		return -1;
	pthread_mutex_lock(&ex->lock);
	old = ex->mon;
	size_t n = live(ex);
	double *base = calloc(ex->n_dom + n + 1, sizeof *base);
	if (!base)
		abort();
	for (size_t i = 0; i < n; i++) {
		struct exp_domain *d = find_domain(ex, ex->live[i].domain, ex->live[i].source, true);
		size_t k = (size_t)(d - ex->dom);
		base[k] = d->offset_j;
		if (!isnan(ex->live[i].energy_j))
			d->offset_j += ex->live[i].energy_j;
	}
	size_t n_base = ex->n_dom;
	for (size_t i = 0; i < ex->n_dom; i++)
		ex->dom[i].present = false;
	ex->mon = nm;
	ex->rotations++;
	pthread_mutex_unlock(&ex->lock);

	int r = gops_monitor_stop_at(old, t);
	pthread_mutex_lock(&ex->lock);
	const struct gops_result *res = r == 0 ? gops_monitor_result(old) : NULL;
	for (size_t i = 0; res && i < res->n_domains; i++) {
		const struct gops_domain_result *dr = &res->domains[i];
		struct exp_domain *d = find_domain(ex, dr->name, dr->source, false);
		if (d && (size_t)(d - ex->dom) < n_base && !isnan(dr->energy_j))
			d->offset_j = base[d - ex->dom] + dr->energy_j;
	}
	if (res)
		learn_labels(ex, res);
	pthread_mutex_unlock(&ex->lock);
	if (r < 0)
		fprintf(stderr, "greenops export: warning: %s (energy carried over from the live figures)\n",
		        gops_monitor_error(old));
	free(base);
	gops_monitor_free(old);
	return 0;
}

/* --- the metrics page ---------------------------------------------------------------- */

/* Prometheus label values escape backslash, double quote and line feed. */
static void put_label(FILE *f, const char *name, const char *v, bool first)
{
	fprintf(f, "%s%s=\"", first ? "" : ",", name);
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', f), fputc(*v, f);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
	fputc('"', f);
}

static void put_series(FILE *f, const char *metric, const struct exp_domain *d, const char *host, double v)
{
	fputs(metric, f);
	fputc('{', f);
	put_label(f, "domain", d->domain, true);
	put_label(f, "source", d->source, false);
	put_label(f, "kind", d->kind, false);
	put_label(f, "method", d->method, false);
	put_label(f, "summed", d->summed ? "true" : "false", false);
	put_label(f, "host", host, false);
	fprintf(f, "} %.15g\n", v);
}

struct sample {
	double energy_j, power_w, age_s;
	bool up;
};

static char *render(struct exporter *ex, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	if (!f)
		return NULL;
	pthread_mutex_lock(&ex->lock);
	ex->scrapes++;
	size_t n = live(ex);
	struct sample *s = calloc(ex->n_dom + n + 1, sizeof *s);
	if (!s)
		abort();
	for (size_t i = 0; i < ex->n_dom + n; i++)
		s[i] = (struct sample){NAN, NAN, NAN, false};
	for (size_t i = 0; i < n; i++) {
		const struct gops_live *l = &ex->live[i];
		struct exp_domain *d = find_domain(ex, l->domain, l->source, true);
		struct sample *x = &s[d - ex->dom];
		d->present = true;
		x->power_w = l->power_w;
		x->age_s = l->age_s;
		x->up = l->up;
		x->energy_j = isnan(l->energy_j) ? NAN : d->offset_j + l->energy_j;
	}
	for (size_t i = 0; i < ex->n_dom; i++) {
		struct exp_domain *d = &ex->dom[i];
		/* Gone since a rotation (a lost device the new sampler no longer opens): its energy
		 * stays at what the last sampler measured. */
		if (!d->present)
			s[i].energy_j = d->served || d->offset_j > 0 ? fmax(d->served_j, d->offset_j) : NAN;
		if (isnan(s[i].energy_j))
			continue;
		if (d->served && s[i].energy_j < d->served_j)
			s[i].energy_j = d->served_j;
		d->served_j = s[i].energy_j;
		d->served = true;
	}
	static const struct {
		const char *name, *type, *help;
	} fam[] = {
	    {"greenops_energy_joules_total", "counter",
	     "Energy used per sensor domain since the exporter started, in joules."},
	    {"greenops_power_watts", "gauge", "Latest power reading per sensor domain, in watts."},
	    {"greenops_sensor_up", "gauge",
	     "Whether the domain's sensor is read (1) or was lost or unreadable (0)."},
	    {"greenops_sample_age_seconds", "gauge",
	     "Age of the served power reading, from when the sensor published it."},
	};
	for (size_t k = 0; k < sizeof fam / sizeof fam[0]; k++) {
		fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", fam[k].name, fam[k].help, fam[k].name,
		        fam[k].type);
		for (size_t i = 0; i < ex->n_dom; i++) {
			double v = k == 0   ? s[i].energy_j
			           : k == 1 ? s[i].power_w
			           : k == 2 ? (s[i].up && ex->dom[i].present ? 1 : 0)
			                    : s[i].age_s;
			if (isfinite(v))
				put_series(f, fam[k].name, &ex->dom[i], ex->host, v);
		}
	}
	fprintf(
	    f, "# HELP greenops_exporter_rotations_total Fresh samplers started since the exporter started.\n"
	       "# TYPE greenops_exporter_rotations_total counter\ngreenops_exporter_rotations_total");
	fputc('{', f);
	put_label(f, "host", ex->host, true);
	fprintf(f, "} %lu\n", ex->rotations);
	pthread_mutex_unlock(&ex->lock);
	free(s);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, char *body, size_t len,
                             enum MHD_ResponseMemoryMode mode, const char *type)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* --- connections --------------------------------------------------------------------- */

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
	struct conns *cs = cls;
	pthread_mutex_lock(&cs->lock);
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
		    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		for (size_t i = 0; ci && i < CONN_LIMIT; i++)
			if (cs->slot[i].fd < 0) {
				cs->slot[i] = (struct conn_slot){ci->connect_fd, gops_now_ns()};
				*socket_context = &cs->slot[i];
				break;
			}
	} else if (*socket_context) {
		/* libmicrohttpd tells of the close before closing the socket: the number cannot be
		 * another connection's while it is in the table */
		((struct conn_slot *)*socket_context)->fd = -1;
		*socket_context = NULL;
	}
	pthread_mutex_unlock(&cs->lock);
}

static void answered(struct conns *cs, struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	pthread_mutex_lock(&cs->lock);
	if (ci && ci->socket_context)
		((struct conn_slot *)ci->socket_context)->since_ns = gops_now_ns();
	pthread_mutex_unlock(&cs->lock);
}

/* Shuts down the sockets of connections that have held a request open too long; the HTTP
 * thread then sees the end of the stream and closes them itself. */
static void cut_slow(struct conns *cs)
{
	int64_t now = gops_now_ns(), limit = (int64_t)CONN_REQUEST_S * 1000000000;
	pthread_mutex_lock(&cs->lock);
	for (size_t i = 0; i < CONN_LIMIT; i++)
		if (cs->slot[i].fd >= 0 && now - cs->slot[i].since_ns > limit) {
			shutdown(cs->slot[i].fd, SHUT_RDWR);
			cs->slot[i].since_ns = INT64_MAX / 2; /* once */
			cs->cut++;
		}
	pthread_mutex_unlock(&cs->lock);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_size,
                              void **con_cls)
{
	struct exporter *ex = cls;
	answered(&ex->conns, c);
	static const char text[] = "text/plain; charset=utf-8";
	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		static char msg[] = "only GET and HEAD\n";
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, msg, sizeof msg - 1, MHD_RESPMEM_PERSISTENT,
		             text);
	}
	if (!strcmp(url, "/metrics")) {
		size_t len;
		char *body = render(ex, &len);
		if (!body) {
			static char msg[] = "out of memory\n";
			return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, msg, sizeof msg - 1,
			             MHD_RESPMEM_PERSISTENT, text);
		}
		return reply(c, MHD_HTTP_OK, body, len, MHD_RESPMEM_MUST_FREE,
		             "text/plain; version=0.0.4; charset=utf-8");
	}
	if (!strcmp(url, "/")) {
		static char msg[] = "greenops exporter: metrics at /metrics\n";
		return reply(c, MHD_HTTP_OK, msg, sizeof msg - 1, MHD_RESPMEM_PERSISTENT, text);
	}
	static char msg[] = "not found: metrics are at /metrics\n";
	return reply(c, MHD_HTTP_NOT_FOUND, msg, sizeof msg - 1, MHD_RESPMEM_PERSISTENT, text);
}

/* --- listening ----------------------------------------------------------------------- */

/* Splits ADDR:PORT ("[v6]:port" for IPv6, ":port" for every interface). */
static bool split_listen(char *arg, char **host, char **port)
{
	char *colon;
	if (arg[0] == '[') {
		char *end = strchr(arg, ']');
		if (!end || end[1] != ':')
			return false;
		*end = 0;
		*host = arg + 1;
		colon = end + 1;
	} else {
		colon = strrchr(arg, ':');
		if (!colon || strchr(arg, ':') != colon)
			return false;
		*colon = 0;
		*host = arg;
	}
	*port = colon + 1;
	if (!**port || strspn(*port, "0123456789") != strlen(*port) || strlen(*port) > 5 ||
	    atoi(*port) > 65535)
		return false;
	return true;
}

static void format_addr(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
		port = ntohs(s6->sin6_port);
		snprintf(buf, len, "[%s]:%u", host, port);
		return;
	}
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
	inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
	port = ntohs(s4->sin_port);
	snprintf(buf, len, "%s:%u", host, port);
}

/* Binds and listens. Returns the socket, -2 for a bad --listen (usage), -1 when the address
 * cannot be bound. `shown` gets the bound address with its actual port. */
static int listen_on(const char *arg, char *shown, size_t len)
{
	char *copy = gops_xstrdup(arg), *host, *port;
	int fd = -2;
	if (!split_listen(copy, &host, &port)) {
		cmd_usage_error(VERB,
		                "invalid value '%s' for --listen (expected ADDR:PORT, e.g. 127.0.0.1:9464, "
		                "[::1]:9464 or :9464)",
		                arg);
		goto out;
	}
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
	                         .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE | AI_NUMERICSERV},
	                *res;
	int gai = getaddrinfo(*host ? host : NULL, port, &hints, &res);
	if (gai) {
		cmd_usage_error(VERB, "invalid value '%s' for --listen: %s", arg, gai_strerror(gai));
		goto out;
	}
	fd = -1;
	int e = 0;
	for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			e = errno;
			continue;
		}
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0) {
			e = errno;
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd < 0) {
		cmd_error(VERB, "cannot listen on %s: %s", arg, strerror(e));
		goto out;
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	format_addr((struct sockaddr *)&ss, shown, len);
out:
	free(copy);
	return fd;
}

/* --- the verb ------------------------------------------------------------------------ */

struct export_args {
	const char *listen, *host;
	double rotate_s;
};

static int parse_args(int argc, char **argv, struct export_args *a, struct gops_options *o)
{
	static const struct option opts[] = {
	    {"listen", required_argument, NULL, OPT_LISTEN},
	    {"host", required_argument, NULL, OPT_HOST},
	    {"rotate", required_argument, NULL, OPT_ROTATE},
	    MONITOR_LONG_OPTIONS,
	    {0},
	};
	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case OPT_LISTEN:
			a->listen = optarg;
			break;
		case OPT_HOST:
			if (!*optarg)
				return cmd_usage_error(VERB, "--host needs a name");
			a->host = optarg;
			break;
		case OPT_ROTATE:
			if (!parse_double(VERB, "rotate", optarg, 0, 31 * 86400, &a->rotate_s))
				return 2;
			if (a->rotate_s > 0 && a->rotate_s < 1)
				return cmd_usage_error(
				    VERB, "invalid value '%s' for --rotate (0, or 1 second or more)", optarg);
			break;
		case OPT_IDLE:
			return cmd_usage_error(VERB,
			                       "--idle does not apply to export: it serves gross energy");
		case ':':
			return cmd_usage_error(VERB, "option '%s' needs a value", argv[optind - 1]);
		default: {
			int r = monitor_opt(VERB, c, optarg, o);
			if (r < 0)
				return 2;
			if (r == 0)
				return cmd_usage_error(VERB, "unknown option '%s'", argv[optind - 1]);
		}
		}
	}
	if (optind < argc)
		return cmd_usage_error(VERB, "unexpected argument '%s'", argv[optind]);
	return 0;
}

/* Waits for SIGINT/SIGTERM, rotating the monitor when due. Returns the signal. */
static int serve(struct exporter *ex, const sigset_t *stop, double rotate_s)
{
	int64_t next = rotate_s > 0 ? gops_now_ns() + (int64_t)(rotate_s * 1e9) : 0;
	for (;;) {
		int64_t wait = next ? next - gops_now_ns() : 3600LL * 1000000000;
		if (wait < 0)
			wait = 0;
		if (wait > 1000000000) /* slow connections are looked at every second */
			wait = 1000000000;
		struct timespec ts = {.tv_sec = wait / 1000000000, .tv_nsec = wait % 1000000000};
		int sig = sigtimedwait(stop, NULL, &ts);
		if (sig > 0)
			return sig;
		cut_slow(&ex->conns);
		if (next && gops_now_ns() >= next) {
			rotate(ex);
			next += (int64_t)(rotate_s * 1e9);
			if (next < gops_now_ns())
				next = gops_now_ns() + (int64_t)(rotate_s * 1e9);
		}
	}
}

static void print_totals(struct exporter *ex, const struct gops_result *r, int sig)
{
	fprintf(stderr,
	        "greenops export: stopped by %s after %lu scrape%s; energy since start:", strsignal(sig),
	        ex->scrapes, ex->scrapes == 1 ? "" : "s");
	bool any = false;
	for (size_t i = 0; i < ex->n_dom; i++) {
		struct exp_domain *d = &ex->dom[i];
		double e = d->served || d->offset_j > 0 ? fmax(d->served_j, d->offset_j) : NAN;
		for (size_t k = 0; r && k < r->n_domains; k++)
			if (!strcmp(r->domains[k].name, d->domain) &&
			    !strcmp(r->domains[k].source, d->source) && !isnan(r->domains[k].energy_j))
				e = fmax(d->offset_j + r->domains[k].energy_j, d->served ? d->served_j : 0);
		if (isnan(e))
			continue;
		fprintf(stderr, "%s %s %.1f J", any ? "," : "", d->domain, e);
		any = true;
	}
	fprintf(stderr, "%s\n", any ? "" : " nothing measured");
	if (ex->conns.cut)
		fprintf(stderr,
		        "greenops export: %lu connection%s closed for holding a request more than %d s\n",
		        ex->conns.cut, ex->conns.cut == 1 ? "" : "s", CONN_REQUEST_S);
}

int cmd_export(int argc, char **argv)
{
	struct export_args a = {.listen = "127.0.0.1:9464", .rotate_s = 3600};
	struct exporter ex = {0};
	gops_options_init(&ex.opts);
	config_monitor_defaults(&ex.opts, CONFIG_SOURCES | CONFIG_CPU_TDP); /* its own interval */
	ex.opts.interval_ms = 200; /* docs/BENCHMARKS.md: the exporter's cost per interval */
	ex.opts.idle = GOPS_IDLE_NONE;
	int status = parse_args(argc, argv, &a, &ex.opts);
	if (status)
		return status;
	if (ex.opts.interval_ms > 900)
		fprintf(stderr,
		        "greenops export: warning: sampling every %u ms: scrapes may see readings more "
		        "than a second old\n",
		        ex.opts.interval_ms);
	if (a.host)
		gops_strlcpy(ex.host, a.host, sizeof ex.host);
	else if (gethostname(ex.host, sizeof ex.host - 1) < 0)
		gops_strlcpy(ex.host, "unknown", sizeof ex.host);

	char shown[128];
	int fd = listen_on(a.listen, shown, sizeof shown);
	if (fd < 0)
		return fd == -2 ? 2 : 1;
	/* Every thread started from here on (sampler, HTTP) inherits the blocked set, so the
	 * signals reach only sigtimedwait below. */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);
	pthread_mutex_init(&ex.lock, NULL);
	pthread_mutex_init(&ex.conns.lock, NULL);
	for (size_t i = 0; i < CONN_LIMIT; i++)
		ex.conns.slot[i].fd = -1;

	struct MHD_Daemon *httpd = NULL;
	int64_t t0;
	status = 1;
	if (probe(&ex) < 0 || open_monitor(&ex, &ex.mon, &t0) < 0) {
		close(fd);
		goto out;
	}
	httpd = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD, 0, NULL, NULL, handle, &ex,
	                         MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_TIMEOUT, CONN_IDLE_S,
	                         MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONN_LIMIT,
	                         MHD_OPTION_NOTIFY_CONNECTION, on_connection, &ex.conns, MHD_OPTION_END);
	if (!httpd) {
		cmd_error(VERB, "cannot serve on %s: libmicrohttpd did not start", shown);
		close(fd);
		goto out;
	}
	fprintf(stderr, "greenops export: listening on %s\n", shown);
	int sig = serve(&ex, &stop, a.rotate_s);
	MHD_stop_daemon(httpd);
	status = 0;
	if (gops_monitor_stop(ex.mon) < 0) {
		cmd_error(VERB, "%s", gops_monitor_error(ex.mon));
		status = 1;
	}
	print_totals(&ex, gops_monitor_result(ex.mon), sig);
out:
	gops_monitor_free(ex.mon);
	pthread_mutex_destroy(&ex.lock);
	pthread_mutex_destroy(&ex.conns.lock);
	free(ex.dom);
	free(ex.live);
	return status;
}
