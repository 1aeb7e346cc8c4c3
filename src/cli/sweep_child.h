/* The processes of a sweep: one run (a child greenops, its output captured and scanned for the
 * signs of a failure, a time limit kept) and a service (started in its own process group,
 * waited for until ready, stopped with SIGTERM then SIGKILL). */
#ifndef GOPS_CLI_SWEEP_CHILD_H
#define GOPS_CLI_SWEEP_CHILD_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Set by the sweep's SIGINT/SIGTERM handler: the run in flight is stopped and kept pending. */
extern volatile sig_atomic_t sweep_interrupted;

#define SWEEP_TAIL_BYTES 4096

struct sweep_child_result {
	pid_t pid;
	int wait_status;             /* from waitpid */
	bool timed_out;              /* the time limit stopped it */
	bool interrupted;            /* the sweep was interrupted while it ran */
	double duration_s;           /* wall time */
	char tail[SWEEP_TAIL_BYTES]; /* the last bytes of its output */
	char oom_line[256];          /* the first line that says it ran out of memory; "" none */
	char error_line[256];        /* the last line that looks like an error; "" none */
};

/* Runs argv (argv[0] a path) with stdout and stderr captured, echoed to stderr when echo.
 * time_limit_s 0: none. Returns 0 once it ended (whatever its status), -errno when it could not
 * be started. */
int sweep_child_run(char *const *argv, double time_limit_s, bool echo, struct sweep_child_result *r);

/* Classifies what the output says: 1 when a line tells of running out of memory (CUDA, PyTorch,
 * TensorFlow, cuBLAS/cuDNN, the C++ and Python allocators). */
bool sweep_line_is_oom(const char *line);

struct sweep_service_proc {
	pid_t pid;
	char log_path[256]; /* its stdout and stderr */
	bool exited;
	int wait_status;
};

/* Starts argv with its output going to a log file of its own. */
int sweep_service_start(char *const *argv, struct sweep_service_proc *s, char *err, size_t errlen);
/* Waits until url answers 2xx, or log_line appears in its output, or timeout_s passes, or it
 * exits. 0 ready; -ETIMEDOUT, -ECHILD (it exited) or -EINTR with a message. */
int sweep_service_wait_ready(struct sweep_service_proc *s, const char *url, const char *log_line,
                             double timeout_s, char *err, size_t errlen);
/* true while it runs (reaps it otherwise). */
bool sweep_service_alive(struct sweep_service_proc *s);
/* SIGTERM to its group, then SIGKILL after stop_timeout_s. Sets *clean when it exited by itself
 * after SIGTERM (status 0 or the signal). Removes the log. */
void sweep_service_stop(struct sweep_service_proc *s, double stop_timeout_s, bool *clean, char *how,
                        size_t howlen);
/* The last line of its log (for messages). */
void sweep_service_last_line(const struct sweep_service_proc *s, char *buf, size_t len);

/* A free TCP port on 127.0.0.1 (bound, read back and released). */
int sweep_free_port(void);

#endif
