/* Migrations of the results database, oldest first. Times are stored twice: as ISO 8601
 * UTC text for people and pandas, and as integer nanoseconds where results are rebuilt.
 * NAN values become NULL. Sweeps (plans and their runs) came in migration 2. */
#include "store/db_schema.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define DOMAIN_RESULT_COLUMNS                                                                                \
	"	method TEXT NOT NULL,\n"                                                                           \
	"	summed INTEGER NOT NULL,\n"                                                                        \
	"	energy_j REAL,\n"                                                                                  \
	"	dynamic_energy_j REAL,\n"                                                                          \
	"	idle_power_w REAL,\n"                                                                              \
	"	avg_power_w REAL,\n"                                                                               \
	"	peak_power_w REAL,\n"                                                                              \
	"	uncertainty_j REAL,\n"                                                                             \
	"	integrated_energy_j REAL,\n"                                                                       \
	"	update_period_s REAL,\n"                                                                           \
	"	warnings TEXT NOT NULL DEFAULT '[]',\n"

#define STATUS_CHECK "CHECK (status IN ('running', 'completed', 'interrupted', 'failed'))"

static const char schema_v1[] =
    "CREATE TABLE hosts (\n"
    "	id INTEGER PRIMARY KEY,\n"
    "	hostname TEXT NOT NULL,\n"
    "	machine_id TEXT NOT NULL,\n"
    "	first_seen TEXT NOT NULL,\n"
    "	UNIQUE (hostname, machine_id)\n"
    ");\n"
    "CREATE TABLE devices (\n"
    "	id INTEGER PRIMARY KEY,\n"
    "	host_id INTEGER NOT NULL REFERENCES hosts (id),\n"
    "	domain TEXT NOT NULL,\n"
    "	source TEXT NOT NULL,\n"
    "	kind TEXT NOT NULL,\n"
    "	label TEXT NOT NULL,\n"
    "	first_seen TEXT NOT NULL,\n"
    "	UNIQUE (host_id, domain, source, label)\n"
    ");\n"
    "CREATE TABLE baselines (\n"
    "	id INTEGER PRIMARY KEY,\n"
    "	device_id INTEGER NOT NULL REFERENCES devices (id),\n"
    "	mean_w REAL NOT NULL,\n"
    "	spread_w REAL,\n"
    "	duration_s REAL NOT NULL,\n"
    "	n_samples INTEGER NOT NULL,\n"
    "	measured_at TEXT NOT NULL,\n"
    "	measured_ns INTEGER NOT NULL\n"
    ");\n"
    "CREATE INDEX baselines_by_device ON baselines (device_id, measured_ns);\n"
    "CREATE TABLE runs (\n"
    "	id INTEGER PRIMARY KEY,\n"
    "	host_id INTEGER NOT NULL REFERENCES hosts (id),\n"
    "	kind TEXT NOT NULL DEFAULT 'run',\n"
    "	command TEXT NOT NULL,\n"
    "	cwd TEXT,\n"
    "	pid INTEGER,\n"
    "	boot_id TEXT,\n"
    "	started_at TEXT NOT NULL,\n"
    "	started_ns INTEGER NOT NULL,\n"
    "	ended_at TEXT,\n"
    "	duration_s REAL,\n"
    "	exit_status INTEGER,\n"
    "	signal INTEGER,\n"
    "	status TEXT NOT NULL DEFAULT 'running' " STATUS_CHECK ",\n"
    "	version TEXT NOT NULL,\n"
    "	options TEXT NOT NULL DEFAULT '{}',\n"
    "	energy_j REAL,\n"
    "	dynamic_energy_j REAL,\n"
    "	uncertainty_j REAL,\n"
    "	units REAL,\n"
    "	energy_per_unit_j REAL,\n"
    "	idle_source TEXT,\n"
    "	carbon_g_per_kwh REAL,\n"
    "	pue REAL,\n"
    "	price_per_kwh REAL,\n"
    "	currency TEXT,\n"
    "	malformed_control_lines INTEGER NOT NULL DEFAULT 0,\n"
    "	warnings TEXT NOT NULL DEFAULT '[]'\n"
    ");\n"
    "CREATE INDEX runs_by_start ON runs (started_ns);\n"
    "CREATE TABLE run_tags (\n"
    "	run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,\n"
    "	key TEXT NOT NULL,\n"
    "	value TEXT NOT NULL,\n"
    "	PRIMARY KEY (run_id, key)\n"
    ") WITHOUT ROWID;\n"
    "CREATE INDEX run_tags_by_key ON run_tags (key, value);\n"
    "CREATE TABLE run_domains (\n"
    "	run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,\n"
    "	position INTEGER NOT NULL,\n"
    "	device_id INTEGER NOT NULL REFERENCES devices (id),\n"
    "	domain TEXT NOT NULL,\n" DOMAIN_RESULT_COLUMNS "	PRIMARY KEY (run_id, position)\n"
    ");\n"
    "CREATE TABLE windows (\n"
    "	id INTEGER PRIMARY KEY,\n"
    "	run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,\n"
    "	position INTEGER NOT NULL,\n"
    "	name TEXT NOT NULL,\n"
    "	start_s REAL,\n"
    "	end_s REAL,\n"
    "	units REAL,\n"
    "	energy_j REAL,\n"
    "	dynamic_energy_j REAL,\n"
    "	energy_per_unit_j REAL,\n"
    "	uncertainty_j REAL,\n"
    "	open INTEGER NOT NULL DEFAULT 0,\n"
    "	warnings TEXT NOT NULL DEFAULT '[]',\n"
    "	UNIQUE (run_id, position)\n"
    ");\n"
    "CREATE TABLE window_domains (\n"
    "	window_id INTEGER NOT NULL REFERENCES windows (id) ON DELETE CASCADE,\n"
    "	position INTEGER NOT NULL,\n"
    "	domain TEXT NOT NULL,\n" DOMAIN_RESULT_COLUMNS "	PRIMARY KEY (window_id, position)\n"
    ");\n"
    "CREATE TABLE samples (\n"
    "	run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,\n"
    "	t_s REAL NOT NULL,\n"
    "	domain TEXT NOT NULL,\n"
    "	watts REAL,\n"
    "	counter_j REAL\n"
    ");\n"
    "CREATE INDEX samples_by_run ON samples (run_id, t_s);\n"
    "CREATE TABLE bench_runs (\n"
    "	id INTEGER PRIMARY KEY,\n"
    "	run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,\n"
    "	position INTEGER NOT NULL,\n"
    "	rate REAL NOT NULL,\n"
    "	status TEXT NOT NULL DEFAULT 'running' " STATUS_CHECK ",\n"
    "	started_at TEXT NOT NULL,\n"
    "	duration_s REAL,\n"
    "	completed INTEGER,\n"
    "	failed INTEGER,\n"
    "	request_throughput REAL,\n"
    "	output_token_throughput REAL,\n"
    "	total_output_tokens INTEGER,\n"
    "	energy_j REAL,\n"
    "	dynamic_energy_j REAL,\n"
    "	energy_per_request_j REAL,\n"
    "	energy_per_output_token_j REAL,\n"
    "	metrics TEXT NOT NULL DEFAULT '{}',\n"
    "	UNIQUE (run_id, position)\n"
    ");\n"
    "CREATE TABLE requests (\n"
    "	bench_run_id INTEGER NOT NULL REFERENCES bench_runs (id) ON DELETE CASCADE,\n"
    "	idx INTEGER NOT NULL,\n"
    "	scheduled_s REAL,\n"
    "	sent_s REAL,\n"
    "	first_token_s REAL,\n"
    "	end_s REAL,\n"
    "	tokens_in INTEGER,\n"
    "	tokens_out INTEGER,\n"
    "	http_status INTEGER,\n"
    "	ok INTEGER NOT NULL,\n"
    "	error TEXT,\n"
    "	PRIMARY KEY (bench_run_id, idx)\n"
    ");\n";

