/* Shared by the verbs that read the results database (runs, show, export-csv) and by idle:
 * opening it with a printed error, --tag and run-id parsing, and human formatting. */
#ifndef GOPS_CLI_DB_CLI_H
#define GOPS_CLI_DB_CLI_H

#include "store/db.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Opens the database (path NULL: the default); prints "greenops VERB: ..." and returns a
 * negative errno on failure. */
int db_cli_open(const char *verb, const char *path, unsigned flags, struct gops_db **out);
/* Closes; prints a write error that was not reported yet. Returns 0 or a negative errno. */
int db_cli_close(const char *verb, struct gops_db *db);

/* Tags given with --tag, parsed in place from argv strings: KEY=VALUE, or KEY alone (any
 * value) when allow_key_only. Prints a usage error and returns false on bad input. */
struct db_cli_tags {
	struct gops_tag *v;
	size_t n;
};
bool db_cli_tag_add(const char *verb, struct db_cli_tags *t, char *arg, bool allow_key_only);
void db_cli_tags_release(struct db_cli_tags *t);

/* A run id as `greenops runs` prints it, or "last". */
bool db_cli_parse_run(const char *verb, const char *arg, int64_t *id);
bool db_cli_parse_count(const char *verb, const char *name, const char *arg, size_t *out);

const char *db_cli_energy(double j, char *buf, size_t len);
const char *db_cli_duration(double s, char *buf, size_t len);
/* argv as one shell-like line, quoting arguments that need it. Caller frees. */
char *db_cli_command_line(char *const *argv, size_t argc);
/* "completed", "completed (exit 3)", "interrupted (signal 2)", "lost", ... */
const char *db_cli_status(const struct gops_db_run *r, char *buf, size_t len);
/* Local date and time of a wall-clock instant, "2026-11-26 10:40:55". */
const char *db_cli_local_time(int64_t realtime_ns, bool seconds, char *buf, size_t len);

#endif
