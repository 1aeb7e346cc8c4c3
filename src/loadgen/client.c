/* The libcurl-multi loop behind serve-bench (curl's 10-at-a-time pattern, made open-loop):
 * one thread, easy handles reused from a pool so connections and buffers are reused too,
 * libcurl's socket interface on epoll with a timerfd armed at the next scheduled arrival,
 * and every event parsed in the write callback as it arrives. It owns the per-request
 * records of a run. */
#include "loadgen/client.h"

#include "loadgen/sse.h"
#include "base/util.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

/* Twice libcurl's default, so that a response of a hundred short events arrives in one read.
 * libcurl 7.88 allocates this buffer for every transfer and frees it at the end; glibc
 * consolidates its free lists on every free of 64 KiB or more, which at 128 KiB cost about
 * 1% of the client's time per request: so it stays under that. */
#define RECV_BUFFER      (32 * 1024)
#define MAX_EVENT        (1024 * 1024) /* one event larger than this is a malformed stream */
#define ERR_BODY         2048          /* what is kept of an error response's body */
#define ITL_PREALLOC_MAX (16u << 20)   /* inter-token gaps stored ahead: 64 MiB at most */
#define POLL_CAP_MS      100           /* wake at least this often for progress and the stop flag */
/* An arrival closer than this is waited for by polling without sleeping: a virtual CPU that
 * halts wakes tens of microseconds late (hundreds after a millisecond's sleep, measured on
 * the 2-core build machine), and each sleep and wake costs more CPU than the poll it saves.
 * At low rates this costs at most SPIN_NS of a core per arrival. */
#define SPIN_NS 100000
/* libcurl (7.88) walks a host's connections to find an idle one for every new transfer, and
 * its whole cache on every curl_multi_remove_handle; connections left over from a burst make
 * every later request slower, which makes the client late, which opens more connections. So
 * the cache is sized to twice the recent peak of requests in flight (this second's and the
 * last one's): enough to reuse every connection under steady load, and after a burst the idle
 * surplus is closed. */
#define MIN_IDLE_CONNS 8 /* per shard */
#define LAUNCH_BATCH   128
#define PEAK_WINDOW_NS 1000000000LL
/* libcurl (7.88) also walks a host's connections, skipping those in use, to find an idle one
 * for every new transfer, and again on every curl_multi_remove_handle to find the one just
 * used: per request, a cost that grows with the requests in flight. Measured on the build
 * machine, a client that fell behind spent half its time in that walk and never caught up.
 * So HTTP/1.1 transfers are spread over several multi handles (each its own connection
 * cache), a new request going to the one with the fewest in flight: each walk is that many
 * times shorter. HTTP/2 multiplexes over one connection and keeps one multi handle. */
#define MAX_SHARDS 16
#define TIMER_TAG  UINT64_MAX /* epoll data of the arrival timer */
/* Multi-turn: an answer carried into the next turn, a session's history, a turn's body. */
#define ANSWER_MAX (16u << 20)
#define HIST_MAX   (256u << 20)
#define BODY_MAX   (HIST_MAX + (16u << 20))

/* What epoll watches for one descriptor. libcurl asks to watch a kept-alive connection's
 * socket when a request starts on it and to stop when the response is in: three epoll_ctl
 * calls per request. The sockets this client opens itself (open_socket) stay registered while
 * libcurl is not interested (REG_IDLE), so that the next request on them costs no system call;
 * one that reports an event meanwhile is then removed, and close_socket removes them before
 * they close. */
enum { REG_NONE, REG_WATCHED, REG_IDLE };
struct fd_reg {
	uint32_t events;
	uint8_t state;
	bool ours;      /* opened by open_socket, so its closing is seen */
	uint16_t shard; /* whose multi handle it belongs to */
};

/* What the event callback reports back to the write callback. */
#define EV_FAIL 1

struct slot {
	CURL *easy;
	struct lg_client *cl;
	struct lg_run *run;
	size_t req;
	struct lg_sse sse;
	struct lg_buf body;     /* error responses only */
	struct lg_buf answer;   /* multi-turn: the answer's text, escaped, for the next turn */
	struct lg_buf req_body; /* multi-turn: a later turn's body, built when it is sent */
	bool capture;           /* keep the answer's text */
	uint32_t *gaps;
	size_t n_gaps, cap_gaps;
	int64_t t_read, t_last_chunk;
	int64_t usage_tokens, prompt_tokens;
	int32_t chunks, reads;
	long http_status;
	bool status_checked, done_seen, finished;
	bool prior_knowledge; /* this request may open an h2c connection */
	struct shard *sh;     /* the multi handle it was added to */
	enum lg_err fail;
	char fail_msg[200];
	char curl_err[CURL_ERROR_SIZE];
	struct slot *next_free;
};

struct shard {
	struct lg_client *c;
	CURLM *multi;
	int64_t curl_due;           /* its libcurl timer, CLOCK_MONOTONIC ns; 0 none */
	size_t active;              /* transfers in it */
	bool dirty;                 /* libcurl ran in it since its messages were last read */
	size_t peak_now, peak_prev; /* most in flight in this and the last window */
	long maxconnects;
	long min_idle; /* connections kept however light the load (see lg_client_prewarm) */
};

struct lg_client {
	struct shard sh[MAX_SHARDS];
	int n_shards;
	struct curl_slist *headers;
	struct lg_client_opts o;
	char *url;
	struct slot **slots; /* every slot ever made, for freeing */
	size_t n_slots, cap_slots;
	struct slot *free_list;
	int64_t peak_window_end;
	int epfd;           /* libcurl's sockets and the arrival timer */
	int tfd;            /* timerfd armed at the next deadline (arrival or libcurl's timer) */
	int64_t tfd_armed;  /* the deadline it is armed for, 0 none */
	bool h2c_reuse_fix; /* libcurl < 8.0.0, --http2 on http:// (see open_socket) */
	bool h2c_pending;   /* a prior-knowledge request is setting up a connection */
	int open_socks;     /* sockets libcurl holds open */
	CURLU *uh;          /* the URL, parsed once (see lg_client_new) */
	struct fd_reg *reg; /* by descriptor: what epoll watches (see on_socket) */
	size_t n_reg;
};

