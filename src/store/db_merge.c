/* greenops merge's engine: copies the runs of one results database into another through
 * SQLite's ATTACH, table by table, with every id renumbered through temporary maps. The
 * columns copied are those both files have, so a table that gains a column in a later
 * migration is still copied whole once both files are migrated. */
#include "store/db_merge.h"
#include "store/db.h"

#include "base/util.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct merge {
	sqlite3 *conn;
	const char *dst, *src;
	char *err;
	size_t errlen;
};

static int fail(struct merge *m, const char *what)
{
	snprintf(m->err, m->errlen, "cannot merge '%s' into '%s': %s: %s", m->src, m->dst, what,
	         sqlite3_errmsg(m->conn));
	int rc = sqlite3_errcode(m->conn);
	return rc == SQLITE_BUSY || rc == SQLITE_LOCKED ? -EBUSY : -EIO;
}

static int exec(struct merge *m, const char *sql, const char *what)
{
	return sqlite3_exec(m->conn, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : fail(m, what);
}

static bool in_list(const char *name, const char *const *list)
{
	for (; list && *list; list++)
		if (!strcmp(name, *list))
			return true;
	return false;
}

/* The columns of TABLE that both files have, except those in skip: "a, b" for the INSERT
 * and "s.a, s.b" for the SELECT. */
static int common_columns(struct merge *m, const char *table, const char *const *skip, char **ins, char **sel)
{
	char *sql = gops_xasprintf("SELECT name FROM pragma_table_info('%s', 'main') WHERE name IN "
	                           "(SELECT name FROM pragma_table_info('%s', 'src')) ORDER BY cid",
	                           table, table);
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(m->conn, sql, -1, &st, NULL);
	free(sql);
	if (rc != SQLITE_OK)
		return fail(m, "read the columns");
	*ins = gops_xstrdup("");
	*sel = gops_xstrdup("");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *c = (const char *)sqlite3_column_text(st, 0);
		if (in_list(c, skip))
			continue;
		char *i = gops_xasprintf("%s, \"%s\"", *ins, c), *s = gops_xasprintf("%s, s.\"%s\"", *sel, c);
		free(*ins), free(*sel);
		*ins = i, *sel = s;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		free(*ins), free(*sel);
		return fail(m, "read the columns");
	}
	return 0;
}

/* INSERT INTO main.TABLE (keys, common columns) SELECT key_exprs, s.common FROM src.TABLE s
 * FROM_REST: the keys are the columns that refer to other tables, mapped in from_rest. */
static int copy_table(struct merge *m, const char *table, const char *const *keys, const char *key_exprs,
                      const char *from_rest)
{
	char *ins = NULL, *sel = NULL;
	int rc = common_columns(m, table, keys, &ins, &sel);
	if (rc)
		return rc;
	char *key_list = gops_xstrdup("");
	for (const char *const *k = keys; *k; k++) {
		char *n = gops_xasprintf("%s%s\"%s\"", key_list, *key_list ? ", " : "", *k);
		free(key_list);
		key_list = n;
	}
	char *sql = gops_xasprintf("INSERT INTO main.\"%s\" (%s%s) SELECT %s%s FROM src.\"%s\" s %s", table,
	                           key_list, ins, key_exprs, sel, table, from_rest);
	char *what = gops_xasprintf("copy %s", table);
	rc = exec(m, sql, what);
	free(what), free(sql), free(key_list), free(ins), free(sel);
	return rc;
}

static int count(struct merge *m, const char *sql, size_t *n)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(m->conn, sql, -1, &st, NULL) != SQLITE_OK)
		return fail(m, "count rows");
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*n = (size_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : fail(m, "count rows");
}

/* A temporary table from the source's ids to the destination's, filled by the SELECT that
 * follows. */
#define MAP_TABLE(name)                                                                                      \
	"CREATE TEMP TABLE " name " (old INTEGER PRIMARY KEY, new INTEGER NOT NULL); INSERT INTO " name " "

/* Each step maps the source's ids to the destination's before the rows that refer to them
 * are copied. Hosts and devices are matched by their unique keys; runs by what makes a run
 * the same run; windows and serve-bench runs by (run, position). */
static const char *const map_steps[][2] = {
    {"map hosts", "INSERT OR IGNORE INTO main.hosts (hostname, machine_id, first_seen) "
                  "SELECT hostname, machine_id, first_seen FROM src.hosts;" MAP_TABLE(
                      "host_map") "SELECT s.id, h.id FROM src.hosts s JOIN main.hosts h "
                                  "ON h.hostname = s.hostname AND h.machine_id = s.machine_id"},
    {"map devices",
     "INSERT OR IGNORE INTO main.devices (host_id, domain, source, kind, label, first_seen) "
     "SELECT hm.new, s.domain, s.source, s.kind, s.label, s.first_seen FROM src.devices s "
     "JOIN host_map hm ON hm.old = s.host_id;" MAP_TABLE(
         "device_map") "SELECT s.id, d.id FROM src.devices s JOIN host_map hm ON hm.old = s.host_id "
                       "JOIN main.devices d ON d.host_id = hm.new AND d.domain = s.domain AND d.source = "
                       "s.source "
                       "AND d.label = s.label"},
    {"map runs",
     MAP_TABLE("run_map") "SELECT s.id, (SELECT COALESCE(MAX(id), 0) FROM main.runs) + "
                          "row_number() OVER (ORDER BY s.id) FROM src.runs s JOIN host_map hm ON hm.old = "
                          "s.host_id "
                          "WHERE NOT EXISTS (SELECT 1 FROM main.runs r WHERE r.host_id = hm.new "
                          "AND r.started_ns = s.started_ns AND r.pid IS s.pid AND r.command = s.command)"},
};

