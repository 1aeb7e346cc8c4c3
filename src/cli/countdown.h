/* A countdown on stderr while a verb waits on purpose (idle power being measured): on a
 * terminal "N s left" redrawn each second, otherwise one line when it starts. */
#ifndef GOPS_CLI_COUNTDOWN_H
#define GOPS_CLI_COUNTDOWN_H

struct countdown;

/* Starts counting SECONDS down, the line reading "greenops VERB: WHAT, N s left". Returns
 * NULL when it cannot start a thread (the wait then goes unannounced on a terminal). */
struct countdown *countdown_start(const char *verb, const char *what, double seconds);
/* Stops it and clears the line on a terminal. NULL is allowed. */
void countdown_stop(struct countdown *c);

#endif