const char *lg_err_name(enum lg_err e)
{
	static const char *const names[] = {
	    [LG_ERR_NONE] = "none",
	    [LG_ERR_CONNECT] = "connection failed",
	    [LG_ERR_TIMEOUT] = "timeout",
	    [LG_ERR_HTTP] = "http error",
	    [LG_ERR_EVENT] = "error event",
	    [LG_ERR_MALFORMED] = "malformed stream",
	    [LG_ERR_DROPPED] = "connection dropped",
	    [LG_ERR_NO_TOKENS] = "no tokens",
	    [LG_ERR_TRANSPORT] = "transport error",
	    [LG_ERR_ABORTED] = "aborted",
	};
	return (unsigned)e < sizeof names / sizeof names[0] ? names[e] : "?";
}

static void slot_fail(struct slot *s, enum lg_err e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void slot_fail(struct slot *s, enum lg_err e, const char *fmt, ...)
{
	if (s->fail)
		return; /* the first reason is the real one */
	s->fail = e;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->fail_msg, sizeof s->fail_msg, fmt, ap);
	va_end(ap);
	/* Messages quote server bytes, cut anywhere: keep them plain ASCII so that every
	 * output (JSON, CSV, terminal) can carry them. */
	for (char *p = s->fail_msg; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
}

static int push_gap(struct slot *s, int64_t gap_ns)
{
	if (s->n_gaps == s->cap_gaps) {
		size_t cap = s->cap_gaps ? s->cap_gaps * 2 : 64;
		uint32_t *p = realloc(s->gaps, cap * sizeof *p);
		if (!p)
			return -ENOMEM;
		s->gaps = p;
		s->cap_gaps = cap;
	}
	int64_t us = gap_ns / 1000;
	s->gaps[s->n_gaps++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
	return 0;
}

static int on_event(void *ctx, const char *event, const char *data, size_t len)
{
	struct slot *s = ctx;
	if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
		s->done_seen = true;
		return 0;
	}
	if (s->done_seen) {
		slot_fail(s, LG_ERR_MALFORMED, "event after [DONE]");
		return EV_FAIL;
	}
	struct lg_chunk c;
	struct lg_buf *text = s->capture ? &s->answer : NULL;
	int rc = s->cl->o.use_jansson ? lg_chunk_parse_jansson_text(data, len, &c, text)
	                              : lg_chunk_parse_text(data, len, &c, text);
	if (rc == -E2BIG || rc == -ENOMEM) {
		slot_fail(s, LG_ERR_TRANSPORT,
		          "the answer is over %u bytes, too long to carry into the next turn", ANSWER_MAX);
		return EV_FAIL;
	}
	if (rc) {
		slot_fail(s, LG_ERR_MALFORMED, "event is not a JSON object: '%.*s'", len < 60 ? (int)len : 60,
		          data);
		return EV_FAIL;
	}
	if (c.is_error || !strcmp(event, "error")) {
		slot_fail(s, LG_ERR_EVENT, "error event: %s", c.err_msg[0] ? c.err_msg : data);
		return EV_FAIL;
	}
	if (c.has_usage) {
		if (c.completion_tokens >= 0)
			s->usage_tokens = c.completion_tokens;
		if (c.prompt_tokens >= 0)
			s->prompt_tokens = c.prompt_tokens;
	}
	if (c.has_choices && c.text_len > 0) {
		struct lg_record *r = &s->run->rec[s->req];
		if (r->t_first == 0)
			r->t_first = s->t_read;
		else if (push_gap(s, s->t_read - s->t_last_chunk)) {
			slot_fail(s, LG_ERR_TRANSPORT, "out of memory");
			return EV_FAIL;
		}
		s->t_last_chunk = s->t_read;
		s->chunks++;
	}
	if (c.finished)
		s->finished = true;
	return 0;
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct slot *s = ctx;
	size_t n = size * nmemb;
	s->t_read = gops_now_ns();
	s->reads++;
	if (!s->status_checked) {
		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &s->http_status);
		s->status_checked = true;
	}
	if (s->http_status < 200 || s->http_status > 299) {
		size_t room = ERR_BODY - s->body.len;
		lg_buf_add(&s->body, p, n < room ? n : room);
		return n;
	}
	int rc = lg_sse_feed(&s->sse, p, n);
	if (rc == -E2BIG)
		slot_fail(s, LG_ERR_MALFORMED, "an event is larger than %d bytes", MAX_EVENT);
	else if (rc < 0)
		slot_fail(s, LG_ERR_TRANSPORT, "out of memory");
	return rc ? 0 : n; /* 0 makes libcurl abort the transfer */
}

static struct fd_reg *fd_reg(struct lg_client *c, curl_socket_t fd)
{
	if (fd < 0)
		return NULL;
	if ((size_t)fd >= c->n_reg) {
		size_t n = c->n_reg ? c->n_reg : 256;
		while (n <= (size_t)fd)
			n *= 2;
		struct fd_reg *v = realloc(c->reg, n * sizeof *v);
		if (!v)
			return NULL;
		memset(v + c->n_reg, 0, (n - c->n_reg) * sizeof *v);
		c->reg = v;
		c->n_reg = n;
	}
	return &c->reg[fd];
}

/* libcurl before 8.0.0 sets HTTP/2 up a second time on a reused prior-knowledge connection
 * and fails every request after a connection's first with "Error in the HTTP2 framing layer"
 * (curl issue 10634, fixed in 8.0.0). There, a request asks for prior knowledge only when no
 * connection is open or being opened, and otherwise for plain HTTP/2, which reuses (PIPEWAIT)
 * the open one without setting it up again. The sockets are counted to know (here,
 * and in close_socket), besides keeping their epoll registration (see struct fd_reg). */
static curl_socket_t open_socket(void *userp, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct lg_client *c = userp;
	curl_socket_t fd = socket(a->family, a->socktype, a->protocol);
	if (fd == CURL_SOCKET_BAD)
		return fd;
	c->open_socks++;
	struct fd_reg *r = fd_reg(c, fd);
	if (r)
		*r = (struct fd_reg){.ours = true};
	return fd;
}

