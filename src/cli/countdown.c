/* The countdown of a deliberate wait (see countdown.h): a thread that redraws one line. */
#include "cli/countdown.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

struct countdown {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* on CLOCK_MONOTONIC */
	bool stop;
	const char *verb, *what;
	struct timespec end;
};

static void *tick(void *arg)
{
	struct countdown *c = arg;
	pthread_mutex_lock(&c->lock);
	while (!c->stop) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		double left = (double)(c->end.tv_sec - now.tv_sec) + (c->end.tv_nsec - now.tv_nsec) / 1e9;
		if (left < 0)
			left = 0;
		fprintf(stderr, "\rgreenops %s: %s, %.0f s left \033[K", c->verb, c->what, ceil(left));
		/* Wake at the next whole second left, or when stopped. */
		double frac = left - floor(left);
		struct timespec wake = now;
		long ns = (long)((frac > 0.001 ? frac : 1.0) * 1e9);
		wake.tv_nsec += ns;
		wake.tv_sec += wake.tv_nsec / 1000000000L;
		wake.tv_nsec %= 1000000000L;
		while (!c->stop && pthread_cond_timedwait(&c->cond, &c->lock, &wake) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

struct countdown *countdown_start(const char *verb, const char *what, double seconds)
{
	if (!isatty(STDERR_FILENO)) {
		fprintf(stderr, "greenops %s: %s for %g s\n", verb, what, seconds);
		return NULL;
	}
	struct countdown *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->verb = verb;
	c->what = what;
	clock_gettime(CLOCK_MONOTONIC, &c->end);
	double whole = floor(seconds);
	c->end.tv_sec += (time_t)whole;
	c->end.tv_nsec += (long)((seconds - whole) * 1e9);
	c->end.tv_sec += c->end.tv_nsec / 1000000000L;
	c->end.tv_nsec %= 1000000000L;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&c->lock, NULL);
	if (pthread_create(&c->thread, NULL, tick, c) != 0) {
		pthread_cond_destroy(&c->cond);
		pthread_mutex_destroy(&c->lock);
		free(c);
		return NULL;
	}
	return c;
}

void countdown_stop(struct countdown *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	fprintf(stderr, "\r\033[K");
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