/* A sweep keeps its plan as written and one row per planned run, made before the first run
 * starts, so that --resume knows what is left after any kind of interruption. */
static const char schema_v2[] =
    "CREATE TABLE sweeps (\n"
    "	id INTEGER PRIMARY KEY,\n"
    "	name TEXT,\n"
    "	plan_path TEXT NOT NULL,\n"
    "	plan_hash TEXT NOT NULL,\n"
    "	plan TEXT NOT NULL,\n"
    "	seed INTEGER NOT NULL,\n"
    "	started_at TEXT NOT NULL,\n"
    "	ended_at TEXT,\n"
    "	status TEXT NOT NULL DEFAULT 'running' " STATUS_CHECK "\n"
    ");\n"
    "CREATE TABLE sweep_runs (\n"
    "	sweep_id INTEGER NOT NULL REFERENCES sweeps (id) ON DELETE CASCADE,\n"
    "	position INTEGER NOT NULL,\n"
    "	config INTEGER NOT NULL,\n"
    "	rep INTEGER NOT NULL,\n"
    "	params TEXT NOT NULL,\n"
    "	status TEXT NOT NULL DEFAULT 'pending'\n"
    "		CHECK (status IN ('pending', 'running', 'ok', 'failed', 'skipped')),\n"
    "	failure TEXT,\n"
    "	message TEXT,\n"
    "	run_id INTEGER REFERENCES runs (id) ON DELETE SET NULL,\n"
    "	exit_status INTEGER,\n"
    "	signal INTEGER,\n"
    "	started_at TEXT,\n"
    "	duration_s REAL,\n"
    "	output_tail TEXT,\n"
    "	PRIMARY KEY (sweep_id, position)\n"
    ");\n"
    "CREATE INDEX sweep_runs_by_run ON sweep_runs (run_id);\n";

