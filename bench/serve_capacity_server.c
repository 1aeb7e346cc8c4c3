/* A fast local OpenAI-style streaming server for serve-bench's client-capacity benchmark:
 * epoll threads answer every POST with a canned vLLM-shaped stream of N token events,
 * a usage event and [DONE] (chunked), either in one write or one event per write.
 * Usage: serve_capacity_server [--mode burst|split] [--tokens N] [--gap-us US] [--port P] [--spin]
 *                              [--threads N [--first-cpu C]]
 * --threads N: N threads, each with its own SO_REUSEPORT listening socket on the same port
 * (the kernel spreads connections among them), thread i pinned to core C + i when --first-cpu
 * is given: one event per write costs a server about as much as the client, so one thread
 * would be the bottleneck of a client benchmark.
 * --spin polls instead of sleeping, so that its core never halts: on a virtual machine a
 * halted CPU can take milliseconds to be woken, which would be charged to the client.
 * SIGUSR1 prints "BUSY s writes max_s" to stderr: the seconds a thread spent working on
 * average (outside epoll_wait, in passes that did something), the writes made, and the
 * busiest thread's seconds, so far. A split-mode server polls
 * while streams are open, so its CPU time does not say how loaded it is; this does. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 256
#define RBUF       16384

struct conn {
	int fd;
	char rbuf[RBUF];
	size_t rlen;
	int next_event; /* split mode: index of the next piece to send, -1 idle */
	int64_t due_ns;
	struct conn *next_active, *prev_active;
	bool active;
};

static char **pieces; /* split mode: headers+event 0, events 1..N-1, tail */
static size_t *piece_len;
static int n_pieces;
static char *whole; /* burst mode: the whole response */
static size_t whole_len;
static bool split, spin;
static int64_t gap_ns;
#define MAX_THREADS 64
static _Thread_local struct conn *active_head;
static _Thread_local long writes;
static _Atomic int64_t busy_ns[MAX_THREADS];
static _Atomic long writes_all;
static volatile sig_atomic_t report;
static int n_threads = 1, first_cpu = -1, port, first_ls = -1;