/* Rows of a run's table (windows, serve-bench runs) match by (run, position), once the runs
 * are copied. */
static int map_by_position(struct merge *m, const char *table, const char *map, const char *what)
{
	char *sql = gops_xasprintf(MAP_TABLE("%s") "SELECT s.id, x.id FROM src.%s s JOIN run_map rm ON "
	                                           "rm.old = s.run_id JOIN main.%s x ON x.run_id = rm.new "
	                                           "AND x.position = s.position",
	                           map, map, table, table);
	int rc = exec(m, sql, what);
	free(sql);
	return rc;
}

static int copy_all(struct merge *m)
{
	static const char *const baseline_keys[] = {"id", "device_id", NULL};
	static const char *const run_keys[] = {"id", "host_id", NULL};
	static const char *const tag_keys[] = {"run_id", NULL};
	static const char *const domain_keys[] = {"run_id", "device_id", NULL};
	static const char *const window_keys[] = {"id", "run_id", NULL};
	static const char *const wdomain_keys[] = {"window_id", NULL};
	static const char *const bench_keys[] = {"id", "run_id", NULL};
	static const char *const request_keys[] = {"bench_run_id", NULL};
	int rc;
	for (size_t i = 0; i < sizeof map_steps / sizeof map_steps[0]; i++)
		if ((rc = exec(m, map_steps[i][1], map_steps[i][0])))
			return rc;
	if ((rc = copy_table(
	         m, "baselines", baseline_keys, "NULL, dm.new",
	         "JOIN device_map dm ON dm.old = s.device_id WHERE NOT EXISTS (SELECT 1 FROM "
	         "main.baselines b WHERE b.device_id = dm.new AND b.measured_ns = s.measured_ns)")) ||
	    (rc = copy_table(m, "runs", run_keys, "rm.new, hm.new",
	                     "JOIN run_map rm ON rm.old = s.id JOIN host_map hm ON hm.old = s.host_id")) ||
	    (rc = copy_table(m, "run_tags", tag_keys, "rm.new", "JOIN run_map rm ON rm.old = s.run_id")) ||
	    (rc = copy_table(
	         m, "run_domains", domain_keys, "rm.new, dm.new",
	         "JOIN run_map rm ON rm.old = s.run_id JOIN device_map dm ON dm.old = s.device_id")) ||
	    (rc = copy_table(m, "windows", window_keys, "NULL, rm.new",
	                     "JOIN run_map rm ON rm.old = s.run_id")) ||
	    (rc = map_by_position(m, "windows", "window_map", "map windows")) ||
	    (rc = copy_table(m, "window_domains", wdomain_keys, "wm.new",
	                     "JOIN window_map wm ON wm.old = s.window_id")) ||
	    (rc = copy_table(m, "samples", tag_keys, "rm.new", "JOIN run_map rm ON rm.old = s.run_id")) ||
	    (rc = copy_table(m, "bench_runs", bench_keys, "NULL, rm.new",
	                     "JOIN run_map rm ON rm.old = s.run_id")) ||
	    (rc = map_by_position(m, "bench_runs", "bench_map", "map serve-bench runs")) ||
	    (rc = copy_table(m, "requests", request_keys, "bm.new",
	                     "JOIN bench_map bm ON bm.old = s.bench_run_id")))
		return rc;
	return 0;
}

/* Opening through gops_db_open brings both files to the current schema (and creates dst). */
static int migrate(const char *path, unsigned flags, char *err, size_t errlen)
{
	struct gops_db *db;
	int rc = gops_db_open(&db, path, flags, err, errlen);
	if (rc)
		return rc;
	return gops_db_close(db, err, errlen);
}

int gops_db_merge(const char *dst_path, const char *src_path, struct gops_db_merge_stats *stats, char *err,
                  size_t errlen)
{
	struct merge m = {.dst = dst_path, .src = src_path, .err = err, .errlen = errlen};
	memset(stats, 0, sizeof *stats);
	int rc = migrate(src_path, GOPS_DB_NO_CREATE, err, errlen);
	if (rc == -ENOENT)
		snprintf(err, errlen, "cannot merge '%s': no such database", src_path);
	if (rc || (rc = migrate(dst_path, 0, err, errlen)))
		return rc;
	if (sqlite3_open_v2(dst_path, &m.conn, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		rc = fail(&m, "open");
		sqlite3_close(m.conn);
		return rc;
	}
	sqlite3_busy_timeout(m.conn, 10000);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(m.conn, "ATTACH DATABASE ? AS src", -1, &st, NULL) != SQLITE_OK) {
		rc = fail(&m, "attach");
		goto out;
	}
	sqlite3_bind_text(st, 1, src_path, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		rc = fail(&m, "attach");
		goto out;
	}
	if ((rc = exec(&m, "PRAGMA foreign_keys = ON; BEGIN IMMEDIATE", "lock the destination")))
		goto out;
	if ((rc = copy_all(&m)) || (rc = count(&m, "SELECT COUNT(*) FROM run_map", &stats->runs_copied)) ||
	    (rc = count(&m, "SELECT (SELECT COUNT(*) FROM src.runs) - (SELECT COUNT(*) FROM run_map)",
	                &stats->runs_present))) {
		sqlite3_exec(m.conn, "ROLLBACK", NULL, NULL, NULL);
		goto out;
	}
	rc = exec(&m, "COMMIT", "commit");
out:
	sqlite3_close(m.conn);
	return rc;
}