const struct gops_db_migration gops_db_migrations[] = {
    {1, "hosts, devices, baselines, runs, windows, samples, bench runs and requests", schema_v1},
    {2, "sweeps and their planned runs", schema_v2},
};
const size_t gops_db_n_migrations = sizeof gops_db_migrations / sizeof gops_db_migrations[0];

static int exec(sqlite3 *conn, const char *sql, const char *name, const char *what, char *err, size_t errlen)
{
	char *msg = NULL;
	int rc = sqlite3_exec(conn, sql, NULL, NULL, &msg);
	if (rc == SQLITE_OK)
		return 0;
	snprintf(err, errlen, "cannot %s in '%s': %s", what, name, msg ? msg : sqlite3_errstr(rc));
	sqlite3_free(msg);
	return rc == SQLITE_BUSY || rc == SQLITE_LOCKED ? -EBUSY : -EIO;
}

static int user_version(sqlite3 *conn, int *v)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(conn, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : -EIO;
	if (!rc)
		*v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return rc;
}

int gops_db_migrate(sqlite3 *conn, const char *name, const struct gops_db_migration *list, size_t n,
                    char *err, size_t errlen)
{
	int latest = n ? list[n - 1].version : 0;
	/* IMMEDIATE: two processes opening a fresh file at once must not both create tables. */
	int rc = exec(conn, "BEGIN IMMEDIATE", name, "lock the database", err, errlen);
	if (rc)
		return rc;
	int v = 0;
	if (user_version(conn, &v) < 0) {
		snprintf(err, errlen, "cannot read the schema version of '%s': %s", name,
		         sqlite3_errmsg(conn));
		rc = -EIO;
		goto rollback;
	}
	if (v > latest) {
		snprintf(err, errlen,
		         "'%s' was written by a newer greenops (schema version %d; this one knows up to %d)",
		         name, v, latest);
		rc = -EPROTO;
		goto rollback;
	}
	for (size_t i = 0; i < n; i++) {
		if (list[i].version <= v)
			continue;
		char what[160];
		snprintf(what, sizeof what, "apply schema migration %d (%s)", list[i].version, list[i].what);
		if ((rc = exec(conn, list[i].sql, name, what, err, errlen)) < 0)
			goto rollback;
		char sql[64];
		snprintf(sql, sizeof sql, "PRAGMA user_version = %d", list[i].version);
		if ((rc = exec(conn, sql, name, "set the schema version", err, errlen)) < 0)
			goto rollback;
	}
	return exec(conn, "COMMIT", name, "commit the schema", err, errlen);
rollback:
	sqlite3_exec(conn, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}