static int close_socket(void *userp, curl_socket_t fd)
{
	struct lg_client *c = userp;
	c->open_socks--;
	struct fd_reg *r = fd_reg(c, fd);
	if (r) {
		if (r->state != REG_NONE)
			epoll_ctl(c->epfd, EPOLL_CTL_DEL, fd, NULL);
		*r = (struct fd_reg){0};
	}
	return close(fd);
}

/* Points a transfer at the benchmark's URL: the parsed handle when there is one. */
static void target_url(struct lg_client *c, CURL *e)
{
	curl_easy_setopt(e, CURLOPT_URL, c->url);
	if (c->uh)
		curl_easy_setopt(e, CURLOPT_CURLU, c->uh);
}

static struct slot *slot_new(struct lg_client *c)
{
	if (c->n_slots == c->cap_slots) {
		size_t cap = c->cap_slots ? c->cap_slots * 2 : 64;
		struct slot **v = realloc(c->slots, cap * sizeof *v);
		if (!v)
			return NULL;
		c->slots = v;
		c->cap_slots = cap;
	}
	struct slot *s = calloc(1, sizeof *s);
	if (!s || !(s->easy = curl_easy_init())) {
		free(s);
		return NULL;
	}
	s->cl = c;
	lg_sse_init(&s->sse, MAX_EVENT, on_event, s);
	lg_buf_init(&s->body, ERR_BODY);
	lg_buf_init(&s->answer, ANSWER_MAX);
	lg_buf_init(&s->req_body, BODY_MAX);
	CURL *e = s->easy;
	target_url(c, e);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(e, CURLOPT_PRIVATE, s);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->curl_err);
	curl_easy_setopt(e, CURLOPT_BUFFERSIZE, (long)RECV_BUFFER);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(e, CURLOPT_DNS_CACHE_TIMEOUT, -1L);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, c);
	curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, close_socket);
	curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, c);
	if (c->o.timeout_ms > 0)
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, c->o.timeout_ms);
	/* libcurl waits 300 s for a connection by default; a server that cannot accept one in
	 * 10 s is failing, and waiting would stall the schedule behind it. */
	long ct = c->o.timeout_ms > 0 && c->o.timeout_ms < 10000 ? c->o.timeout_ms : 10000;
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, ct);
	if (c->o.http_version == 2) {
		bool tls = strncmp(c->url, "https:", 6) == 0;
		curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
		                 tls ? (long)CURL_HTTP_VERSION_2TLS
		                     : (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
		curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L); /* multiplex rather than open connections */
	} else {
		curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	}
	c->slots[c->n_slots++] = s;
	return s;
}

static void slot_free(struct slot *s)
{
	curl_easy_cleanup(s->easy);
	lg_sse_release(&s->sse);
	lg_buf_release(&s->body);
	lg_buf_release(&s->answer);
	lg_buf_release(&s->req_body);
	free(s->gaps);
	free(s);
}

/* libcurl tells which sockets to watch: mirror that into the epoll set. */
static int on_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct shard *sh = userp;
	struct lg_client *c = sh->c;
	uint16_t k = (uint16_t)(sh - c->sh);
	struct fd_reg *r = fd_reg(c, fd);
	if (what == CURL_POLL_REMOVE) {
		if (r && r->ours && r->state == REG_WATCHED) {
			r->state = REG_IDLE;
			return 0;
		}
		epoll_ctl(c->epfd, EPOLL_CTL_DEL, fd, NULL);
		if (r)
			r->state = REG_NONE;
		return 0;
	}
	struct epoll_event ev = {.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0u) |
	                                   ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u),
	                         .data.u64 = (uint64_t)k << 32 | (uint32_t)fd};
	if (r && r->state != REG_NONE && r->events == ev.events && r->shard == k) {
		r->state = REG_WATCHED;
		return 0;
	}
	int op = r && r->state == REG_NONE ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
	if (epoll_ctl(c->epfd, op, fd, &ev))
		epoll_ctl(c->epfd, op == EPOLL_CTL_ADD ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev);
	if (r)
		*r = (struct fd_reg){.events = ev.events, .state = REG_WATCHED, .ours = r->ours, .shard = k};
	return 0;
}

static int on_timer(CURLM *m, long timeout_ms, void *userp)
{
	struct shard *sh = userp;
	sh->curl_due = timeout_ms < 0 ? 0 : gops_now_ns() + (int64_t)timeout_ms * 1000000;
	return 0;
}

int lg_client_new(struct lg_client **out, const struct lg_client_opts *o, char *err, size_t errlen)
{
	*out = NULL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errlen, "cannot initialise libcurl");
		return -EIO;
	}
	struct lg_client *c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	c->epfd = c->tfd = -1;
	c->o = *o;
	c->url = gops_xstrdup(o->url);
	/* Parsed once and handed to every transfer (libcurl only reads it), instead of libcurl
	 * parsing the URL string again for each: 148.1k -> 136.0k instructions per request
	 * (callgrind, closed loop against the capacity server). */
	if ((c->uh = curl_url()) && curl_url_set(c->uh, CURLUPART_URL, c->url, 0) != CURLUE_OK) {
		curl_url_cleanup(c->uh);
		c->uh = NULL;
	}
	c->h2c_reuse_fix = o->http_version == 2 && strncmp(o->url, "https:", 6) != 0 &&
	                   curl_version_info(CURLVERSION_NOW)->version_num < 0x080000;
	c->n_shards = o->http_version == 2 ? 1 : MAX_SHARDS;
	for (int i = 0; i < c->n_shards; i++) {
		c->sh[i].c = c;
		if (!(c->sh[i].multi = curl_multi_init())) {
			snprintf(err, errlen, "out of memory");
			lg_client_free(c);
			return -ENOMEM;
		}
	}
	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	c->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (c->epfd < 0 || c->tfd < 0) {
		snprintf(err, errlen, "cannot create the event loop: %s", strerror(errno));
		lg_client_free(c);
		return -EMFILE;
	}
	struct epoll_event tev = {.events = EPOLLIN, .data.u64 = TIMER_TAG};
	epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->tfd, &tev);
	if (!c->url)
		goto nomem;
	/* No Expect: 100-continue round trip for bigger prompts; JSON in, SSE out. */
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	h = h ? curl_slist_append(h, "Expect:") : NULL;
	if (h && o->api_key && *o->api_key) {
		char *auth = gops_xasprintf("Authorization: Bearer %s", o->api_key);
		struct curl_slist *h2 = auth ? curl_slist_append(h, auth) : NULL;
		free(auth);
		if (!h2) {
			curl_slist_free_all(h);
			h = NULL;
		}
	}
	if (!h)
		goto nomem;
	c->headers = h;
	for (int i = 0; i < c->n_shards; i++) {
		CURLM *m = c->sh[i].multi;
		/* The socket interface: each wake-up costs what its events cost, never a walk over
		 * every transfer in flight (curl_multi_perform/poll do that walk, which at high
		 * rates turns a moment of lateness into a collapse). */
		curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, on_socket);
		curl_multi_setopt(m, CURLMOPT_SOCKETDATA, &c->sh[i]);
		curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, on_timer);
		curl_multi_setopt(m, CURLMOPT_TIMERDATA, &c->sh[i]);
		/* No cap on connections per host: an open-loop client must never queue behind its
		 * own pool. Keep idle connections so that a burst's connections are reused after it. */
		curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
		curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, 0L);
		curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)MIN_IDLE_CONNS);
		c->sh[i].maxconnects = c->sh[i].min_idle = MIN_IDLE_CONNS;
		if (o->http_version == 2)
			curl_multi_setopt(m, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
		/* Under the libcurl < 8.0.0 workaround a second connection would be opened by a
		 * plain HTTP/2 request, as HTTP/1.1 with an h2c upgrade: requests beyond the server's
		 * MAX_CONCURRENT_STREAMS wait in libcurl for a stream instead (inside their TTFT). */
		if (c->h2c_reuse_fix)
			curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, 1L);
	}
	*out = c;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	lg_client_free(c);
	return -ENOMEM;
}

