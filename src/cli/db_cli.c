/* Helpers of the database verbs: opening with a printed error, option parsing, formatting. */
#include "cli/db_cli.h"
#include "base/fmt.h"
#include "cli/commands.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int db_cli_open(const char *verb, const char *path, unsigned flags, struct gops_db **out)
{
	char err[512];
	int rc = gops_db_open(out, path, flags, err, sizeof err);
	if (rc)
		cmd_error(verb, "%s", err);
	return rc;
}

int db_cli_close(const char *verb, struct gops_db *db)
{
	char err[512];
	int rc = gops_db_close(db, err, sizeof err);
	if (rc)
		cmd_error(verb, "%s", err);
	return rc;
}

bool db_cli_tag_add(const char *verb, struct db_cli_tags *t, char *arg, bool allow_key_only)
{
	char *eq = strchr(arg, '=');
	if (eq == arg || !*arg || (!eq && !allow_key_only)) {
		cmd_usage_error(verb, "invalid value '%s' for --tag (expected KEY=VALUE%s)", arg,
		                allow_key_only ? " or KEY" : "");
		return false;
	}
	struct gops_tag *v = realloc(t->v, (t->n + 1) * sizeof *v);
	if (!v)
		abort();
	t->v = v;
	if (eq)
		*eq = 0;
	t->v[t->n].key = arg;
	t->v[t->n++].value = eq ? eq + 1 : NULL;
	return true;
}

void db_cli_tags_release(struct db_cli_tags *t)
{
	free(t->v);
	t->v = NULL;
	t->n = 0;
}

bool db_cli_parse_run(const char *verb, const char *arg, int64_t *id)
{
	if (!strcmp(arg, "last")) {
		*id = GOPS_DB_LAST;
		return true;
	}
	char *end;
	errno = 0;
	long long v = strtoll(arg, &end, 10);
	if (errno || end == arg || *end || v <= 0) {
		cmd_usage_error(verb, "invalid run '%s' (expected a run id from 'greenops runs', or 'last')",
		                arg);
		return false;
	}
	*id = v;
	return true;
}

bool db_cli_parse_count(const char *verb, const char *name, const char *arg, size_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(arg, &end, 10);
	if (errno || end == arg || *end || v < 0) {
		cmd_usage_error(verb, "invalid value '%s' for --%s (expected a whole number, 0 or more)", arg,
		                name);
		return false;
	}
	*out = (size_t)v;
	return true;
}

const char *db_cli_energy(double j, char *buf, size_t len)
{
	return gops_fmt_si(buf, len, j, "J", 4);
}

const char *db_cli_duration(double s, char *buf, size_t len)
{
	if (isnan(s) || s < 0)
		snprintf(buf, len, "-");
	else if (s < 60)
		snprintf(buf, len, "%.2f s", s);
	else if (s < 3600)
		snprintf(buf, len, "%dm%04.1fs", (int)(s / 60), fmod(s, 60));
	else
		snprintf(buf, len, "%dh%02dm", (int)(s / 3600), (int)fmod(s, 3600) / 60);
	return buf;
}

static bool needs_quotes(const char *s)
{
	if (!*s)
		return true;
	for (; *s; s++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%", *s) &&
		    !(*s & 0x80))
			return true;
	return false;
}

char *db_cli_command_line(char *const *argv, size_t argc)
{
	size_t cap = 1;
	for (size_t i = 0; i < argc; i++)
		cap += strlen(argv[i]) * 4 + 3;
	char *out = malloc(cap);
	if (!out)
		abort();
	size_t o = 0;
	for (size_t i = 0; i < argc; i++) {
		if (i)
			out[o++] = ' ';
		if (!needs_quotes(argv[i])) {
			o += (size_t)sprintf(out + o, "%s", argv[i]);
			continue;
		}
		out[o++] = '\'';
		for (const char *p = argv[i]; *p; p++)
			if (*p == '\'')
				o += (size_t)sprintf(out + o, "'\\''");
			else
				out[o++] = *p;
		out[o++] = '\'';
	}
	out[o] = 0;
	return out;
}

const char *db_cli_status(const struct gops_db_run *r, char *buf, size_t len)
{
	if (r->lost)
		snprintf(buf, len, "lost");
	else if (r->signal)
		snprintf(buf, len, "%s (signal %d)", gops_run_status_name(r->status), r->signal);
	else if (r->status != GOPS_RUN_RUNNING && r->exit_status > 0)
		snprintf(buf, len, "%s (exit %d)", gops_run_status_name(r->status), r->exit_status);
	else
		snprintf(buf, len, "%s", gops_run_status_name(r->status));
	return buf;
}

const char *db_cli_local_time(int64_t realtime_ns, bool seconds, char *buf, size_t len)
{
	time_t t = (time_t)(realtime_ns / 1000000000);
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(buf, len, seconds ? "%Y-%m-%d %H:%M:%S" : "%Y-%m-%d %H:%M", &tm);
	return buf;
}
