/* Running a sweep's children. A run is a child greenops in a process group of its own (so that
 * the terminal's Ctrl-C reaches the sweep first and a time limit can stop the whole tree), with
 * PR_SET_PDEATHSIG so that a sweep killed outright does not leave it running unseen. */
#include "cli/sweep_child.h"

#include "base/util.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

volatile sig_atomic_t sweep_interrupted;

#define GRACE_S 10.0 /* from SIGTERM to SIGKILL when a time limit or an interrupt stops a run */

bool sweep_line_is_oom(const char *line)
{
	static const char *const signs[] = {
	    "out of memory",              /* CUDA, PyTorch ("CUDA out of memory"), the kernel, many more */
	    "OutOfMemoryError",           /* torch.cuda.OutOfMemoryError, java */
	    "CUBLAS_STATUS_ALLOC_FAILED", /* cuBLAS */
	    "CUDNN_STATUS_ALLOC_FAILED",
	    "cudaErrorMemoryAllocation",
	    "RESOURCE_EXHAUSTED", /* TensorFlow, XLA */
	    "std::bad_alloc",
	    "MemoryError", /* Python */
	    "Cannot allocate memory",
	};
	for (size_t i = 0; i < sizeof signs / sizeof signs[0]; i++)
		if (strcasestr(line, signs[i]))
			return true;
	return false;
}

static bool line_is_error(const char *line)
{
	static const char *const signs[] = {"error",  "exception", "fatal", "traceback",
	                                    "failed", "cannot",    "abort"};
	for (size_t i = 0; i < sizeof signs / sizeof signs[0]; i++)
		if (strcasestr(line, signs[i]))
			return true;
	return false;
}

static void copy_line(char *dst, size_t len, const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s))
		s++, n--;
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	if (n >= len)
		n = len - 1;
	memcpy(dst, s, n);
	dst[n] = 0;
}

struct scan {
	char line[1024];
	size_t n;
	struct sweep_child_result *r;
};

static void scan_line(struct scan *sc)
{
	sc->line[sc->n] = 0;
	if (!sc->r->oom_line[0] && sweep_line_is_oom(sc->line))
		copy_line(sc->r->oom_line, sizeof sc->r->oom_line, sc->line, sc->n);
	if (line_is_error(sc->line))
		copy_line(sc->r->error_line, sizeof sc->r->error_line, sc->line, sc->n);
	sc->n = 0;
}

static void take_output(struct scan *sc, const char *buf, size_t n)
{
	struct sweep_child_result *r = sc->r;
	size_t have = strlen(r->tail);
	if (n >= sizeof r->tail - 1) {
		memcpy(r->tail, buf + n - (sizeof r->tail - 1), sizeof r->tail - 1);
		r->tail[sizeof r->tail - 1] = 0;
	} else {
		if (have + n > sizeof r->tail - 1) {
			size_t drop = have + n - (sizeof r->tail - 1);
			memmove(r->tail, r->tail + drop, have - drop + 1);
			have -= drop;
		}
		memcpy(r->tail + have, buf, n);
		r->tail[have + n] = 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == '\n' || sc->n == sizeof sc->line - 1)
			scan_line(sc);
		if (buf[i] != '\n')
			sc->line[sc->n++] = buf[i];
	}
}

static void child_setup(int out_fd)
{
	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE};
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		signal(sigs[i], SIG_DFL);
	int devnull = open("/dev/null", O_RDONLY);
	if (devnull >= 0) {
		dup2(devnull, 0);
		close(devnull);
	}
	dup2(out_fd, 1);
	dup2(out_fd, 2);
	if (out_fd > 2)
		close(out_fd);
}