void lg_client_free(struct lg_client *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_slots; i++)
		slot_free(c->slots[i]);
	free(c->slots);
	for (int i = 0; i < c->n_shards; i++)
		if (c->sh[i].multi)
			curl_multi_cleanup(c->sh[i].multi);
	curl_slist_free_all(c->headers);
	free(c->reg);
	curl_url_cleanup(c->uh);
	if (c->epfd >= 0)
		close(c->epfd);
	if (c->tfd >= 0)
		close(c->tfd);
	free(c->url);
	free(c);
}

void lg_run_release(struct lg_run *r)
{
	if (r->rec)
		for (size_t i = 0; i < r->n; i++)
			free(r->rec[i].error);
	free(r->rec);
	free(r->itl_us);
	memset(r, 0, sizeof *r);
}

static double thread_cpu_s(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_THREAD, &ru))
		return 0;
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

/* The state of one run while it goes. */
struct loop {
	struct lg_client *c;
	const struct lg_run_spec *s;
	struct lg_run *run;
	size_t next; /* next arrival to send */
	size_t active;
	size_t finished, failed, counted_finished, counted_failed;
	int64_t first_completion;
	bool steady_open, steady_done, started;
	int64_t last_end;
	int64_t last_free; /* when a completion freed a slot that a due request waited for */
	bool blocked;      /* a due request waits for a --max-concurrency slot */
	size_t launched_counted;
	/* Multi-turn: arrival i's first record, the later turns due (a heap by due time), and
	 * each session's history (its messages so far, the server's answers included). */
	size_t *base;
	struct followup {
		int64_t due;
		size_t rec;
	} * heap;
	size_t n_heap;
	struct lg_buf *hist;
};

/* The record of arrival a: its session's first turn. */
static size_t rec_of(const struct loop *L, size_t a)
{
	return L->base ? L->base[a] : a;
}

static void heap_push(struct loop *L, int64_t due, size_t rec)
{
	size_t i = L->n_heap++;
	while (i > 0 && L->heap[(i - 1) / 2].due > due) {
		L->heap[i] = L->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	L->heap[i] = (struct followup){due, rec};
}

static void heap_pop(struct loop *L)
{
	struct followup last = L->heap[--L->n_heap];
	size_t i = 0, n = L->n_heap;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && L->heap[c + 1].due < L->heap[c].due)
			c++;
		if (L->heap[c].due >= last.due)
			break;
		L->heap[i] = L->heap[c];
		i = c;
	}
	if (n)
		L->heap[i] = last;
}

/* The next request due, arrival or later turn, and when; false when none is left. */
static bool next_due(const struct loop *L, size_t *rec, int64_t *due, bool *arrival)
{
	bool have = false;
	if (L->next < L->s->n) {
		*rec = rec_of(L, L->next);
		*due = L->run->rec[*rec].t_sched;
		*arrival = have = true;
	}
	if (L->n_heap && (!have || L->heap[0].due < *due)) {
		*rec = L->heap[0].rec;
		*due = L->heap[0].due;
		*arrival = false;
		have = true;
	}
	return have;
}

static void mark(struct loop *L, enum lg_mark m, int64_t t)
{
	if (L->s->mark)
		L->s->mark(L->s->mark_ctx, m, t);
}

static void steady_check(struct loop *L, int64_t t_completion)
{
	struct lg_run *r = L->run;
	/* The arrival period ends with the last counted scheduled arrival: from then on the
	 * server only drains, however long its queue (see docs/SERVE_BENCH.md). */
	int64_t last_arrival = r->t0 + L->s->offsets[L->s->n - 1];
	if (!L->steady_open && !L->steady_done && L->started && L->first_completion) {
		int64_t start = r->t0 + L->s->offsets[L->s->n_warmup];
		if (L->first_completion >= last_arrival) {
			L->steady_done = true; /* nothing left before the drain: no plateau */
			return;
		}
		r->steady_begin = L->first_completion > start ? L->first_completion : start;
		L->steady_open = true;
		mark(L, LG_MARK_STEADY_BEGIN, r->steady_begin);
		return; /* the completion that opens the plateau does not also close it */
	}
	if (L->steady_open && t_completion && t_completion >= last_arrival) {
		r->steady_end = t_completion;
		L->steady_open = false;
		L->steady_done = true;
		mark(L, LG_MARK_STEADY_END, r->steady_end);
	}
}

/* A slot from the pool (a new one when it is empty), and back. */
static struct slot *slot_take(struct lg_client *c)
{
	struct slot *s = c->free_list;
	if (s)
		c->free_list = s->next_free;
	else
		s = slot_new(c);
	return s;
}

