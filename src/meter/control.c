/* The control socket's server thread: accepts any number of clients (every process of a
 * distributed job may connect), splits their bytes into lines and applies each line to the
 * monitor at the moment it arrived (or at the writer's own T_NS). */
#include "meter/control.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define LINE_MAX_LEN 4096
#define MAX_CLIENTS  1024

struct client {
	int fd;
	size_t len;
	bool overlong;
	char buf[LINE_MAX_LEN];
};

struct gops_control {
	gops_monitor *m;
	int listen_fd;
	int wake[2];
	pthread_t thread;
	char dir[256];
	char path[300];
	struct client **cl;
	size_t n_cl;
};

static bool parse_i64(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v <= 0)
		return false;
	*out = v;
	return true;
}

int gops_control_line(gops_monitor *m, const char *line, int64_t now_ns)
{
	char buf[LINE_MAX_LEN];
	gops_strlcpy(buf, line, sizeof buf);
	size_t n = strlen(buf);
	while (n && (buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		buf[--n] = 0;
	char *save = NULL;
	char *verb = strtok_r(buf, " \t", &save);
	char *a1 = verb ? strtok_r(NULL, " \t", &save) : NULL;
	char *a2 = a1 ? strtok_r(NULL, " \t", &save) : NULL;
	char *extra = a2 ? strtok_r(NULL, " \t", &save) : NULL;
	if (!verb || !a1 || extra)
		return -EINVAL;
	if (!strcmp(verb, "begin") || !strcmp(verb, "end")) {
		int64_t t = now_ns;
		if (a2 && !parse_i64(a2, &t))
			return -EINVAL;
		return !strcmp(verb, "begin") ? gops_monitor_begin_window(m, a1, t)
		                              : (gops_monitor_end_window(m, a1, t) < 0 ? -EINVAL : 0);
	}
	if (!strcmp(verb, "units")) {
		char *end;
		double u = strtod(a1, &end);
		if (*end || !(u >= 0) || isinf(u))
			return -EINVAL;
		return gops_monitor_add_units(m, a2, u) < 0 ? -EINVAL : 0;
	}
	if (!strcmp(verb, "tag")) {
		char *eq = strchr(a1, '=');
		if (!eq || eq == a1 || a2)
			return -EINVAL;
		*eq = 0;
		return gops_monitor_tag(m, a1, eq + 1);
	}
	return -EINVAL;
}

static void apply(struct gops_control *c, const char *line, int64_t now)
{
	if (!*line)
		return;
	if (gops_control_line(c->m, line, now) < 0)
		gops_monitor_count_malformed(c->m);
}

/* Returns false when the client is finished (EOF or error). */
static bool serve_client(struct gops_control *c, struct client *cl)
{
	char tmp[8192];
	for (;;) {
		ssize_t r = read(cl->fd, tmp, sizeof tmp);
		int64_t now = gops_now_ns();
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		if (r <= 0) {
			if (cl->len && !cl->overlong) {
				cl->buf[cl->len] = 0;
				apply(c, cl->buf, now);
			}
			return false;
		}
		for (ssize_t i = 0; i < r; i++) {
			char ch = tmp[i];
			if (ch == '\n') {
				if (cl->overlong)
					gops_monitor_count_malformed(c->m);
				else {
					cl->buf[cl->len] = 0;
					apply(c, cl->buf, now);
				}
				cl->len = 0;
				cl->overlong = false;
			} else if (cl->len + 1 < sizeof cl->buf) {
				cl->buf[cl->len++] = ch;
			} else {
				cl->overlong = true;
			}
		}
		if ((size_t)r < sizeof tmp)
			return true;
	}
}

static void drop_client(struct gops_control *c, size_t i)
{
	close(c->cl[i]->fd);
	free(c->cl[i]);
	c->cl[i] = c->cl[--c->n_cl];
}

static void accept_all(struct gops_control *c)
{
	for (;;) {
		int fd = accept4(c->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct client *cl = c->n_cl < MAX_CLIENTS ? calloc(1, sizeof *cl) : NULL;
		if (!cl) {
			close(fd);
			continue;
		}
		cl->fd = fd;
		c->cl[c->n_cl++] = cl;
	}
}

static void *control_main(void *arg)
{
	struct gops_control *c = arg;
	struct pollfd *pfd = calloc(MAX_CLIENTS + 2, sizeof *pfd);
	if (!pfd)
		return NULL;
	bool stopping = false;
	while (!stopping) {
		pfd[0] = (struct pollfd){.fd = c->wake[0], .events = POLLIN};
		pfd[1] = (struct pollfd){.fd = c->listen_fd, .events = POLLIN};
		for (size_t i = 0; i < c->n_cl; i++)
			pfd[i + 2] = (struct pollfd){.fd = c->cl[i]->fd, .events = POLLIN};
		size_t n = c->n_cl;
		if (poll(pfd, n + 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[0].revents)
			stopping = true;
		/* Clients first, in their order, then new connections. */
		for (size_t i = n; i-- > 0;)
			if (pfd[i + 2].revents && !serve_client(c, c->cl[i]))
				drop_client(c, i);
		if (pfd[1].revents || stopping)
			accept_all(c);
	}
	/* Drain: everything already written by clients still counts. */
	for (size_t i = c->n_cl; i-- > 0;) {
		serve_client(c, c->cl[i]);
		drop_client(c, i);
	}
	free(pfd);
	return NULL;
}

int gops_control_start(struct gops_control **out, gops_monitor *m, char *err, size_t errlen)
{
	*out = NULL;
	struct gops_control *c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	c->m = m;
	c->listen_fd = -1;
	c->wake[0] = c->wake[1] = -1;
	c->cl = calloc(MAX_CLIENTS, sizeof *c->cl);
	const char *base = getenv("XDG_RUNTIME_DIR");
	if (!base || access(base, W_OK) != 0)
		base = getenv("TMPDIR");
	if (!base || access(base, W_OK) != 0)
		base = "/tmp";
	snprintf(c->dir, sizeof c->dir, "%s/greenops-XXXXXX", base);
	int e = 0;
	if (!c->cl || !mkdtemp(c->dir)) {
		e = errno ? errno : ENOMEM;
		snprintf(err, errlen, "cannot create a private directory under '%s': %s", base, strerror(e));
		c->dir[0] = 0;
		goto fail;
	}
	snprintf(c->path, sizeof c->path, "%s/control", c->dir);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(c->path) >= sizeof sa.sun_path) {
		e = ENAMETOOLONG;
		snprintf(err, errlen, "control socket path '%s' is too long", c->path);
		goto fail;
	}
	strcpy(sa.sun_path, c->path);
	c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->listen_fd < 0 || bind(c->listen_fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    chmod(c->path, 0600) < 0 || listen(c->listen_fd, 128) < 0 || pipe2(c->wake, O_CLOEXEC) < 0) {
		e = errno;
		snprintf(err, errlen, "cannot create control socket '%s': %s", c->path, strerror(e));
		goto fail;
	}
	e = pthread_create(&c->thread, NULL, control_main, c);
	if (e) {
		snprintf(err, errlen, "cannot start the control thread: %s", strerror(e));
		goto fail;
	}
	*out = c;
	return 0;
fail:
	if (c->listen_fd >= 0)
		close(c->listen_fd);
	if (c->wake[0] >= 0)
		close(c->wake[0]), close(c->wake[1]);
	if (c->path[0])
		unlink(c->path);
	if (c->dir[0])
		rmdir(c->dir);
	free(c->cl);
	free(c);
	return -e;
}

const char *gops_control_path(const struct gops_control *c)
{
	return c->path;
}

void gops_control_stop(struct gops_control *c)
{
	if (!c)
		return;
	ssize_t w;
	do
		w = write(c->wake[1], "x", 1);
	while (w < 0 && errno == EINTR);
	pthread_join(c->thread, NULL);
	close(c->listen_fd);
	close(c->wake[0]);
	close(c->wake[1]);
	unlink(c->path);
	rmdir(c->dir);
	free(c->cl);
	free(c);
}