int sweep_child_run(char *const *argv, double time_limit_s, bool echo, struct sweep_child_result *r)
{
	memset(r, 0, sizeof *r);
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	int64_t start = gops_now_ns();
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return -e;
	}
	if (pid == 0) {
		child_setup(pipefd[1]);
		execv(argv[0], argv);
		fprintf(stderr, "cannot run '%s': %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid); /* also here: no window in which a signal to the group misses it */
	close(pipefd[1]);
	r->pid = pid;
	struct scan sc = {.r = r};
	int64_t deadline = time_limit_s > 0 ? start + (int64_t)(time_limit_s * 1e9) : 0;
	int64_t kill_at = 0;
	bool open_pipe = true, reaped = false;
	while (!reaped) {
		int64_t now = gops_now_ns();
		if (deadline && !r->timed_out && now >= deadline) {
			r->timed_out = true;
			kill(pid, SIGTERM); /* greenops forwards it and keeps what was measured */
			kill_at = now + (int64_t)(GRACE_S * 1e9);
		}
		if (sweep_interrupted && !r->interrupted) {
			r->interrupted = true;
			kill(pid, SIGTERM);
			kill_at = now + (int64_t)(GRACE_S * 1e9);
		}
		if (kill_at && now >= kill_at) {
			kill(-pid, SIGKILL);
			kill_at = 0;
		}
		if (open_pipe) {
			struct pollfd pfd = {.fd = pipefd[0], .events = POLLIN};
			int pr = poll(&pfd, 1, 100);
			if (pr > 0) {
				char buf[4096];
				ssize_t got = read(pipefd[0], buf, sizeof buf);
				if (got > 0) {
					take_output(&sc, buf, (size_t)got);
					if (echo && write(2, buf, (size_t)got) < 0)
						echo = false;
				} else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
					open_pipe = false;
				}
			}
		} else {
			usleep(20000);
		}
		/* The pipe may stay open after the child exits (a grandchild holding it): the
		 * child's own exit ends the run. */
		pid_t w = waitpid(pid, &r->wait_status, WNOHANG);
		if (w == pid)
			reaped = true;
	}
	/* Whatever is still buffered in the pipe, without waiting for stray holders. */
	fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
	char buf[4096];
	ssize_t got;
	while ((got = read(pipefd[0], buf, sizeof buf)) > 0)
		take_output(&sc, buf, (size_t)got);
	if (sc.n)
		scan_line(&sc);
	close(pipefd[0]);
	/* Anything left of its process group (a workload that ignored SIGTERM) goes too. */
	kill(-pid, SIGKILL);
	r->duration_s = (double)(gops_now_ns() - start) / 1e9;
	return 0;
}

/* --- services ------------------------------------------------------------------------ */

