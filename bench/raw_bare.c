/* The floor of serve-bench's client-capacity benchmark: an open-loop client with no HTTP
 * library at all, to tell what the machine's loopback TCP allows a one-thread client on one
 * core. Plain non-blocking sockets on epoll, Poisson arrivals on absolute times, kept-alive
 * connections reused from a pool (a new one opened when none is idle), one send() of a fixed
 * request, then recv() until the chunked response's last chunk, counting "data:" lines. No
 * header parsing, no JSON, no per-request record beyond the lateness. It sleeps (epoll_pwait2,
 * microsecond timeout) when the next arrival is over 100 us away and polls without sleeping
 * otherwise, as greenops does.
 * Usage: raw_bare http://127.0.0.1:PORT/PATH RATE DURATION_S [SEED [TOUCH [BURN_US]]]
 * TOUCH: after each response, read TOUCH bytes one after the other at random places of a
 * 64 MiB buffer (cache misses on purpose); BURN_US: then compute (read the clock) for that
 * many microseconds: how a client with a larger footprint, or more work, per request fares
 * here.
 * Prints: schedule_rate achieved_rate lateness_p99_ms cpu_us_per_request events_per_response
 *         reads_per_response */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "open_loop.h"

#define SPIN_NS 100000

struct conn {
	int fd;
	bool connecting, busy;
	char tail[8]; /* the last bytes received: "data:" and the last chunk may straddle reads */
	size_t tail_len;
	struct conn *next_idle;
};

static struct sockaddr_in addr;
static char request[512];
static size_t request_len;
static struct conn *idle;
static long events, reads, done;
static int ep;
static long touch;
static int64_t burn_ns;
static unsigned char *far_mem;
static const size_t far_size = (size_t)64 << 20;
static volatile unsigned far_sum;
static uint64_t far_state = 88172645463325252ull;

/* Dependent loads (each address depends on the byte read before), as in walking a linked
 * structure: one cache miss after the other. */
static void touch_far(void)
{
	for (long k = 0; k < touch; k++) {
		far_state = far_state * 6364136223846793005ull + 1442695040888963407ull + far_sum;
		far_sum += far_mem[(far_state >> 17) % far_size];
	}
}

static bool send_request(struct conn *c)
{
	c->busy = true;
	c->tail_len = 0;
	return send(c->fd, request, request_len, MSG_NOSIGNAL) == (ssize_t)request_len;
}

static struct conn *open_conn(void)
{
	struct conn *c = calloc(1, sizeof *c);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd < 0) {
		perror("raw_bare: socket");
		exit(1);
	}
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) && errno != EINPROGRESS) {
		perror("raw_bare: connect");
		exit(1);
	}
	c->connecting = true;
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
	epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
	return c;
}

/* Counts the events in what arrived and says whether the response is complete. */
static bool on_data(struct conn *c, const char *p, size_t n)
{
	/* A "data:" that starts in the bytes kept from the last read and ends in these. */
	char join[16];
	size_t head = n < 4 ? n : 4;
	memcpy(join, c->tail, c->tail_len);
	memcpy(join + c->tail_len, p, head);
	size_t jl = c->tail_len + head;
	for (size_t i = 0; i < c->tail_len && i + 5 <= jl; i++)
		if (i + 5 > c->tail_len && !memcmp(join + i, "data:", 5))
			events++;
	for (const char *q = p; (q = memchr(q, 'd', (size_t)(p + n - q))) && q + 5 <= p + n; q++)
		if (!memcmp(q, "data:", 5))
			events++;
	/* Keep the last 7 bytes seen. */
	if (n >= 7) {
		memcpy(c->tail, p + n - 7, 7);
		c->tail_len = 7;
	} else {
		size_t keep = c->tail_len < 7 - n ? c->tail_len : 7 - n;
		memmove(c->tail, c->tail + c->tail_len - keep, keep);
		memcpy(c->tail + keep, p, n);
		c->tail_len = keep + n;
	}
	return c->tail_len >= 7 && !memcmp(c->tail + c->tail_len - 7, "\r\n0\r\n\r\n", 7);
}