static void slot_put(struct lg_client *c, struct slot *s)
{
	s->next_free = c->free_list;
	c->free_list = s;
}

/* Runs the libcurl timers that are due (marking their shards for draining). */
static void fire_curl_timers(struct lg_client *c, int64_t now)
{
	for (int k = 0; k < c->n_shards; k++) {
		struct shard *sh = &c->sh[k];
		if (sh->curl_due && sh->curl_due <= now) {
			int running;
			sh->curl_due = 0;
			sh->dirty = true;
			curl_multi_socket_action(sh->multi, CURL_SOCKET_TIMEOUT, 0, &running);
		}
	}
}

/* deadline, or the earliest libcurl timer before it. */
static int64_t before_curl_timers(const struct lg_client *c, int64_t deadline)
{
	for (int k = 0; k < c->n_shards; k++)
		if (c->sh[k].curl_due && c->sh[k].curl_due < deadline)
			deadline = c->sh[k].curl_due;
	return deadline;
}

static void size_cache(struct lg_client *c, struct shard *sh, int64_t now)
{
	if (now >= c->peak_window_end) {
		for (int i = 0; i < c->n_shards; i++) {
			c->sh[i].peak_prev = c->sh[i].peak_now;
			c->sh[i].peak_now = c->sh[i].active;
		}
		c->peak_window_end = now + PEAK_WINDOW_NS;
	}
	size_t peak = sh->peak_now > sh->peak_prev ? sh->peak_now : sh->peak_prev;
	long want = 2 * (long)peak > sh->min_idle ? 2 * (long)peak : sh->min_idle;
	if (want != sh->maxconnects) {
		curl_multi_setopt(sh->multi, CURLMOPT_MAXCONNECTS, want);
		sh->maxconnects = want;
	}
}

static int launch(struct loop *L, size_t i)
{
	struct lg_client *c = L->c;
	struct slot *s = slot_take(c);
	if (!s)
		return -ENOMEM;
	struct lg_record *r = &L->run->rec[i];
	const struct lg_dataset *ds = L->s->ds;
	const struct lg_item *it = &ds->items[L->base ? r->item : (L->s->first_item + i) % ds->n];
	const char *body = it->body;
	size_t body_len = it->body_len;
	s->capture = false;
	if (L->base) {
		const struct lg_conv *cv = &ds->convs[r->item];
		s->capture = r->turn + 1 < cv->n;
		lg_buf_reset(&s->answer);
		if (r->turn > 0) {
			/* The conversation so far, with the server's answers, and this turn. */
			const struct lg_turn *t = &ds->turns[cv->first + r->turn];
			const struct lg_buf *h = &L->hist[r->session];
			struct lg_buf *b = &s->req_body;
			lg_buf_reset(b);
			if (lg_buf_add(b, ds->head, ds->head_len) || lg_buf_add(b, h->p, h->len) ||
			    lg_buf_add(b, ",", 1) || lg_buf_add(b, t->msgs, t->msgs_len) ||
			    lg_buf_add(b, t->tail, t->tail_len)) {
				slot_put(c, s);
				return -ENOMEM;
			}
			body = b->p;
			body_len = b->len;
		}
	}
	s->run = L->run;
	s->req = i;
	lg_sse_reset(&s->sse);
	lg_buf_reset(&s->body);
	s->n_gaps = 0;
	s->t_read = s->t_last_chunk = 0;
	s->usage_tokens = s->prompt_tokens = -1;
	s->chunks = s->reads = 0;
	s->http_status = 0;
	s->status_checked = s->done_seen = s->finished = false;
	s->fail = LG_ERR_NONE;
	s->fail_msg[0] = s->curl_err[0] = 0;
	curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE, (long)body_len);
	if (c->h2c_reuse_fix) {
		s->prior_knowledge = c->open_socks <= 0 && !c->h2c_pending;
		c->h2c_pending |= s->prior_knowledge;
		curl_easy_setopt(s->easy, CURLOPT_HTTP_VERSION,
		                 s->prior_knowledge ? (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE
		                                    : (long)CURL_HTTP_VERSION_2_0);
	}
	r->t_start = gops_now_ns();
	r->t_admit = c->o.max_concurrency && L->last_free > r->t_sched ? L->last_free : r->t_sched;
	/* The shard with the fewest in flight: the first one while the load is light, so that
	 * its connections are the ones reused. */
	struct shard *sh = &c->sh[0];
	for (int k = 1; k < c->n_shards && sh->active; k++)
		if (c->sh[k].active < sh->active)
			sh = &c->sh[k];
	s->sh = sh;
	if (curl_multi_add_handle(sh->multi, s->easy) != CURLM_OK) {
		slot_put(c, s);
		return -EIO;
	}
	L->active++;
	L->launched_counted += !r->warmup;
	if (++sh->active > sh->peak_now)
		sh->peak_now = sh->active;
	size_cache(c, sh, r->t_start);
	if (i == L->run->n_warmup) {
		L->started = true;
		mark(L, LG_MARK_START, r->t_sched);
		steady_check(L, 0);
	}
	return 0;
}

/* A turn of a session ended: an answer carries its session on to the next turn (due think_ns
 * later), a failure or the last turn ends it. */
static void next_turn(struct loop *L, struct slot *s, struct lg_record *r)
{
	const struct lg_dataset *ds = L->s->ds;
	const struct lg_conv *cv = &ds->convs[r->item];
	struct lg_buf *h = &L->hist[r->session];
	static const char asst[] = ",{\"role\":\"assistant\",\"content\":\"";
	if (r->status == LG_OK && r->turn + 1 < cv->n) {
		const struct lg_turn *t = &ds->turns[cv->first + r->turn];
		if ((h->len && lg_buf_add(h, ",", 1)) || lg_buf_add(h, t->msgs, t->msgs_len) ||
		    lg_buf_add(h, asst, sizeof asst - 1) ||
		    lg_buf_add(h, s->answer.p ? s->answer.p : "", s->answer.len) || lg_buf_add(h, "\"}", 2)) {
			/* Too long a history to send: the session ends, its later turns unsent. */
			lg_buf_release(h);
			return;
		}
		size_t k = (size_t)(r - L->run->rec) + 1;
		L->run->rec[k].t_sched = r->t_end + L->s->think_ns;
		heap_push(L, L->run->rec[k].t_sched, k);
		return;
	}
	lg_buf_release(h);
}