int sweep_service_start(char *const *argv, struct sweep_service_proc *s, char *err, size_t errlen)
{
	memset(s, 0, sizeof *s);
	const char *tmp = getenv("TMPDIR");
	snprintf(s->log_path, sizeof s->log_path, "%s/greenops-service-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	int fd = mkostemp(s->log_path, O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create the service's log '%s': %s", s->log_path,
		         strerror(errno));
		return -errno;
	}
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(fd);
		unlink(s->log_path);
		snprintf(err, errlen, "cannot start the service: %s", strerror(e));
		return -e;
	}
	if (pid == 0) {
		child_setup(fd);
		execvp(argv[0], argv);
		fprintf(stderr, "cannot run '%s': %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);
	close(fd);
	s->pid = pid;
	return 0;
}

bool sweep_service_alive(struct sweep_service_proc *s)
{
	if (s->exited || s->pid <= 0)
		return false;
	if (waitpid(s->pid, &s->wait_status, WNOHANG) == s->pid)
		s->exited = true;
	return !s->exited;
}

static bool log_has(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	char line[4096];
	bool found = false;
	while (!found && fgets(line, sizeof line, f))
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

static size_t discard(char *ptr, size_t size, size_t n, void *ctx)
{
	(void)ptr;
	(void)ctx;
	return size * n;
}

static bool url_answers(CURL *h)
{
	if (curl_easy_perform(h) != CURLE_OK)
		return false;
	long code = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	return code >= 200 && code < 300;
}

void sweep_service_last_line(const struct sweep_service_proc *s, char *buf, size_t len)
{
	buf[0] = 0;
	FILE *f = fopen(s->log_path, "r");
	if (!f)
		return;
	char line[1024];
	while (fgets(line, sizeof line, f))
		if (line[strspn(line, " \t\r\n")])
			copy_line(buf, len, line, strlen(line));
	fclose(f);
}

static void describe_exit(int st, char *buf, size_t len)
{
	if (WIFSIGNALED(st))
		snprintf(buf, len, "killed by signal %d", WTERMSIG(st));
	else
		snprintf(buf, len, "exit status %d", WEXITSTATUS(st));
}

int sweep_service_wait_ready(struct sweep_service_proc *s, const char *url, const char *log_line,
                             double timeout_s, char *err, size_t errlen)
{
	CURL *h = NULL;
	if (url) {
		h = curl_easy_init();
		if (!h) {
			snprintf(err, errlen, "cannot set up an HTTP client");
			return -ENOMEM;
		}
		curl_easy_setopt(h, CURLOPT_URL, url);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 2000L);
		curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	}
	int64_t deadline = gops_now_ns() + (int64_t)(timeout_s * 1e9);
	int rc = -ETIMEDOUT;
	for (;;) {
		if ((url && url_answers(h)) || (log_line && log_has(s->log_path, log_line))) {
			rc = 0;
			break;
		}
		if (!sweep_service_alive(s)) {
			char how[64], last[200];
			describe_exit(s->wait_status, how, sizeof how);
			sweep_service_last_line(s, last, sizeof last);
			snprintf(err, errlen, "the service ended before it was ready (%s)%s%s", how,
			         last[0] ? ": " : "", last);
			rc = -ECHILD;
			break;
		}
		if (sweep_interrupted) {
			snprintf(err, errlen, "interrupted while waiting for the service");
			rc = -EINTR;
			break;
		}
		if (gops_now_ns() >= deadline) {
			snprintf(err, errlen, "the service was not ready after %g s (waiting for %s%s%s)",
			         timeout_s, url ? url : "the log line '", url ? "" : log_line,
			         url ? "" : "'");
			break;
		}
		usleep(100000);
	}
	if (h)
		curl_easy_cleanup(h);
	return rc;
}

void sweep_service_stop(struct sweep_service_proc *s, double stop_timeout_s, bool *clean, char *how,
                        size_t howlen)
{
	*clean = false;
	if (s->pid <= 0)
		return;
	if (sweep_service_alive(s)) {
		kill(-s->pid, SIGTERM);
		int64_t deadline = gops_now_ns() + (int64_t)(stop_timeout_s * 1e9);
		while (sweep_service_alive(s) && gops_now_ns() < deadline)
			usleep(20000);
		if (!s->exited) {
			kill(-s->pid, SIGKILL);
			waitpid(s->pid, &s->wait_status, 0);
			s->exited = true;
			snprintf(how, howlen, "did not stop within %g s of SIGTERM: killed", stop_timeout_s);
		} else {
			*clean = (WIFEXITED(s->wait_status) && WEXITSTATUS(s->wait_status) == 0) ||
			         (WIFSIGNALED(s->wait_status) && WTERMSIG(s->wait_status) == SIGTERM) ||
			         (WIFEXITED(s->wait_status) && WEXITSTATUS(s->wait_status) == 128 + SIGTERM);
			char st[64];
			describe_exit(s->wait_status, st, sizeof st);
			snprintf(how, howlen, "stopped on SIGTERM (%s)", st);
		}
	} else {
		char st[64];
		describe_exit(s->wait_status, st, sizeof st);
		snprintf(how, howlen, "had already ended (%s)", st);
	}
	kill(-s->pid, SIGKILL); /* anything it left behind in its group */
	unlink(s->log_path);
	s->pid = 0;
}

int sweep_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	int rc = -EADDRNOTAVAIL;
	if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		rc = ntohs(a.sin_port);
	close(fd);
	return rc;
}