int main(int argc, char **argv)
{
	if (argc < 4 || strncmp(argv[1], "http://", 7)) {
		fprintf(stderr,
		        "usage: raw_bare http://HOST:PORT/PATH RATE DURATION_S [SEED [TOUCH [BURN_US]]]\n");
		return 2;
	}
	char host[64];
	int port;
	char path[256] = "/";
	if (sscanf(argv[1] + 7, "%63[^:]:%d%255s", host, &port, path) < 2 ||
	    inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
		fprintf(stderr, "raw_bare: %s: want http://IPV4:PORT/PATH\n", argv[1]);
		return 2;
	}
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)port);
	double rate = atof(argv[2]), dur = atof(argv[3]);
	unsigned seed = argc > 4 ? (unsigned)atoi(argv[4]) : 1;
	touch = argc > 5 ? atol(argv[5]) : 0;
	burn_ns = argc > 6 ? atol(argv[6]) * 1000 : 0;
	size_t n = (size_t)(rate * dur + 0.5);
	if (rate <= 0 || n == 0) {
		fprintf(stderr, "raw_bare: rate and duration must be positive\n");
		return 2;
	}
	static const char body[] = "{\"model\":\"bench\",\"prompt\":\"a b c d e f g h\",\"max_tokens\":16,"
	                           "\"stream\":true,\"stream_options\":{\"include_usage\":true}}";
	request_len = (size_t)snprintf(request, sizeof request,
	                               "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: "
	                               "application/json\r\nContent-Length: %zu\r\n\r\n%s",
	                               path, host, port, sizeof body - 1, body);
	int64_t *sched = poisson_schedule(n, rate, seed), *late = malloc(n * sizeof *late);
	if (!sched || !late) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	struct rlimit rl;
	if (!getrlimit(RLIMIT_NOFILE, &rl)) { /* as greenops does: a connection per request in flight */
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (touch > 0) {
		if (!(far_mem = malloc(far_size))) {
			fprintf(stderr, "raw_bare: out of memory\n");
			return 1;
		}
		for (size_t i = 0; i < far_size; i += 64)
			far_mem[i] = (unsigned char)i;
	}
	ep = epoll_create1(0);
	static char buf[65536];
	double c0 = cpu_s();
	int64_t t0 = now_ns() + 2000000, t_last = 0, give_up = t0 + (int64_t)(3 * dur * 1e9) + 5000000000;
	size_t next = 0;
	while (done < (long)n && now_ns() < give_up) {
		int64_t now = now_ns();
		while (next < n && t0 + sched[next] <= now) {
			struct conn *c = idle;
			if (c) {
				idle = c->next_idle;
				if (!send_request(c)) {
					fprintf(stderr, "raw_bare: send failed\n");
					return 1;
				}
			} else {
				c = open_conn();
			}
			late[next] = now - (t0 + sched[next]);
			next++;
		}
		int64_t wait = next < n ? t0 + sched[next] - now_ns() : 100000000;
		struct epoll_event evs[256];
		struct timespec ts = {.tv_sec = wait / 1000000000, .tv_nsec = wait % 1000000000};
		if (wait < SPIN_NS)
			ts = (struct timespec){0};
		int k = epoll_pwait2(ep, evs, 256, &ts, NULL);
		for (int i = 0; i < k; i++) {
			struct conn *c = evs[i].data.ptr;
			if (c->connecting && (evs[i].events & EPOLLOUT)) {
				c->connecting = false;
				struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
				epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
				if (!send_request(c)) {
					fprintf(stderr, "raw_bare: connect or send failed\n");
					return 1;
				}
			}
			if (!(evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
				continue;
			ssize_t r = recv(c->fd, buf, sizeof buf, 0);
			if (r < 0 && errno == EAGAIN)
				continue;
			if (r <= 0) {
				fprintf(stderr, "raw_bare: the server closed a connection\n");
				return 1;
			}
			reads++;
			if (c->busy && on_data(c, buf, (size_t)r)) {
				c->busy = false;
				done++;
				if (touch > 0)
					touch_far();
				t_last = now_ns();
				while (burn_ns > 0 && now_ns() < t_last + burn_ns)
					;
				c->next_idle = idle;
				idle = c;
			}
		}
	}
	double cpu = cpu_s() - c0;
	size_t sent = next;
	if (sent == 0)
		return 1;
	qsort(late, sent, sizeof *late, cmp_i64);
	double span = (double)sched[n - 1] / 1e9;
	double achieved = t_last > t0 ? (double)done / ((double)(t_last - t0) / 1e9) : 0;
	printf("%.0f %.0f %.3f %.2f %.2f %.2f\n", (double)(n - 1) / span, achieved,
	       (double)late[(size_t)(0.99 * (double)(sent - 1))] / 1e6, cpu / (double)n * 1e6,
	       done ? (double)events / (double)done : 0, done ? (double)reads / (double)done : 0);
	return done == (long)n ? 0 : 1;
}