static enum lg_err classify(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return LG_ERR_CONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		return LG_ERR_TIMEOUT;
	case CURLE_PARTIAL_FILE:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2_STREAM:
	case CURLE_HTTP2:
		return LG_ERR_DROPPED;
	default:
		return LG_ERR_TRANSPORT;
	}
}

/* Keeps the text of an error body short and on one line. */
static void one_line(char *dst, size_t cap, const char *src, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n && k + 1 < cap; i++)
		dst[k++] = (src[i] == '\n' || src[i] == '\r' || src[i] == '\t') ? ' ' : src[i];
	dst[k] = 0;
}

static void complete(struct loop *L, struct slot *s, CURLcode rc)
{
	struct lg_run *run = L->run;
	struct lg_record *r = &run->rec[s->req];
	int64_t now = gops_now_ns();
	r->t_end = s->t_read ? s->t_read : now;
	if (s->prior_knowledge)
		L->c->h2c_pending = s->prior_knowledge = false;
	long nc = 0;
	if (curl_easy_getinfo(s->easy, CURLINFO_NUM_CONNECTS, &nc) == CURLE_OK)
		r->new_connection = nc > 0;
	curl_off_t pre = 0;
	if (curl_easy_getinfo(s->easy, CURLINFO_PRETRANSFER_TIME_T, &pre) == CURLE_OK && pre > 0)
		r->t_sent = r->t_start + (int64_t)pre * 1000;
	else
		r->t_sent = r->t_start;
	if (!s->status_checked)
		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &s->http_status);
	r->http_status = (int16_t)s->http_status;
	if (!s->fail) {
		if (rc == CURLE_WRITE_ERROR)
			slot_fail(s, LG_ERR_TRANSPORT, "write error");
		else if (rc != CURLE_OK)
			slot_fail(s, classify(rc), "%s",
			          s->curl_err[0] ? s->curl_err : curl_easy_strerror(rc));
		else if (s->http_status < 200 || s->http_status > 299) {
			char body[200];
			one_line(body, sizeof body, s->body.p ? s->body.p : "", s->body.len);
			slot_fail(s, LG_ERR_HTTP, "HTTP %ld: %s", s->http_status, body);
		} else if (!s->done_seen && !s->finished)
			slot_fail(s, lg_sse_pending(&s->sse) ? LG_ERR_DROPPED : LG_ERR_MALFORMED,
			          "the stream ended without [DONE]");
		else if (s->chunks == 0)
			slot_fail(s, LG_ERR_NO_TOKENS, "the response carried no token");
	}
	r->chunks = s->chunks;
	r->reads = s->reads;
	r->prompt_tokens = s->prompt_tokens >= 0 ? s->prompt_tokens : -1;
	r->usage = s->usage_tokens >= 0;
	r->output_tokens = r->usage ? s->usage_tokens : s->chunks;
	bool counted = !r->warmup;
	if (s->fail) {
		r->status = LG_FAILED;
		r->err = (uint8_t)s->fail;
		r->error = gops_xstrdup(s->fail_msg);
		L->failed++;
		if (counted)
			L->counted_failed++;
	} else {
		r->status = LG_OK;
		if (s->n_gaps) {
			if (run->n_itl + s->n_gaps > run->cap_itl) {
				size_t cap = run->cap_itl ? run->cap_itl : 4096;
				while (cap < run->n_itl + s->n_gaps)
					cap *= 2;
				uint32_t *p = realloc(run->itl_us, cap * sizeof *p);
				if (p)
					run->itl_us = p, run->cap_itl = cap;
			}
			if (run->n_itl + s->n_gaps <= run->cap_itl) {
				memcpy(run->itl_us + run->n_itl, s->gaps, s->n_gaps * sizeof *s->gaps);
				r->itl_off = (uint32_t)run->n_itl;
				r->itl_n = (uint32_t)s->n_gaps;
				run->n_itl += s->n_gaps;
			}
		}
	}
	if (L->base)
		next_turn(L, s, r);
	L->finished++;
	if (counted) {
		L->counted_finished++;
		if (r->t_end > L->last_end)
			L->last_end = r->t_end;
	}
	if (!L->first_completion)
		L->first_completion = r->t_end;
	steady_check(L, r->t_end);
	curl_multi_remove_handle(s->sh->multi, s->easy);
	s->sh->active--;
	slot_put(L->c, s);
	L->active--;
	if (L->blocked)
		L->last_free = now, L->blocked = false;
}

static void drain(struct loop *L)
{
	CURLMsg *m;
	int left;
	for (int i = 0; i < L->c->n_shards; i++) {
		if (!L->c->sh[i].dirty)
			continue;
		L->c->sh[i].dirty = false;
		while ((m = curl_multi_info_read(L->c->sh[i].multi, &left)))
			if (m->msg == CURLMSG_DONE) {
				struct slot *s = NULL;
				curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
				CURLcode rc = m->data.result;
				complete(L, s, rc);
			}
	}
}

static void abort_in_flight(struct loop *L)
{
	for (size_t i = 0; i < L->c->n_slots; i++) {
		struct slot *s = L->c->slots[i];
		if (s->run != L->run || s->req >= L->run->n)
			continue;
		struct lg_record *r = &L->run->rec[s->req];
		if (r->t_start && !r->t_end) {
			slot_fail(s, LG_ERR_ABORTED, "the run was stopped");
			complete(L, s, CURLE_ABORTED_BY_CALLBACK);
		}
	}
}

static void report(struct loop *L, int64_t now)
{
	struct lg_progress p = {
	    .total = L->run->n - L->run->n_warmup,
	    .sent = L->launched_counted,
	    .finished = L->counted_finished,
	    .failed = L->counted_failed,
	    .in_flight = L->active,
	    .held = 0,
	};
	size_t due = L->next;
	while (due < L->s->n && L->run->t0 + L->s->offsets[due] <= now)
		due++;
	p.held = due - L->next;
	for (size_t k = 0; k < L->n_heap; k++)
		p.held += L->heap[k].due <= now;
	int64_t start = L->run->t0 + L->s->offsets[L->s->n_warmup];
	p.elapsed_s = now > start ? (double)(now - start) / 1e9 : 0;
	p.planned_s = (double)(L->s->offsets[L->s->n - 1] - L->s->offsets[L->s->n_warmup]) / 1e9;
	L->s->progress(L->s->progress_ctx, &p);
}