static void on_usr1(int sig)
{
	(void)sig;
	report = 1;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static char *chunk(const char *data, size_t *len)
{
	size_t n = strlen(data);
	char *p = malloc(n + 32);
	*len = (size_t)sprintf(p, "%zx\r\n%s\r\n", n, data);
	return p;
}

static void build(int tokens)
{
	static const char headers[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
	                              "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n";
	char ev[512];
	n_pieces = tokens + 1;
	pieces = calloc((size_t)n_pieces, sizeof *pieces);
	piece_len = calloc((size_t)n_pieces, sizeof *piece_len);
	char *all = malloc((size_t)(tokens + 2) * 512);
	size_t all_len = 0;
	for (int i = 0; i < tokens; i++) {
		int n = snprintf(
		    ev, sizeof ev,
		    "data: {\"id\":\"cmpl-bench\",\"object\":\"text_completion\",\"created\":1700000000,"
		    "\"model\":\"bench\",\"choices\":[{\"index\":0,\"text\":\" token%d\",\"logprobs\":null,"
		    "\"finish_reason\":%s,\"stop_reason\":null}]}\n\n",
		    i, i == tokens - 1 ? "\"length\"" : "null");
		memcpy(all + all_len, ev, (size_t)n);
		all_len += (size_t)n;
		size_t cl;
		char *c = chunk(ev, &cl);
		if (i == 0) {
			pieces[0] = malloc(sizeof headers + cl);
			memcpy(pieces[0], headers, sizeof headers - 1);
			memcpy(pieces[0] + sizeof headers - 1, c, cl);
			piece_len[0] = sizeof headers - 1 + cl;
			free(c);
		} else {
			pieces[i] = c;
			piece_len[i] = cl;
		}
	}
	int n =
	    snprintf(ev, sizeof ev,
	             "data: {\"id\":\"cmpl-bench\",\"object\":\"text_completion\",\"created\":1700000000,"
	             "\"model\":\"bench\",\"choices\":[],\"usage\":{\"prompt_tokens\":8,\"total_tokens\":%d,"
	             "\"completion_tokens\":%d}}\n\ndata: [DONE]\n\n",
	             tokens + 8, tokens);
	memcpy(all + all_len, ev, (size_t)n);
	all_len += (size_t)n;
	all[all_len] = 0;
	size_t cl;
	char *c = chunk(ev, &cl);
	pieces[tokens] = malloc(cl + 5);
	memcpy(pieces[tokens], c, cl);
	memcpy(pieces[tokens] + cl, "0\r\n\r\n", 5);
	piece_len[tokens] = cl + 5;
	free(c);
	char *body = chunk(all, &cl);
	whole = malloc(sizeof headers + cl + 5);
	memcpy(whole, headers, sizeof headers - 1);
	memcpy(whole + sizeof headers - 1, body, cl);
	memcpy(whole + sizeof headers - 1 + cl, "0\r\n\r\n", 5);
	whole_len = sizeof headers - 1 + cl + 5;
	free(body);
	free(all);
}

static void deactivate(struct conn *c)
{
	if (!c->active)
		return;
	if (c->prev_active)
		c->prev_active->next_active = c->next_active;
	else
		active_head = c->next_active;
	if (c->next_active)
		c->next_active->prev_active = c->prev_active;
	c->active = false;
	c->next_active = c->prev_active = NULL;
}

static void conn_close(int ep, struct conn *c)
{
	deactivate(c);
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
}

/* Loopback sockets take a whole response at once; a short write means a client that is
 * not reading, which this benchmark does not have: treat it as a dead connection. */
static bool send_all(struct conn *c, const char *p, size_t n)
{
	writes++;
	while (n) {
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* Returns false when the connection should close. */
static bool on_readable(struct conn *c)
{
	for (;;) {
		ssize_t r = recv(c->fd, c->rbuf + c->rlen, RBUF - 1 - c->rlen, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			break;
		if (r <= 0)
			return false;
		c->rlen += (size_t)r;
		if (c->rlen >= RBUF - 1)
			return false;
	}
	for (;;) {
		c->rbuf[c->rlen] = 0;
		char *end = strstr(c->rbuf, "\r\n\r\n");
		if (!end)
			return true;
		size_t head = (size_t)(end + 4 - c->rbuf), body = 0;
		for (char *p = c->rbuf; p < end; p++)
			if ((p == c->rbuf || p[-1] == '\n') && !strncasecmp(p, "content-length:", 15))
				body = strtoul(p + 15, NULL, 10);
		if (c->rlen < head + body)
			return true;
		if (c->next_event >= 0)
			return false; /* no pipelining while a stream is still going */
		if (!split) {
			if (!send_all(c, whole, whole_len))
				return false;
		} else {
			if (!send_all(c, pieces[0], piece_len[0]))
				return false;
			c->next_event = 1;
			c->due_ns = now_ns() + gap_ns;
			c->active = true;
			c->prev_active = NULL;
			c->next_active = active_head;
			if (active_head)
				active_head->prev_active = c;
			active_head = c;
		}
		memmove(c->rbuf, c->rbuf + head + body, c->rlen - head - body);
		c->rlen -= head + body;
	}
}

static void step_streams(int ep)
{
	int64_t now = now_ns();
	for (struct conn *c = active_head, *next; c; c = next) {
		next = c->next_active;
		if (c->due_ns > now)
			continue;
		if (!send_all(c, pieces[c->next_event], piece_len[c->next_event])) {
			conn_close(ep, c);
			continue;
		}
		if (++c->next_event == n_pieces) {
			c->next_event = -1;
			deactivate(c);
		} else {
			c->due_ns = now + gap_ns;
		}
	}
}

static int listen_on(int *p)
{
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	setsockopt(ls, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_port = htons((uint16_t)*p),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 4096) ||
	    getsockname(ls, (struct sockaddr *)&a, &al)) {
		perror("serve_capacity_server: listen");
		exit(1);
	}
	*p = ntohs(a.sin_port);
	return ls;
}

static void *serve(void *arg)
{
	int id = (int)(intptr_t)arg, one = 1, ls = id == 0 ? first_ls : listen_on(&port);
	if (first_cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(first_cpu + id, &set);
		if (pthread_setaffinity_np(pthread_self(), sizeof set, &set))
			fprintf(stderr, "serve_capacity_server: cannot pin thread %d to core %d\n", id,
			        first_cpu + id);
	}
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
	struct epoll_event evs[MAX_EVENTS];
	for (;;) {
		/* With streams under way, spin: the next event is due within microseconds. */
		int n = epoll_wait(ep, evs, MAX_EVENTS, active_head || spin ? 0 : id == 0 ? 100 : -1);
		if (id == 0 && report) {
			report = 0;
			int64_t sum = 0, max = 0;
			for (int i = 0; i < n_threads; i++) {
				int64_t b = atomic_load_explicit(&busy_ns[i], memory_order_relaxed);
				sum += b;
				max = b > max ? b : max;
			}
			fprintf(stderr, "BUSY %.6f %ld %.6f\n", (double)sum / n_threads / 1e9,
			        atomic_load_explicit(&writes_all, memory_order_relaxed), (double)max / 1e9);
		}
		int64_t t_work = now_ns();
		long writes_before = writes;
		for (int i = 0; i < n; i++) {
			if (!evs[i].data.ptr) {
				int fd;
				while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
					struct conn *c = calloc(1, sizeof *c);
					c->fd = fd;
					c->next_event = -1;
					struct epoll_event ce = {.events = EPOLLIN, .data.ptr = c};
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ce);
				}
				continue;
			}
			struct conn *c = evs[i].data.ptr;
			if (!on_readable(c))
				conn_close(ep, c);
		}
		if (active_head)
			step_streams(ep);
		if (n > 0 || writes != writes_before) {
			atomic_fetch_add_explicit(&busy_ns[id], now_ns() - t_work, memory_order_relaxed);
			atomic_fetch_add_explicit(&writes_all, writes - writes_before, memory_order_relaxed);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int tokens = 16;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--spin"))
			spin = true;
		else if (!strcmp(argv[i], "--mode") && i + 1 < argc)
			split = !strcmp(argv[++i], "split");
		else if (!strcmp(argv[i], "--tokens") && i + 1 < argc)
			tokens = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--gap-us") && i + 1 < argc)
			gap_ns = atoll(argv[++i]) * 1000;
		else if (!strcmp(argv[i], "--port") && i + 1 < argc)
			port = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			n_threads = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--first-cpu") && i + 1 < argc)
			first_cpu = atoi(argv[++i]);
		else {
			fprintf(
			    stderr,
			    "usage: %s [--mode burst|split] [--tokens N] [--gap-us US] [--port P] [--spin] "
			    "[--threads N [--first-cpu C]]\n",
			    argv[0]);
			return 2;
		}
	}
	if (tokens < 1 || tokens > 4096) {
		fprintf(stderr, "serve_capacity_server: --tokens must be 1..4096\n");
		return 2;
	}
	if (n_threads < 1 || n_threads > MAX_THREADS) {
		fprintf(stderr, "serve_capacity_server: --threads must be 1..%d\n", MAX_THREADS);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGUSR1, on_usr1);
	build(tokens);
	/* The first socket picks the port; the others join it (SO_REUSEPORT). */
	first_ls = listen_on(&port);
	pthread_t t[MAX_THREADS];
	for (int i = 1; i < n_threads; i++)
		pthread_create(&t[i], NULL, serve, (void *)(intptr_t)i);
	printf("PORT %d\n", port);
	fflush(stdout);
	serve((void *)0);
	return 0;
}
