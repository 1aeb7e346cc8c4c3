/* The results database: path rules, schema migrations, runs stored and read back, batched
 * samples, baselines per host and device, tag filters, CSV export rows, bench runs and
 * requests, two writers on one file, and runs whose greenops died. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store/db.h"
#include "store/db_schema.h"
#include "base/util.h"

#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct fx {
	char dir[64];
	char path[128];
	struct gops_db *db;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	snprintf(f->dir, sizeof f->dir, "/tmp/test_db.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof f->path, "%s/sub/dir/r.db", f->dir);
	*state = f;
	return 0;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(p);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	gops_db_close(f->db, NULL, 0);
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static struct gops_db *open_ok(struct fx *f)
{
	char err[512] = "";
	int rc = gops_db_open(&f->db, f->path, 0, err, sizeof err);
	if (rc)
		fail_msg("open: %d %s", rc, err);
	return f->db;
}

/* A second, independent connection: what another process would see. */
static long long count(const char *path, const char *sql)
{
	sqlite3 *c;
	assert_int_equal(sqlite3_open_v2(path, &c, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(c, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(c));
	long long v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	sqlite3_finalize(st);
	sqlite3_close(c);
	return v;
}

static void exec_raw(const char *path, const char *sql)
{
	sqlite3 *c;
	assert_int_equal(sqlite3_open(path, &c), SQLITE_OK);
	char *msg = NULL;
	if (sqlite3_exec(c, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
	sqlite3_close(c);
}

static void test_default_path(void **state)
{
	setenv("GREENOPS_DB", "/x/y.db", 1);
	setenv("XDG_DATA_HOME", "/data", 1);
	setenv("HOME", "/home/u", 1);
	char *p = gops_db_default_path();
	assert_string_equal(p, "/x/y.db");
	free(p);
	unsetenv("GREENOPS_DB");
	p = gops_db_default_path();
	assert_string_equal(p, "/data/greenops/greenops.db");
	free(p);
	setenv("XDG_DATA_HOME", "relative", 1); /* invalid per XDG: ignored */
	p = gops_db_default_path();
	assert_string_equal(p, "/home/u/.local/share/greenops/greenops.db");
	free(p);
	unsetenv("XDG_DATA_HOME");
	unsetenv("HOME");
	assert_null(gops_db_default_path());
}

static void test_open_creates_wal(void **state)
{
	struct fx *f = *state;
	open_ok(f);
	struct stat sb;
	assert_int_equal(stat(f->path, &sb), 0);
	sqlite3 *c;
	assert_int_equal(sqlite3_open(f->path, &c), SQLITE_OK);
	sqlite3_stmt *st;
	sqlite3_prepare_v2(c, "PRAGMA journal_mode", -1, &st, NULL);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	sqlite3_close(c);
	assert_int_equal(count(f->path, "PRAGMA user_version"),
	                 gops_db_migrations[gops_db_n_migrations - 1].version);
	assert_int_equal(count(f->path, "SELECT COUNT(*) FROM hosts"), 1);
	/* Opening again records the same host once. */
	char err[256];
	assert_int_equal(gops_db_close(f->db, err, sizeof err), 0);
	open_ok(f);
	assert_int_equal(count(f->path, "SELECT COUNT(*) FROM hosts"), 1);
}

static void test_open_errors(void **state)
{
	struct fx *f = *state;
	char err[512] = "";
	struct gops_db *db = (void *)1;
	assert_int_equal(gops_db_open(&db, f->path, GOPS_DB_NO_CREATE, err, sizeof err), -ENOENT);
	assert_null(db);
	assert_non_null(strstr(err, f->path));
	assert_non_null(strstr(err, "no results database"));

	char bad[160];
	snprintf(bad, sizeof bad, "%s/garbage.db", f->dir);
	FILE *g = fopen(bad, "w");
	for (int i = 0; i < 200; i++)
		fputs("this is not a database at all ", g);
	fclose(g);
	assert_true(gops_db_open(&db, bad, 0, err, sizeof err) < 0);
	assert_non_null(strstr(err, bad));

	snprintf(bad, sizeof bad, "%s/newer.db", f->dir);
	exec_raw(bad, "PRAGMA user_version = 999");
	assert_int_equal(gops_db_open(&db, bad, 0, err, sizeof err), -EPROTO);
	assert_non_null(strstr(err, "newer greenops"));
	assert_int_equal(count(bad, "PRAGMA user_version"), 999);

	/* A folder where the file's parent should be. */
	snprintf(bad, sizeof bad, "%s/file", f->dir);
	fclose(fopen(bad, "w"));
	snprintf(bad, sizeof bad, "%s/file/x.db", f->dir);
	assert_true(gops_db_open(&db, bad, 0, err, sizeof err) < 0);
	assert_non_null(strstr(err, "cannot create folder"));
}

static void test_migrations_order_and_rollback(void **state)
{
	struct fx *f = *state;
	char path[160], err[512];
	snprintf(path, sizeof path, "%s/m.db", f->dir);
	sqlite3 *c;
	assert_int_equal(sqlite3_open(path, &c), SQLITE_OK);
	const struct gops_db_migration two[] = {
	    {1, "a", "CREATE TABLE a (x)"},
	    {2, "b", "INSERT INTO a VALUES (2); CREATE TABLE b (y)"},
	};
	assert_int_equal(gops_db_migrate(c, path, two, 1, err, sizeof err), 0);
	assert_int_equal(count(path, "PRAGMA user_version"), 1);
	assert_int_equal(gops_db_migrate(c, path, two, 2, err, sizeof err), 0);
	assert_int_equal(count(path, "PRAGMA user_version"), 2);
	assert_int_equal(count(path, "SELECT COUNT(*) FROM a"), 1);
	/* Applying again changes nothing. */
	assert_int_equal(gops_db_migrate(c, path, two, 2, err, sizeof err), 0);
	assert_int_equal(count(path, "SELECT COUNT(*) FROM a"), 1);

	const struct gops_db_migration bad[] = {
	    two[0],
	    two[1],
	    {3, "c", "CREATE TABLE c (z)"},
	    {4, "broken", "INSERT INTO nowhere VALUES (1)"},
	};
	assert_int_equal(gops_db_migrate(c, path, bad, 4, err, sizeof err), -EIO);
	assert_non_null(strstr(err, "migration 4"));
	assert_int_equal(count(path, "PRAGMA user_version"), 2);
	assert_int_equal(count(path, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'c'"), 0);
	sqlite3_close(c);
}

static struct gops_domain_result domain(const char *name, const char *source, const char *kind, double e,
                                        bool summed)
{
	struct gops_domain_result d = {0};
	snprintf(d.name, sizeof d.name, "%s", name);
	snprintf(d.source, sizeof d.source, "%s", source);
	snprintf(d.kind, sizeof d.kind, "%s", kind);
	snprintf(d.label, sizeof d.label, "%s device", name);
	d.method = GOPS_METHOD_COUNTER;
	d.summed = summed;
	d.energy_j = e;
	d.dynamic_energy_j = NAN;
	d.idle_power_w = NAN;
	d.avg_power_w = e / 3;
	d.peak_power_w = NAN;
	d.uncertainty_j = 1.5;
	d.integrated_energy_j = e * 1.01;
	d.update_period_s = 0.1;
	return d;
}

static int64_t begin_run(struct gops_db *db, const char *arg, const char *tagval)
{
	const char *argv[] = {"python3", "train.py", arg};
	struct gops_tag tags[] = {{"model", (char *)"resnet18"}, {"batch", (char *)tagval}};
	struct gops_db_run_info in;
	gops_db_run_info_init(&in);
	in.argc = 3;
	in.argv = argv;
	in.tags = tags;
	in.n_tags = tagval ? 2 : 1;
	in.options_json = "{\"interval_ms\":100}";
	in.carbon_g_per_kwh = 475;
	in.pue = 1.2;
	int64_t id = 0;
	int rc = gops_db_run_begin(db, &in, &id);
	if (rc)
		fail_msg("run_begin: %s", gops_db_error(db));
	return id;
}

static void test_run_roundtrip(void **state)
{
	struct fx *f = *state;
	struct gops_db *db = open_ok(f);
	int64_t id = begin_run(db, "--bad\xff", "64");
	assert_true(id > 0);
	/* Committed before begin returned: another process sees the running row. */
	char sql[160];
	snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM runs WHERE id = %lld AND status = 'running'",
	         (long long)id);
	assert_int_equal(count(f->path, sql), 1);

	struct gops_domain_result doms[2] = {domain("gpu0", "nvml", "gpu", 600, true),
	                                     domain("core-0", "powercap", "core", 90, false)};
	char *w0[] = {(char *)"shorter than ten counter updates"};
	doms[0].warnings = w0;
	doms[0].n_warnings = 1;
	struct gops_domain_result wd[2] = {domain("gpu0", "nvml", "gpu", 300, true),
	                                   domain("core-0", "powercap", "core", 30, false)};
	struct gops_window_result wins[2] = {
	    {.name = (char *)"warm",
	     .start_s = 0,
	     .end_s = 1,
	     .units = NAN,
	     .energy_j = 300,
	     .dynamic_energy_j = NAN,
	     .energy_per_unit_j = NAN,
	     .uncertainty_j = 2,
	     .n_domains = 2,
	     .domains = wd},
	    {.name = (char *)"train",
	     .start_s = 1,
	     .end_s = 3,
	     .units = 500,
	     .energy_j = 400,
	     .dynamic_energy_j = 280,
	     .energy_per_unit_j = 0.8,
	     .uncertainty_j = 3,
	     .open = true},
	};
	struct gops_tag rtags[] = {{"epoch", (char *)"3"}};
	char *rw[] = {(char *)"cpu estimated", (char *)"second"};
	struct gops_result r = {.duration_s = 3.25,
	                        .start_realtime_ns = 1764150000123000000LL,
	                        .energy_j = 600,
	                        .dynamic_energy_j = NAN,
	                        .uncertainty_j = 1.5,
	                        .units = NAN,
	                        .energy_per_unit_j = NAN,
	                        .idle_source = "none",
	                        .n_domains = 2,
	                        .domains = doms,
	                        .n_windows = 2,
	                        .windows = wins,
	                        .n_tags = 1,
	                        .tags = rtags,
	                        .n_warnings = 2,
	                        .warnings = rw,
	                        .malformed_control_lines = 4};
	assert_int_equal(gops_db_run_finish(db, id, &r, 0, 0, GOPS_RUN_COMPLETED), 0);
	/* Finishing again replaces, never duplicates. */
	assert_int_equal(gops_db_run_finish(db, id, &r, 0, 0, GOPS_RUN_COMPLETED), 0);
	assert_int_equal(count(f->path, "SELECT COUNT(*) FROM run_domains"), 2);
	assert_int_equal(count(f->path, "SELECT COUNT(*) FROM window_domains"), 2);

	struct gops_db_run run;
	assert_int_equal(gops_db_run_load(db, GOPS_DB_LAST, &run), 0);
	assert_int_equal(run.id, id);
	assert_string_equal(run.kind, "run");
	assert_int_equal(run.argc, 3);
	assert_string_equal(run.argv[1], "train.py");
	assert_string_equal(run.argv[2], "--bad\xef\xbf\xbd");
	assert_int_equal(run.status, GOPS_RUN_COMPLETED);
	assert_false(run.lost);
	assert_int_equal(run.exit_status, 0);
	assert_int_equal(run.signal, 0);
	assert_string_equal(run.version, gops_version());
	assert_string_equal(run.options_json, "{\"interval_ms\":100}");
	assert_true(run.carbon_g_per_kwh == 475 && run.pue == 1.2 && isnan(run.price_per_kwh));
	assert_null(run.currency);
	const struct gops_result *o = &run.result;
	assert_int_equal(o->start_realtime_ns, r.start_realtime_ns);
	assert_int_equal(run.ended_realtime_ns, r.start_realtime_ns + 3250000000LL);
	assert_true(o->duration_s == 3.25 && o->energy_j == 600 && isnan(o->dynamic_energy_j));
	assert_true(isnan(o->units) && isnan(o->energy_per_unit_j));
	assert_string_equal(o->idle_source, "none");
	assert_int_equal(o->malformed_control_lines, 4);
	assert_int_equal(o->n_warnings, 2);
	assert_string_equal(o->warnings[1], "second");
	assert_int_equal(o->n_tags, 3);
	assert_string_equal(o->tags[0].key, "batch");
	assert_string_equal(o->tags[1].key, "epoch");
	assert_string_equal(o->tags[2].value, "resnet18");
	assert_int_equal(o->n_domains, 2);
	assert_string_equal(o->domains[1].name, "core-0");
	assert_string_equal(o->domains[1].source, "powercap");
	assert_string_equal(o->domains[1].kind, "core");
	assert_string_equal(o->domains[1].label, "core-0 device");
	assert_false(o->domains[1].summed);
	assert_int_equal(o->domains[0].method, GOPS_METHOD_COUNTER);
	assert_true(o->domains[0].energy_j == 600 && o->domains[0].avg_power_w == 200);
	assert_true(isnan(o->domains[0].peak_power_w) && o->domains[0].update_period_s == 0.1);
	assert_int_equal(o->domains[0].n_warnings, 1);
	assert_string_equal(o->domains[0].warnings[0], w0[0]);
	assert_int_equal(o->n_windows, 2);
	assert_string_equal(o->windows[0].name, "warm");
	assert_int_equal(o->windows[0].n_domains, 2);
	assert_string_equal(o->windows[0].domains[1].source, "powercap");
	assert_true(o->windows[0].domains[0].energy_j == 300);
	assert_true(o->windows[1].units == 500 && o->windows[1].energy_per_unit_j == 0.8);
	assert_true(o->windows[1].open && !o->windows[0].open);
	gops_db_run_release(&run);

	assert_int_equal(gops_db_run_load(db, id + 100, &run), -ENOENT);
	assert_non_null(strstr(gops_db_error(db), "no run"));
	assert_int_equal(gops_db_run_finish(db, id + 100, &r, 0, 0, GOPS_RUN_COMPLETED), -ENOENT);
}

static void test_finish_without_result(void **state)
{
	struct fx *f = *state;
	struct gops_db *db = open_ok(f);
	int64_t id = begin_run(db, "x", NULL);
	assert_int_equal(gops_db_run_finish(db, id, NULL, 130, 2, GOPS_RUN_INTERRUPTED), 0);
	struct gops_db_run run;
	assert_int_equal(gops_db_run_load(db, id, &run), 0);
	assert_int_equal(run.status, GOPS_RUN_INTERRUPTED);
	assert_int_equal(run.exit_status, 130);
	assert_int_equal(run.signal, 2);
	assert_true(isnan(run.result.energy_j));
	assert_int_equal(run.result.n_domains, 0);
	gops_db_run_release(&run);
}

static void test_bad_input(void **state)
{
	struct fx *f = *state;
	struct gops_db *db = open_ok(f);
	struct gops_db_run_info in;
	gops_db_run_info_init(&in);
	in.options_json = "{not json";
	int64_t id;
	assert_int_equal(gops_db_run_begin(db, &in, &id), -EINVAL);
	assert_non_null(strstr(gops_db_error(db), "JSON"));
	struct gops_tag t = {(char *)"", (char *)"v"};
	gops_db_run_info_init(&in);
	in.tags = &t;
	in.n_tags = 1;
	assert_int_equal(gops_db_run_begin(db, &in, &id), -EINVAL);
	assert_int_equal(count(f->path, "SELECT COUNT(*) FROM runs"), 0);
}

static void test_samples_batched(void **state)
{
	struct fx *f = *state;
	struct gops_db *db = open_ok(f);
	int64_t id = begin_run(db, "s", NULL);
	struct gops_db_sample_sink sink = {db, id};
	for (int i = 0; i < 2500; i++)
		assert_int_equal(gops_db_sample_cb(&sink, i * 0.1, i % 2 ? "gpu0" : "package-0", 100 + i % 7,
		                                   i % 2 ? i * 10.0 : NAN),
		                 0);
	assert_int_equal(gops_db_flush(db), 0);
	assert_int_equal(count(f->path, "SELECT COUNT(*) FROM samples"), 2500);
	assert_int_equal(count(f->path, "SELECT COUNT(*) FROM samples WHERE counter_j IS NULL"), 1250);
	/* A few rows, no flush: the writer commits them within its batch time by itself. */
	for (int i = 0; i < 10; i++)
		gops_db_add_sample(db, id, 300 + i, "gpu0", 1, NAN);
	int64_t deadline = gops_now_ns() + 5000000000LL;
	long long n;
	while ((n = count(f->path, "SELECT COUNT(*) FROM samples")) != 2510 && gops_now_ns() < deadline)
		usleep(10000);
	assert_int_equal(n, 2510);
	/* A sample of a run that does not exist fails, and the next call says so. */
	gops_db_add_sample(db, 999999, 0, "gpu0", 1, NAN);
	int rc = gops_db_flush(db);
	assert_int_equal(rc, -EINVAL);
	assert_non_null(strstr(gops_db_error(db), "power sample"));
	assert_int_equal(gops_db_flush(db), 0);
}

static void test_baselines(void **state)
{
	struct fx *f = *state;
	struct gops_db *db = open_ok(f);
	struct gops_db_baseline *b;
	size_t n;
	assert_int_equal(gops_db_baselines_load(db, &b, &n), 0);
	assert_int_equal(n, 0);
	free(b);
	struct gops_db_baseline in[2] = {
	    {.domain = "gpu0",
	     .source = "nvml",
	     .kind = "gpu",
	     .label = "H100 GPU-1",
	     .mean_w = 60,
	     .spread_w = 0.5,
	     .duration_s = 30,
	     .n_samples = 300,
	     .measured_realtime_ns = 1000000000000LL},
	    {.domain = "package-0",
	     .source = "powercap",
	     .kind = "package",
	     .mean_w = 20,
	     .spread_w = NAN,
	     .duration_s = 30,
	     .n_samples = 300,
	     .measured_realtime_ns = 1000000000000LL},
	};
	assert_int_equal(gops_db_baselines_store(db, in, 2), 0);
	in[0].mean_w = 62;
	in[0].measured_realtime_ns += 1000000000;
	assert_int_equal(gops_db_baselines_store(db, in, 1), 0);
	/* An older measurement stored later does not win. */
	in[0].mean_w = 99;
	in[0].measured_realtime_ns -= 500000000000LL;
	assert_int_equal(gops_db_baselines_store(db, in, 1), 0);
	assert_int_equal(gops_db_baselines_load(db, &b, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(b[0].domain, "gpu0");
	assert_true(b[0].mean_w == 62 && b[0].spread_w == 0.5 && b[0].n_samples == 300);
	assert_string_equal(b[0].label, "H100 GPU-1");
	assert_string_equal(b[1].source, "powercap");
	assert_true(isnan(b[1].spread_w));
	free(b);
	/* Another GPU in the same slot is another device; the newest baseline is returned with
	 * its label, so a caller can tell. */
	in[0].mean_w = 70;
	in[0].measured_realtime_ns = 2000000000000LL;
	snprintf(in[0].label, sizeof in[0].label, "A100 GPU-2");
	assert_int_equal(gops_db_baselines_store(db, in, 1), 0);
	assert_int_equal(gops_db_baselines_load(db, &b, &n), 0);
	assert_int_equal(n, 2);
	assert_true(b[0].mean_w == 70);
	assert_string_equal(b[0].label, "A100 GPU-2");
	free(b);
	assert_int_equal(count(f->path, "SELECT COUNT(*) FROM devices"), 3);
	struct gops_db_baseline bad = {.domain = "", .mean_w = 1, .duration_s = 1};
	assert_int_equal(gops_db_baselines_store(db, &bad, 1), -EINVAL);
}

struct listed {
	int64_t ids[16];
	size_t n;
	int stop_after;
};

static int list_fn(void *ctx, const struct gops_db_run *run)
{
	struct listed *l = ctx;
	l->ids[l->n++] = run->id;
	return l->stop_after && (int)l->n == l->stop_after ? 42 : 0;
}

static void test_runs_filter(void **state)
{
	struct fx *f = *state;
	struct gops_db *db = open_ok(f);
	int64_t a = begin_run(db, "a", "32");
	int64_t b = begin_run(db, "b", "64");
	int64_t c = begin_run(db, "c", NULL);
	struct listed l = {0};
	assert_int_equal(gops_db_runs_foreach(db, NULL, list_fn, &l), 0);
	assert_int_equal(l.n, 3);
	assert_true(l.ids[0] == c && l.ids[2] == a);

	struct gops_tag t64 = {(char *)"batch", (char *)"64"};
	struct gops_db_filter flt = {.tags = &t64, .n_tags = 1};
	memset(&l, 0, sizeof l);
	assert_int_equal(gops_db_runs_foreach(db, &flt, list_fn, &l), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.ids[0], b);

	struct gops_tag tkey[2] = {{(char *)"batch", NULL}, {(char *)"model", (char *)"resnet18"}};
	flt = (struct gops_db_filter){.tags = tkey, .n_tags = 2, .limit = 1};
	memset(&l, 0, sizeof l);
	assert_int_equal(gops_db_runs_foreach(db, &flt, list_fn, &l), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.ids[0], b);

	flt = (struct gops_db_filter){.run_id = GOPS_DB_LAST};
	memset(&l, 0, sizeof l);
	assert_int_equal(gops_db_runs_foreach(db, &flt, list_fn, &l), 0);
	assert_true(l.n == 1 && l.ids[0] == c);

	memset(&l, 0, sizeof l);
	l.stop_after = 2;
	assert_int_equal(gops_db_runs_foreach(db, NULL, list_fn, &l), 42);
	assert_int_equal(l.n, 2);
}

struct rows {
	size_t n_rows, n_cols;
	char names[40][32];
	char cell[8][40][48];
	bool null[8][40];
};

static int row_fn(void *ctx, size_t n, const char *const *names, const char *const *values)
{
	struct rows *r = ctx;
	if (!values) {
		r->n_cols = n;
		for (size_t i = 0; i < n && i < 40; i++)
			snprintf(r->names[i], sizeof r->names[i], "%s", names[i]);
		return 0;
	}
	if (r->n_rows < 8)
		for (size_t i = 0; i < n && i < 40; i++) {
			r->null[r->n_rows][i] = !values[i];
			snprintf(r->cell[r->n_rows][i], sizeof r->cell[0][0], "%s",
			         values[i] ? values[i] : "");
		}
	r->n_rows++;
	return 0;
}

static int col(const struct rows *r, const char *name)
{
	for (size_t i = 0; i < r->n_cols; i++)
		if (!strcmp(r->names[i], name))
			return (int)i;
	fail_msg("no column %s", name);
	return -1;
}

static void test_export(void **state)
{
	struct fx *f = *state;
	struct gops_db *db = open_ok(f);
	static struct rows r;
	memset(&r, 0, sizeof r);
	assert_int_equal(gops_db_export(db, GOPS_DB_TABLE_WINDOWS, NULL, row_fn, &r), 0);
	assert_int_equal(r.n_rows, 0);
	assert_true(r.n_cols > 5); /* the header comes even without rows */
	assert_string_equal(r.names[0], "run_id");

	int64_t a = begin_run(db, "a", "32");
	int64_t b = begin_run(db, "b", NULL);
	struct gops_domain_result d = domain("gpu0", "nvml", "gpu", 10, true);
	struct gops_window_result w = {.name = (char *)"epoch",
	                               .start_s = 0.5,
	                               .end_s = 2,
	                               .units = 4,
	                               .energy_j = 8,
	                               .dynamic_energy_j = NAN,
	                               .energy_per_unit_j = 2,
	                               .uncertainty_j = 0.1};
	struct gops_result res = {.duration_s = 2,
	                          .energy_j = 10,
	                          .dynamic_energy_j = NAN,
	                          .uncertainty_j = 0.2,
	                          .units = NAN,
	                          .energy_per_unit_j = NAN,
	                          .idle_source = "none",
	                          .n_domains = 1,
	                          .domains = &d,
	                          .n_windows = 1,
	                          .windows = &w};
	assert_int_equal(gops_db_run_finish(db, a, &res, 0, 0, GOPS_RUN_COMPLETED), 0);
	gops_db_add_sample(db, b, 0.1, "gpu0", 55.5, 1.25);

	memset(&r, 0, sizeof r);
	assert_int_equal(gops_db_export(db, GOPS_DB_TABLE_RUNS, NULL, row_fn, &r), 0);
	assert_int_equal(r.n_rows, 2);
	assert_string_equal(r.cell[0][col(&r, "run_id")], "1");
	assert_string_equal(r.cell[0][col(&r, "tag.batch")], "32");
	assert_true(r.null[1][col(&r, "tag.batch")]);
	assert_string_equal(r.cell[1][col(&r, "tag.model")], "resnet18");
	assert_string_equal(r.cell[0][col(&r, "status")], "completed");
	assert_string_equal(r.cell[0][col(&r, "command")], "[\"python3\",\"train.py\",\"a\"]");
	/* 10 J x PUE 1.2 / 3.6e6 x 475 g/kWh */
	assert_true(fabs(atof(r.cell[0][col(&r, "carbon_g")]) - 10 * 1.2 / 3.6e6 * 475) < 1e-9);
	assert_true(r.null[1][col(&r, "energy_j")]);

	struct gops_tag t = {(char *)"batch", (char *)"32"};
	struct gops_db_filter flt = {.tags = &t, .n_tags = 1};
	memset(&r, 0, sizeof r);
	assert_int_equal(gops_db_export(db, GOPS_DB_TABLE_WINDOWS, &flt, row_fn, &r), 0);
	assert_int_equal(r.n_rows, 1);
	assert_string_equal(r.cell[0][col(&r, "name")], "epoch");
	assert_string_equal(r.cell[0][col(&r, "duration_s")], "1.5");
	assert_true(r.null[0][col(&r, "dynamic_energy_j")]);
	assert_string_equal(r.cell[0][col(&r, "tag.batch")], "32");

	memset(&r, 0, sizeof r);
	flt = (struct gops_db_filter){.run_id = GOPS_DB_LAST};
	assert_int_equal(gops_db_export(db, GOPS_DB_TABLE_SAMPLES, &flt, row_fn, &r), 0);
	assert_int_equal(r.n_rows, 1);
	assert_string_equal(r.cell[0][col(&r, "power_w")], "55.5");
	assert_string_equal(r.cell[0][col(&r, "run_id")], "2");

	memset(&r, 0, sizeof r);
	flt = (struct gops_db_filter){.limit = 1};
	assert_int_equal(gops_db_export(db, GOPS_DB_TABLE_DOMAINS, &flt, row_fn, &r), 0);
	assert_int_equal(r.n_rows, 0); /* the newest run (b) has no domains */
	flt.run_id = a;
	memset(&r, 0, sizeof r);
	assert_int_equal(gops_db_export(db, GOPS_DB_TABLE_DOMAINS, &flt, row_fn, &r), 0);
	assert_int_equal(r.n_rows, 1);
	assert_string_equal(r.cell[0][col(&r, "label")], "gpu0 device");
	assert_string_equal(r.cell[0][col(&r, "method")], "counter");

	enum gops_db_table tt;
	assert_int_equal(gops_db_table_parse("bench-runs", &tt), 0);
	assert_int_equal(tt, GOPS_DB_TABLE_BENCH_RUNS);
	assert_int_equal(gops_db_table_parse("nope", &tt), -EINVAL);
}

static void test_bench(void **state)
{
	struct fx *f = *state;
	struct gops_db *db = open_ok(f);
	struct gops_db_run_info in;
	gops_db_run_info_init(&in);
	in.kind = "serve-bench";
	int64_t run, b1, b2;
	assert_int_equal(gops_db_run_begin(db, &in, &run), 0);
	assert_int_equal(gops_db_bench_run_begin(db, run, 2.5, &b1), 0);
	assert_int_equal(gops_db_bench_run_begin(db, run, INFINITY, &b2), 0);
	assert_int_equal(gops_db_bench_run_begin(db, run, 0, &b2), -EINVAL);
	for (int i = 0; i < 3; i++) {
		struct gops_db_request rq = {.index = i,
		                             .scheduled_s = i * 0.4,
		                             .sent_s = i * 0.4 + 0.001,
		                             .first_token_s = i * 0.4 + 0.05,
		                             .end_s = i * 0.4 + 0.5,
		                             .tokens_in = 128,
		                             .tokens_out = i == 2 ? -1 : 64,
		                             .http_status = i == 2 ? 500 : 200,
		                             .ok = i != 2,
		                             .error = i == 2 ? "HTTP 500: overloaded" : NULL};
		assert_int_equal(gops_db_add_request(db, b1, &rq), 0);
	}
	struct gops_db_bench_result res = {.status = GOPS_RUN_COMPLETED,
	                                   .duration_s = 1.3,
	                                   .completed = 2,
	                                   .failed = 1,
	                                   .total_output_tokens = 128,
	                                   .request_throughput = NAN,
	                                   .output_token_throughput = 98.4,
	                                   .energy_j = 500,
	                                   .dynamic_energy_j = NAN,
	                                   .energy_per_request_j = 250,
	                                   .energy_per_output_token_j = 500.0 / 128,
	                                   .metrics_json = "{\"rate\":2.5}"};
	assert_int_equal(gops_db_bench_run_finish(db, b1, &res), 0);
	res.metrics_json = "[1]";
	assert_int_equal(gops_db_bench_run_finish(db, b1, &res), -EINVAL);

	static struct rows r;
	memset(&r, 0, sizeof r);
	assert_int_equal(gops_db_export(db, GOPS_DB_TABLE_BENCH_RUNS, NULL, row_fn, &r), 0);
	assert_int_equal(r.n_rows, 2);
	assert_string_equal(r.cell[0][col(&r, "rate")], "2.5");
	assert_string_equal(r.cell[1][col(&r, "position")], "2");
	assert_string_equal(r.cell[0][col(&r, "metrics")], "{\"rate\":2.5}");
	assert_string_equal(r.cell[1][col(&r, "status")], "running");
	assert_true(isinf(atof(r.cell[1][col(&r, "rate")])));
	memset(&r, 0, sizeof r);
	assert_int_equal(gops_db_export(db, GOPS_DB_TABLE_REQUESTS, NULL, row_fn, &r), 0);
	assert_int_equal(r.n_rows, 3);
	assert_string_equal(r.cell[2][col(&r, "error")], "HTTP 500: overloaded");
	assert_true(r.null[2][col(&r, "tokens_out")]);
	assert_true(fabs(atof(r.cell[1][col(&r, "ttft_s")]) - 0.05) < 1e-9);
	assert_string_equal(r.cell[0][col(&r, "ok")], "1");
}

struct writer_arg {
	const char *path;
	int rc;
};

static void *second_writer(void *p)
{
	struct writer_arg *a = p;
	char err[256];
	struct gops_db *db;
	if ((a->rc = gops_db_open(&db, a->path, 0, err, sizeof err)))
		return NULL;
	for (int i = 0; i < 20 && !a->rc; i++) {
		struct gops_db_run_info in;
		gops_db_run_info_init(&in);
		int64_t id;
		a->rc = gops_db_run_begin(db, &in, &id);
		for (int k = 0; k < 200 && !a->rc; k++)
			a->rc = gops_db_add_sample(db, id, k, "gpu0", k, NAN);
		if (!a->rc)
			a->rc = gops_db_run_finish(db, id, NULL, 0, 0, GOPS_RUN_COMPLETED);
	}
	int c = gops_db_close(db, err, sizeof err);
	if (!a->rc)
		a->rc = c;
	return NULL;
}

static void test_two_writers(void **state)
{
	struct fx *f = *state;
	open_ok(f);
	char err[256];
	gops_db_close(f->db, err, sizeof err);
	f->db = NULL;
	struct writer_arg a[2] = {{f->path, 0}, {f->path, 0}};
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, second_writer, &a[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(a[0].rc, 0);
	assert_int_equal(a[1].rc, 0);
	assert_int_equal(count(f->path, "SELECT COUNT(*) FROM runs WHERE status = 'completed'"), 40);
	assert_int_equal(count(f->path, "SELECT COUNT(*) FROM samples"), 8000);
}

static void test_lost_run(void **state)
{
	struct fx *f = *state;
	struct gops_db *db = open_ok(f);
	int64_t id = begin_run(db, "lost", NULL);
	pid_t child = fork();
	if (child == 0)
		_exit(0);
	waitpid(child, NULL, 0);
	char sql[128];
	snprintf(sql, sizeof sql, "UPDATE runs SET pid = %d WHERE id = %lld", (int)child, (long long)id);
	exec_raw(f->path, sql);
	struct gops_db_run run;
	assert_int_equal(gops_db_run_load(db, id, &run), 0);
	assert_int_equal(run.status, GOPS_RUN_RUNNING);
	assert_true(run.lost);
	gops_db_run_release(&run);
	/* Our own running row is not lost. */
	id = begin_run(db, "alive", NULL);
	assert_int_equal(gops_db_run_load(db, id, &run), 0);
	assert_false(run.lost);
	gops_db_run_release(&run);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_default_path),
	    cmocka_unit_test_setup_teardown(test_open_creates_wal, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_migrations_order_and_rollback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_run_roundtrip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_finish_without_result, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_samples_batched, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_baselines, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_runs_filter, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_export, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bench, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_two_writers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lost_run, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