/* Sleeps until a socket is ready or the deadline (exact to microseconds: a timerfd, not a
 * millisecond poll timeout), or only looks when spin is set, and hands every ready socket to
 * libcurl. Returns how many sockets were ready. */
static int wait_events(struct lg_client *c, int64_t deadline, bool spin)
{
	if (!spin && deadline != c->tfd_armed) {
		struct itimerspec its = {
		    .it_value = {.tv_sec = deadline / 1000000000, .tv_nsec = deadline % 1000000000}};
		timerfd_settime(c->tfd, TFD_TIMER_ABSTIME, &its, NULL);
		c->tfd_armed = deadline;
	}
	struct epoll_event evs[256];
	int n = epoll_wait(c->epfd, evs, 256, spin ? 0 : POLL_CAP_MS);
	int running;
	for (int i = 0; i < n; i++) {
		if (evs[i].data.u64 == TIMER_TAG) {
			uint64_t ticks;
			if (read(c->tfd, &ticks, sizeof ticks) < 0 && errno != EAGAIN)
				continue;
			c->tfd_armed = 0;
			continue;
		}
		int mask = ((evs[i].events & EPOLLIN) ? CURL_CSELECT_IN : 0) |
		           ((evs[i].events & EPOLLOUT) ? CURL_CSELECT_OUT : 0) |
		           ((evs[i].events & (EPOLLERR | EPOLLHUP)) ? CURL_CSELECT_ERR : 0);
		int fd = (int)(uint32_t)evs[i].data.u64;
		if ((size_t)fd < c->n_reg && c->reg[fd].state == REG_IDLE) {
			/* A kept-alive connection that libcurl is not watching: the server closed
			 * it, most likely. libcurl finds that out when it next picks it. */
			epoll_ctl(c->epfd, EPOLL_CTL_DEL, fd, NULL);
			c->reg[fd].state = REG_NONE;
			continue;
		}
		struct shard *sh = &c->sh[evs[i].data.u64 >> 32];
		sh->dirty = true;
		curl_multi_socket_action(sh->multi, fd, mask, &running);
	}
	return n;
}

static size_t discard(char *p, size_t size, size_t nmemb, void *ctx)
{
	return size * nmemb;
}

int lg_client_prewarm(struct lg_client *c, const char *url, size_t n, int64_t timeout_ns)
{
	if (c->o.http_version == 2 || n == 0)
		return 0;
	size_t per = (n + (size_t)c->n_shards - 1) / (size_t)c->n_shards;
	n = per * (size_t)c->n_shards;
	struct slot **used = calloc(n, sizeof *used);
	if (!used)
		return -ENOMEM;
	/* Kept from now on, so that the connections these requests leave are not closed as
	 * soon as they are returned to the cache. */
	for (int k = 0; k < c->n_shards; k++) {
		struct shard *sh = &c->sh[k];
		sh->min_idle = (long)per > MIN_IDLE_CONNS ? (long)per : MIN_IDLE_CONNS;
		if (sh->min_idle > sh->maxconnects) {
			curl_multi_setopt(sh->multi, CURLMOPT_MAXCONNECTS, sh->min_idle);
			sh->maxconnects = sh->min_idle;
		}
	}
	int rc = 0;
	size_t added = 0, done = 0;
	for (; added < n; added++) {
		struct slot *s = slot_take(c);
		if (!s) {
			rc = -ENOMEM;
			break;
		}
		used[added] = s;
		s->sh = &c->sh[added % (size_t)c->n_shards];
		curl_easy_setopt(s->easy, CURLOPT_CURLU, NULL);
		curl_easy_setopt(s->easy, CURLOPT_URL, url);
		curl_easy_setopt(s->easy, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, discard);
		if (curl_multi_add_handle(s->sh->multi, s->easy) != CURLM_OK) {
			slot_put(c, s);
			rc = -EIO;
			break;
		}
		s->sh->active++;
	}
	int64_t end = gops_now_ns() + timeout_ns;
	while (done < added) {
		int64_t now = gops_now_ns();
		if (now >= end)
			break;
		fire_curl_timers(c, now);
		int64_t deadline = before_curl_timers(c, now + 10000000 < end ? now + 10000000 : end);
		if (deadline > now)
			wait_events(c, deadline, false);
		for (int k = 0; k < c->n_shards; k++) {
			CURLMsg *m;
			int left;
			while ((m = curl_multi_info_read(c->sh[k].multi, &left)))
				if (m->msg == CURLMSG_DONE)
					done++;
		}
	}
	/* Whatever the answers were: what mattered is the connections (a server that closes
	 * them, or does not know the path, leaves fewer to reuse and nothing else). */
	for (size_t i = 0; i < added; i++) {
		struct slot *s = used[i];
		curl_multi_remove_handle(s->sh->multi, s->easy);
		s->sh->active--;
		target_url(c, s->easy);
		curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_write);
		slot_put(c, s);
	}
	free(used);
	return rc;
}

int lg_client_run(struct lg_client *c, const struct lg_run_spec *s, struct lg_run *run, char *err,
                  size_t errlen)
{
	memset(run, 0, sizeof *run);
	if (s->n == 0 || s->n_warmup >= s->n || !s->ds || s->ds->n == 0 || (s->multi_turn && !s->ds->convs)) {
		snprintf(err, errlen, "nothing to send");
		return -EINVAL;
	}
	struct loop L = {.c = c, .s = s, .run = run};
	size_t n_rec = s->n, n_warm_rec = s->n_warmup;
	if (s->multi_turn) {
		/* Every session's turns get their records now, session by session. */
		L.base = malloc((s->n + 1) * sizeof *L.base);
		L.heap = malloc(s->n * sizeof *L.heap);
		L.hist = calloc(s->n, sizeof *L.hist);
		if (!L.base || !L.heap || !L.hist) {
			free(L.base), free(L.heap), free(L.hist);
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		n_rec = 0;
		for (size_t i = 0; i < s->n; i++) {
			L.base[i] = n_rec;
			n_rec += s->ds->convs[(s->first_item + i) % s->ds->n].n;
			lg_buf_init(&L.hist[i], HIST_MAX);
		}
		L.base[s->n] = n_rec;
		n_warm_rec = L.base[s->n_warmup];
		run->multi_turn = true;
	}
	run->rec = calloc(n_rec, sizeof *run->rec);
	if (!run->rec) {
		free(L.base), free(L.heap), free(L.hist);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	run->n = n_rec;
	run->n_warmup = n_warm_rec;
	/* The default 50 us timer slack would show up as arrival lateness. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	/* Room for the inter-token gaps of the tokens asked for, touched before the clock starts:
	 * grown during the run, the store took about 150 page faults a second at 10,000 req/s of
	 * 16 tokens (and a copy at each doubling) inside the measured span. */
	size_t gaps = 0;
	for (size_t i = 0; i < s->n; i++) {
		size_t item = (s->first_item + i) % s->ds->n;
		if (s->multi_turn) {
			const struct lg_conv *cv = &s->ds->convs[item];
			for (size_t k = 0; k < cv->n; k++) {
				int out = s->ds->turns[cv->first + k].output_len;
				gaps += out > 1 ? (size_t)out - 1 : 0;
			}
			continue;
		}
		int out = s->ds->items[item].output_len;
		gaps += out > 1 ? (size_t)out - 1 : 0;
	}
	if (gaps > ITL_PREALLOC_MAX)
		gaps = ITL_PREALLOC_MAX;
	if (gaps && (run->itl_us = malloc(gaps * sizeof *run->itl_us))) {
		memset(run->itl_us, 0xff, gaps * sizeof *run->itl_us); /* not 0: that may become calloc */
		run->cap_itl = gaps;
	}
	for (size_t i = 0; i < s->n; i++)
		for (size_t k = rec_of(&L, i); k < (L.base ? L.base[i + 1] : i + 1); k++) {
			struct lg_record *r = &run->rec[k];
			r->item = (uint32_t)((s->first_item + i) % s->ds->n);
			r->session = (uint32_t)i;
			r->turn = (uint32_t)(k - rec_of(&L, i));
			r->warmup = i < s->n_warmup;
			r->prompt_tokens = -1;
		}
	double cpu0 = thread_cpu_s();
	run->t0 = gops_now_ns() + (s->lead_ns > 0 ? s->lead_ns : 2000000);
	for (size_t i = 0; i < s->n; i++) /* later turns get theirs when the one before ends */
		run->rec[rec_of(&L, i)].t_sched = run->t0 + s->offsets[i];
	int64_t next_report = run->t0 + (s->progress_every_ns > 0 ? s->progress_every_ns : 1000000000);
	int rc = 0;
	for (;;) {
		int64_t now = gops_now_ns();
		unsigned cap = c->o.max_concurrency;
		/* A bounded batch per pass: a client far behind still serves its sockets and notices
		 * how late it is, instead of starting thousands of connections in one go. */
		size_t batch = 0, ri;
		int64_t due;
		bool arrival;
		while (next_due(&L, &ri, &due, &arrival) && due <= now && (!cap || L.active < cap) &&
		       batch++ < LAUNCH_BATCH) {
			int64_t ready = cap && L.last_free > due ? L.last_free : due;
			if (now - ready > LG_MAX_BEHIND_NS) {
				run->client_behind = true;
				break;
			}
			if (arrival)
				L.next++;
			else
				heap_pop(&L);
			if ((rc = launch(&L, ri))) {
				snprintf(err, errlen, "cannot start a request: %s", strerror(-rc));
				goto out;
			}
		}
		if (cap && L.active >= cap && next_due(&L, &ri, &due, &arrival) && due <= now)
			L.blocked = true;
		fire_curl_timers(c, gops_now_ns());
		drain(&L);
		now = gops_now_ns();
		if (s->progress && now >= next_report) {
			report(&L, now);
			next_report = now + (s->progress_every_ns > 0 ? s->progress_every_ns : 1000000000);
		}
		if (run->client_behind)
			break;
		if (L.counted_failed > s->failures_allowed) {
			run->too_many_failures = true;
			break;
		}
		if (s->stop && *s->stop) {
			run->stopped = true;
			break;
		}
		if (L.next == s->n && L.n_heap == 0 && L.active == 0)
			break;
		int64_t deadline = now + (int64_t)POLL_CAP_MS * 1000000;
		if ((!cap || L.active < cap) && next_due(&L, &ri, &due, &arrival) && due < deadline)
			deadline = due;
		deadline = before_curl_timers(c, deadline);
		if (deadline <= now) {
			/* Behind schedule or a libcurl timer due: still look at the sockets, without
			 * sleeping, so that responses keep being read and connections freed while the
			 * client catches up (else every late request opens a new connection). */
			if (wait_events(c, deadline, true) > 0)
				drain(&L);
			continue;
		}
		if (deadline - now <= SPIN_NS) {
			/* Poll until something is ready or the deadline comes, and count the polls
			 * that found nothing as spinning, not as work. */
			int64_t t = now;
			int n;
			while ((n = wait_events(c, deadline, true)) == 0 && (t = gops_now_ns()) < deadline)
				;
			run->spin_s += (double)(t - now) / 1e9;
			if (n > 0)
				drain(&L);
		} else if (wait_events(c, deadline, false) > 0) {
			drain(&L);
		}
	}
	abort_in_flight(&L);
	/* Stopped early, a plateau never reaches its tail: it is closed where the run ends. */
	if (L.steady_open) {
		run->steady_end = L.last_end ? L.last_end : gops_now_ns();
		mark(&L, LG_MARK_STEADY_END, run->steady_end);
	}
	if (L.started)
		mark(&L, LG_MARK_END, L.last_end ? L.last_end : gops_now_ns());
out:
	run->cpu_s = thread_cpu_s() - cpu0;
	if (L.hist)
		for (size_t i = 0; i < s->n; i++)
			lg_buf_release(&L.hist[i]);
	free(L.base), free(L.heap), free(L.hist);
	if (rc)
		lg_run_release(run);
	return rc;
}
