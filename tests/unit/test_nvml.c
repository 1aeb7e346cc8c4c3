/* Tests of the NVML source against the fake libnvidia-ml (build/tests/libfake-nvml*.so):
 * domains, energy and power exactly as the fake's model says, NVML's errors, missing
 * symbols and libraries, CUDA_VISIBLE_DEVICES, and the idle command's quiet checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sources/source.h"

#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NS   1000000000LL
#define MS   1000000LL
#define IDLE 60.0 /* the fake's default power */
#define PER  (50 * MS)

static char script[256];
static char fakes_dir[4096];
static int64_t epoch; /* FAKE_NVML_EPOCH_NS of the current test */

static int64_t now_rt(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

static void sleep_until_rt(int64_t t)
{
	struct timespec ts = {.tv_sec = t / NS, .tv_nsec = t % NS};
	while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* The fake publishes at epoch + k * period: the model under test. */
static int64_t boundary(int64_t t)
{
	return epoch + (t - epoch) / PER * PER;
}

static const char *fake(const char *variant)
{
	static char path[4200];
	snprintf(path, sizeof path, "%s/libfake-nvml%s%s.so", fakes_dir, variant ? "-" : "",
	         variant ? variant : "");
	return path;
}

static void setenvf(const char *name, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	setenv(name, buf, 1);
}

/* Script lines: `T GPU EVENT`, T in CLOCK_REALTIME ns. */
static void script_add(int64_t t, const char *gpu, const char *event)
{
	FILE *f = fopen(script, "a");
	assert_non_null(f);
	fprintf(f, "%" PRId64 " %s %s\n", t, gpu, event);
	fclose(f);
}

static int setup(void **state)
{
	static const char *const vars[] = {
	    "FAKE_NVML_GPUS",           "FAKE_NVML_IDLE_W",       "FAKE_NVML_PERIOD_MS",
	    "FAKE_NVML_SCRIPT",         "FAKE_NVML_ENERGY",       "FAKE_NVML_FIELD",
	    "FAKE_NVML_ENERGY_COST_US", "FAKE_NVML_UUIDS",        "FAKE_NVML_LIMIT_W",
	    "FAKE_NVML_PROCS",          "FAKE_NVML_UTIL",         "FAKE_NVML_INIT_RC",
	    "FAKE_NVML_EPOCH_NS",       "CUDA_VISIBLE_DEVICES",   "FAKE_NVML_MIG",
	    "FAKE_NVML_PROCESSES",      "FAKE_NVML_PROCESS_UTIL",
	};
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
		unsetenv(vars[i]);
	const char *tmp = getenv("TMPDIR");
	snprintf(script, sizeof script, "%s/gops-nvml-script-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	int fd = mkstemp(script);
	if (fd < 0)
		return -1;
	close(fd);
	setenv("FAKE_NVML_SCRIPT", script, 1);
	setenv("GREENOPS_NVML_LIBRARY", fake(NULL), 1);
	epoch = now_rt() - NS; /* a second of history before every open */
	setenvf("FAKE_NVML_EPOCH_NS", "%" PRId64, epoch);
	setenvf("FAKE_NVML_PERIOD_MS", "%lld", PER / MS);
	return 0;
}

/* Sources still open when a test failed half-way: closed by teardown, or the fake would
 * stay initialised with the old test's environment. */
static struct gops_source *live[8];

static void track(struct gops_source *s, struct gops_source *replace)
{
	for (size_t i = 0; i < sizeof live / sizeof live[0]; i++)
		if (live[i] == replace) {
			live[i] = s;
			return;
		}
}

static int teardown(void **state)
{
	for (size_t i = 0; i < sizeof live / sizeof live[0]; i++)
		if (live[i]) {
			gops_source_nvml.close(live[i]);
			live[i] = NULL;
		}
	unlink(script);
	return 0;
}

struct opened {
	struct gops_source *s;
	struct gops_domain_list dl;
	struct gops_notes notes;
	char err[512];
	int rc;
};

static void do_open(struct opened *o)
{
	memset(o, 0, sizeof *o);
	o->rc = gops_source_nvml.open(&o->s, NULL, &o->dl, &o->notes, o->err, sizeof o->err);
	if (o->rc == 0)
		track(o->s, NULL);
}

/* Opens within one update period, so the counter's value at open is known. */
static int64_t open_in_period(struct opened *o)
{
	for (int tries = 0; tries < 100; tries++) {
		int64_t t1 = now_rt();
		do_open(o);
		int64_t t2 = now_rt();
		assert_int_equal(o->rc, 0);
		if (boundary(t1) == boundary(t2))
			return boundary(t1);
		track(NULL, o->s);
		gops_source_nvml.close(o->s);
		gops_domain_list_release(&o->dl);
		gops_notes_release(&o->notes);
	}
	fail_msg("could not open within one update period");
	return 0;
}

static void do_close(struct opened *o)
{
	if (o->rc == 0) {
		track(NULL, o->s);
		gops_source_nvml.close(o->s);
	}
	gops_domain_list_release(&o->dl);
	gops_notes_release(&o->notes);
}

/* Reads within one update period; *b is the boundary whose value was published. */
static int read_in_period(struct opened *o, int index, bool energy, double *v, int64_t *b)
{
	for (int tries = 0; tries < 100; tries++) {
		int64_t t1 = now_rt();
		int r = energy ? gops_source_nvml.read_energy(o->s, index, v)
		               : gops_source_nvml.read_power(o->s, index, v);
		int64_t t2 = now_rt();
		if (boundary(t1) == boundary(t2)) {
			*b = boundary(t1);
			return r;
		}
	}
	fail_msg("could not read within one update period");
	return 0;
}

/* The test's own copy of the model: power steps at the given times, IDLE before. */
struct step {
	int64_t t;
	double w;
};

static double power_of(const struct step *s, size_t n, int64_t t)
{
	double w = IDLE;
	for (size_t i = 0; i < n && s[i].t <= t; i++)
		w = s[i].w;
	return w;
}

static double joules(const struct step *s, size_t n, int64_t a, int64_t b)
{
	double j = 0;
	for (int64_t t = a, next; t < b; t = next) {
		next = b;
		for (size_t i = 0; i < n; i++)
			if (s[i].t > t && s[i].t < next)
				next = s[i].t;
		j += power_of(s, n, t) * (double)(next - t) / NS;
	}
	return j;
}

static const struct gops_domain *domain(struct opened *o, const char *name)
{
	for (size_t i = 0; i < o->dl.n; i++)
		if (strcmp(o->dl.v[i].name, name) == 0)
			return &o->dl.v[i];
	fail_msg("no domain %s", name);
	return NULL;
}

static bool has_note(const struct gops_domain *d, const char *text)
{
	for (size_t i = 0; i < d->n_notes; i++)
		if (strstr(d->notes[i], text))
			return true;
	return false;
}

static bool notes_have(const struct gops_notes *n, const char *text)
{
	for (size_t i = 0; i < n->n; i++)
		if (strstr(n->v[i], text))
			return true;
	return false;
}

static void test_domains(void **state)
{
	setenv("FAKE_NVML_GPUS", "3", 1);
	setenv("FAKE_NVML_UUIDS", "GPU-aaaa,GPU-bbbb,GPU-cccc", 1);
	setenv("FAKE_NVML_LIMIT_W", "450", 1);
	struct opened o;
	do_open(&o);
	assert_int_equal(o.rc, 0);
	assert_int_equal(o.dl.n, 3);
	static const char *const labels[] = {"Fake GPU GPU-aaaa", "Fake GPU GPU-bbbb", "Fake GPU GPU-cccc"};
	for (int i = 0; i < 3; i++) {
		const struct gops_domain *d = &o.dl.v[i];
		char name[16];
		snprintf(name, sizeof name, "gpu%d", i);
		assert_string_equal(d->name, name);
		assert_string_equal(d->label, labels[i]);
		assert_int_equal(d->kind, GOPS_KIND_GPU);
		assert_int_equal(d->caps, GOPS_CAP_ENERGY | GOPS_CAP_POWER);
		assert_true(d->energy_expensive);
		assert_false(d->estimated);
		assert_int_equal(d->index, i);
		assert_true(d->max_power_w == 450.0);
		assert_true(d->range_j == 0 && d->update_period_s == 0);
		assert_int_equal(d->n_notes, 0);
	}
	assert_int_equal(o.notes.n, 0);
	do_close(&o);
}

/* gpu0: 200 W from the epoch, 500 W from a moment inside a later period; gpu1 idle. */
static void test_energy_follows_script(void **state)
{
	setenv("FAKE_NVML_GPUS", "2", 1);
	int64_t start = boundary(now_rt());
	struct step steps[] = {{epoch, 200}, {start + 3 * PER + 25 * MS, 500}};
	script_add(steps[0].t, "0", "200");
	script_add(steps[1].t, "0", "500");
	struct opened o;
	int64_t b0 = open_in_period(&o);
	assert_true(b0 < steps[1].t);
	for (int k = 1; k <= 6; k++) {
		double j, j1, w;
		int64_t b, b1, bw;
		sleep_until_rt(b0 + k * PER + 5 * MS);
		assert_int_equal(read_in_period(&o, 0, true, &j, &b), 0);
		assert_true(b > b0);
		assert_float_equal(j, joules(steps, 2, b0, b), 1e-6);
		assert_int_equal(read_in_period(&o, 0, false, &w, &bw), 0);
		assert_float_equal(w, power_of(steps, 2, bw), 1e-9);
		assert_int_equal(read_in_period(&o, 1, true, &j1, &b1), 0);
		assert_float_equal(j1, IDLE * (double)(b1 - b0) / NS, 1e-6);
	}
	do_close(&o);
}

/* Without FAKE_NVML_EPOCH_NS the periods start at nvmlInit: the counter still moves in
 * whole periods of 200 W x 50 ms = 10 J. */
static void test_counter_steps_by_period(void **state)
{
	unsetenv("FAKE_NVML_EPOCH_NS");
	script_add(now_rt() - NS, "0", "200");
	struct opened o;
	do_open(&o);
	assert_int_equal(o.rc, 0);
	double j = 0, seen[64];
	size_t n = 0;
	int64_t end = now_rt() + 5 * PER;
	while (now_rt() < end) {
		assert_int_equal(gops_source_nvml.read_energy(o.s, 0, &j), 0);
		double periods = j / 10.0;
		assert_float_equal(periods, round(periods), 1e-9);
		if (n == 0 || seen[n - 1] != j)
			seen[n++] = j;
		assert_true(n < 64);
		usleep(5000);
	}
	assert_true(n >= 3); /* 0 J, then at least two updates */
	for (size_t i = 1; i < n; i++)
		assert_true(seen[i] > seen[i - 1]);
	do_close(&o);
}

static void check_usage_fallback(struct opened *o)
{
	struct step steps[] = {{now_rt() - NS / 2, 300}};
	script_add(steps[0].t, "0", "300");
	do_open(o);
	assert_int_equal(o->rc, 0);
	const struct gops_domain *d = domain(o, "gpu0");
	assert_true(d->caps & GOPS_CAP_POWER);
	assert_true(has_note(d, "1 s average"));
	for (int k = 0; k < 3; k++) {
		double w;
		int64_t b;
		assert_int_equal(read_in_period(o, 0, false, &w, &b), 0);
		/* the mean of the last second up to the last update, not the power at b */
		assert_float_equal(w, joules(steps, 1, b - NS, b), 1.5e-3);
		assert_true(w < 300 && w > IDLE);
		sleep_until_rt(b + PER + 5 * MS);
	}
}

static void test_nofield_falls_back_to_usage(void **state)
{
	setenv("GREENOPS_NVML_LIBRARY", fake("nofield"), 1);
	struct opened o;
	check_usage_fallback(&o);
	assert_int_equal(domain(&o, "gpu0")->caps, GOPS_CAP_ENERGY | GOPS_CAP_POWER);
	do_close(&o);
}

/* The call succeeds while the field itself says NOT_SUPPORTED: the per-field status counts. */
static void test_field_notsup_falls_back_to_usage(void **state)
{
	setenv("FAKE_NVML_FIELD", "notsup", 1);
	struct opened o;
	check_usage_fallback(&o);
	do_close(&o);
}

static void test_energy_notsup(void **state)
{
	setenv("FAKE_NVML_ENERGY", "notsup", 1);
	struct opened o;
	do_open(&o);
	assert_int_equal(o.rc, 0);
	const struct gops_domain *d = domain(&o, "gpu0");
	assert_int_equal(d->caps, GOPS_CAP_POWER);
	assert_true(has_note(d, "no energy counter"));
	double j = -1;
	assert_int_equal(gops_source_nvml.read_energy(o.s, 0, &j), GOPS_ENOTSUP);
	assert_true(j == -1); /* never a zero */
	assert_non_null(strstr(gops_source_nvml.error(o.s), "not measured"));
	double w;
	assert_int_equal(gops_source_nvml.read_power(o.s, 0, &w), 0);
	assert_float_equal(w, IDLE, 1e-9);
	do_close(&o);
}

static void test_energy_notsup_later(void **state)
{
	struct opened o;
	int64_t b0 = open_in_period(&o);
	script_add(b0 + 3 * PER + 10 * MS, "0", "notsup"); /* appended after open: the fake re-reads */
	double j;
	int64_t b;
	assert_int_equal(read_in_period(&o, 0, true, &j, &b), 0);
	sleep_until_rt(b0 + 4 * PER);
	j = -1;
	assert_int_equal(gops_source_nvml.read_energy(o.s, 0, &j), GOPS_ENOTSUP);
	assert_true(j == -1);
	do_close(&o);
}

static void test_noenergy_variant(void **state)
{
	setenv("GREENOPS_NVML_LIBRARY", fake("noenergy"), 1);
	struct opened o;
	do_open(&o);
	assert_int_equal(o.rc, 0);
	const struct gops_domain *d = domain(&o, "gpu0");
	assert_int_equal(d->caps, GOPS_CAP_POWER);
	assert_true(has_note(d, "integrated from power"));
	assert_false(has_note(d, "1 s average")); /* instant power is there */
	double j;
	assert_int_equal(gops_source_nvml.read_energy(o.s, 0, &j), GOPS_ENOTSUP);
	do_close(&o);
}

static void test_lost(void **state)
{
	setenv("FAKE_NVML_GPUS", "3", 1);
	script_add(now_rt() - NS / 2, "2", "lost"); /* gone before open */
	struct opened o;
	int64_t b0 = open_in_period(&o);
	assert_int_equal(o.dl.n, 2);
	assert_string_equal(o.dl.v[0].name, "gpu0");
	assert_string_equal(o.dl.v[1].name, "gpu1");
	assert_true(notes_have(&o.notes, "gpu2"));
	script_add(b0 + PER, "1", "lost");
	sleep_until_rt(b0 + PER + 5 * MS);
	double v;
	assert_int_equal(gops_source_nvml.read_energy(o.s, 1, &v), GOPS_ELOST);
	assert_non_null(strstr(gops_source_nvml.error(o.s), "gpu1"));
	assert_int_equal(gops_source_nvml.read_power(o.s, 1, &v), GOPS_ELOST);
	assert_int_equal(gops_source_nvml.read_energy(o.s, 0, &v), 0); /* the rest goes on */
	assert_int_equal(gops_source_nvml.read_power(o.s, 0, &v), 0);
	do_close(&o);
}

/* The counter restarts near 0 (driver reload): flagged once, the value never goes back,
 * and later increments are exact again. */
static void test_reset(void **state)
{
	script_add(epoch, "0", "200");
	struct opened o;
	int64_t b0 = open_in_period(&o);
	script_add(b0 + 2 * PER + 25 * MS, "0", "reset");
	double j1, j2, j3;
	int64_t b1, b3;
	sleep_until_rt(b0 + PER + 5 * MS);
	assert_int_equal(read_in_period(&o, 0, true, &j1, &b1), 0);
	assert_float_equal(j1, 200 * (double)(b1 - b0) / NS, 1e-6);
	sleep_until_rt(b0 + 3 * PER + 5 * MS);
	assert_int_equal(gops_source_nvml.read_energy(o.s, 0, &j2), GOPS_READ_DISCONTINUITY);
	assert_true(j2 >= j1);
	sleep_until_rt(b0 + 5 * PER + 5 * MS);
	int r = read_in_period(&o, 0, true, &j3, &b3);
	assert_int_equal(r, 0);
	assert_true(b3 >= b0 + 5 * PER);
	/* j2 was the counter at b0 + 3 PER (read in that period or, late, a later one) */
	assert_true(j3 > j2);
	double per_period = 200 * (double)PER / NS;
	double k = (j3 - j2) / per_period;
	assert_float_equal(k, round(k), 1e-6);
	do_close(&o);
}

static void test_missing_symbol(void **state)
{
	struct opened o;
	setenv("GREENOPS_NVML_LIBRARY", fake("nocount"), 1);
	do_open(&o);
	assert_true(o.rc < 0 && o.rc != -ENOENT);
	assert_non_null(strstr(o.err, "missing symbol 'nvmlDeviceGetCount'"));
	assert_non_null(strstr(o.err, fake("nocount")));
	assert_int_equal(o.dl.n, 0);
	do_close(&o);

	setenv("GREENOPS_NVML_LIBRARY", "libm.so.6", 1);
	do_open(&o);
	assert_true(o.rc < 0);
	assert_string_equal(o.err, "libm.so.6: missing symbol 'nvmlInit'");
	do_close(&o);
}

/* A library with the unversioned names only (old drivers) still opens. */
static void test_unversioned_names(void **state)
{
	setenv("GREENOPS_NVML_LIBRARY", fake("v1"), 1);
	setenv("FAKE_NVML_GPUS", "2", 1);
	struct opened o;
	do_open(&o);
	assert_int_equal(o.rc, 0);
	assert_int_equal(o.dl.n, 2);
	do_close(&o);
}

static unsigned long older_calls(const char *lib)
{
	void *h = dlopen(lib, RTLD_NOW | RTLD_NOLOAD);
	assert_non_null(h);
	unsigned long (*calls)(void) = (unsigned long (*)(void))dlsym(h, "fake_nvml_older_calls");
	assert_non_null(calls);
	unsigned long n = calls();
	dlclose(h);
	return n;
}

/* nvmlInit_v2, nvmlDeviceGetCount_v2, ..._v3: never the older ABI where a newer exists. */
static void test_newest_names_first(void **state)
{
	struct opened o;
	unsigned n;
	do_open(&o);
	assert_int_equal(o.rc, 0);
	assert_int_equal(gops_source_nvml.compute_processes(o.s, 0, &n), 0);
	assert_int_equal(older_calls(fake(NULL)), 0);
	/* and the fake does count them */
	void *h = dlopen(fake(NULL), RTLD_NOW | RTLD_NOLOAD);
	assert_non_null(h);
	int (*count)(unsigned *) = (int (*)(unsigned *))dlsym(h, "nvmlDeviceGetCount");
	assert_non_null(count);
	assert_int_equal(count(&n), 0);
	dlclose(h);
	assert_int_equal(older_calls(fake(NULL)), 1);
	do_close(&o);
}

static void test_absent_library(void **state)
{
	const char *path = "/nonexistent/greenops-test/libnvidia-ml.so.1";
	setenv("GREENOPS_NVML_LIBRARY", path, 1);
	struct opened o;
	do_open(&o);
	assert_int_equal(o.rc, -ENOENT);
	assert_non_null(strstr(o.err, path));
	assert_non_null(strstr(o.err, "No such file"));
	do_close(&o);
}

static void test_driver_not_loaded(void **state)
{
	setenv("FAKE_NVML_INIT_RC", "9", 1);
	struct opened o;
	do_open(&o);
	assert_int_equal(o.rc, -ENOENT);
	assert_non_null(strstr(o.err, "Driver Not Loaded"));
	do_close(&o);
}

static void test_no_gpu(void **state)
{
	setenv("FAKE_NVML_GPUS", "0", 1);
	struct opened o;
	do_open(&o);
	assert_int_equal(o.rc, -ENOENT);
	assert_non_null(strstr(o.err, "no NVIDIA GPU"));
	do_close(&o);
}

/* Opens with CUDA_VISIBLE_DEVICES=value over four GPUs; `want` lists the domains. */
static void check_visible(const char *value, const char *want, int want_rc)
{
	setenv("FAKE_NVML_GPUS", "4", 1);
	setenv("FAKE_NVML_UUIDS",
	       "GPU-8a1f0e2d-1111-4000-8000-000000000000,GPU-8a2c0000-2222-4000-8000-000000000001,"
	       "GPU-77770000-3333-4000-8000-000000000002,GPU-c0de0000-4444-4000-8000-000000000003",
	       1);
	setenv("CUDA_VISIBLE_DEVICES", value, 1);
	struct opened o;
	do_open(&o);
	assert_int_equal(o.rc, want_rc);
	char got[128] = "";
	for (size_t i = 0; i < o.dl.n; i++) {
		strcat(got, i ? "," : "");
		strcat(got, o.dl.v[i].name);
		assert_int_equal(o.dl.v[i].index, atoi(o.dl.v[i].name + 3));
	}
	assert_string_equal(got, want);
	if (want_rc == 0) {
		char note[256] = "";
		snprintf(note, sizeof note, "CUDA_VISIBLE_DEVICES=%s: measuring ", value);
		assert_true(notes_have(&o.notes, note));
	} else {
		assert_non_null(strstr(o.err, "CUDA_VISIBLE_DEVICES"));
	}
	do_close(&o);
}

static void test_visible_by_index(void **state)
{
	check_visible("0,2", "gpu0,gpu2", 0);
	struct opened o;
	setenv("CUDA_VISIBLE_DEVICES", "0,2", 1);
	do_open(&o);
	assert_true(notes_have(&o.notes, "CUDA_VISIBLE_DEVICES=0,2: measuring gpu0, gpu2 only"));
	do_close(&o);
	check_visible(" 3 , 1 ", "gpu1,gpu3", 0);
}

static void test_visible_by_uuid(void **state)
{
	check_visible("GPU-77770000-3333-4000-8000-000000000002", "gpu2", 0);
	check_visible("GPU-c0de0000-4444-4000-8000-000000000003,0", "gpu0,gpu3", 0);
	check_visible("gpu-C0DE0000-4444-4000-8000-000000000003", "gpu3", 0);
}

static void test_visible_by_prefix(void **state)
{
	check_visible("GPU-8a1f", "gpu0", 0);
	check_visible("GPU-8a2,GPU-c0", "gpu1,gpu3", 0);
	check_visible("GPU-8a", "", -ENOENT); /* two GPUs start so: names none */
}

static void test_visible_empty(void **state)
{
	check_visible("", "", -ENOENT);
	check_visible("-1", "", -ENOENT);
}

static void test_visible_invalid_ends_list(void **state)
{
	check_visible("1,7,2", "gpu1", 0);
	struct opened o;
	do_open(&o);
	assert_true(notes_have(&o.notes, "'7' names no GPU"));
	do_close(&o);
	check_visible("2,GPU-ffff,0", "gpu2", 0);
	check_visible("MIG-1234,0", "", -ENOENT);
}

static void test_idle_queries(void **state)
{
	setenv("FAKE_NVML_GPUS", "2", 1);
	setenv("FAKE_NVML_PROCS", "2", 1);
	setenv("FAKE_NVML_UTIL", "37", 1);
	script_add(now_rt() - NS, "1", "procs 0");
	script_add(now_rt() - NS, "1", "util 0");
	struct opened o;
	do_open(&o);
	assert_int_equal(o.rc, 0);
	unsigned n = 99, pct = 99;
	assert_int_equal(gops_source_nvml.compute_processes(o.s, 0, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(gops_source_nvml.utilization(o.s, 0, &pct), 0);
	assert_int_equal(pct, 37);
	assert_int_equal(gops_source_nvml.compute_processes(o.s, 1, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(gops_source_nvml.utilization(o.s, 1, &pct), 0);
	assert_int_equal(pct, 0);
	assert_int_equal(gops_source_nvml.compute_processes(o.s, 5, &n), -EINVAL);
	double v;
	assert_int_equal(gops_source_nvml.read_energy(o.s, 7, &v), -EINVAL);
	assert_int_equal(gops_source_nvml.read_power(o.s, -1, &v), -EINVAL);
	do_close(&o);
}

/* Processes with their pids, and each one's SM utilisation since a time. */
static void test_processes(void **state)
{
	setenv("FAKE_NVML_PROCESSES", "4242:60,4343:-,4444:30:1", 1);
	setenv("FAKE_NVML_GPUS", "2", 1);
	struct opened o;
	do_open(&o);
	assert_int_equal(o.rc, 0);
	struct gops_gpu_proc p[8];
	size_t n = 0;
	assert_int_equal(gops_source_nvml.gpu_processes(o.s, 0, p, 8, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(p[0].pid, 4242);
	assert_int_equal(p[1].pid, 4343);
	assert_int_equal(p[0].instance, -1);
	assert_int_equal(gops_source_nvml.gpu_processes(o.s, 1, p, 8, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(p[0].pid, 4444);
	unsigned long long since = (unsigned long long)(now_rt() / 1000) - 1000000;
	assert_int_equal(gops_source_nvml.process_sm_util(o.s, 0, since, p, 8, &n), 0);
	assert_int_equal(n, 1); /* 4343 has no sample */
	assert_int_equal(p[0].pid, 4242);
	assert_float_equal(p[0].sm_pct, 60, 1e-9);
	/* nothing since the future */
	assert_int_equal(gops_source_nvml.process_sm_util(o.s, 0, since + 3600000000ULL, p, 8, &n), 0);
	assert_int_equal(n, 0);
	const struct gops_mig_instance *mig;
	assert_int_equal(gops_source_nvml.mig_instances(o.s, 0, &mig, &n), 0);
	assert_int_equal(n, 0);
	do_close(&o);
}

/* MIG: the instances with their slices and processes; CUDA_VISIBLE_DEVICES=MIG-uuid measures
 * the parent and marks the instance; per-process utilisation is not offered in MIG mode. */
static void test_mig(void **state)
{
	setenv("FAKE_NVML_GPUS", "2", 1);
	setenv("FAKE_NVML_MIG", "4,3", 1);
	setenv("FAKE_NVML_PROCESSES", "11:50:1/0,12:50:1/1,13:50:1/1", 1);
	setenv("CUDA_VISIBLE_DEVICES", "MIG-fa4e0000-0000-4000-9001-000000000001", 1);
	struct opened o;
	do_open(&o);
	assert_int_equal(o.rc, 0);
	assert_int_equal(o.dl.n, 1);
	assert_string_equal(o.dl.v[0].name, "gpu1");
	assert_true(notes_have(&o.notes, "names MIG instance 1 of gpu1"));
	const struct gops_mig_instance *mig;
	size_t n = 0;
	assert_int_equal(gops_source_nvml.mig_instances(o.s, 1, &mig, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(mig[0].slices, 4);
	assert_int_equal(mig[1].slices, 3);
	assert_false(mig[0].named);
	assert_true(mig[1].named);
	struct gops_gpu_proc p[8];
	assert_int_equal(gops_source_nvml.gpu_processes(o.s, 1, p, 8, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(p[0].pid, 11);
	assert_int_equal(p[0].instance, 0);
	assert_int_equal(p[2].pid, 13);
	assert_int_equal(p[2].instance, 1);
	assert_int_equal(gops_source_nvml.process_sm_util(o.s, 1, 0, p, 8, &n), GOPS_ENOTSUP);
	double j;
	assert_int_equal(gops_source_nvml.read_energy(o.s, 1, &j), 0);
	do_close(&o);
	setenv("CUDA_VISIBLE_DEVICES", "MIG-fa4e0000-0000-4000-9001-00000000000f", 1);
	do_open(&o);
	assert_int_equal(o.rc, -ENOENT);
	do_close(&o);
}

/* FAKE_NVML_ENERGY_COST_US burns CPU inside the counter call, as the real one does. */
static void test_energy_cost(void **state)
{
	setenv("FAKE_NVML_ENERGY_COST_US", "3000", 1);
	struct opened o;
	do_open(&o);
	assert_int_equal(o.rc, 0);
	struct timespec a, b;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
	double j;
	assert_int_equal(gops_source_nvml.read_energy(o.s, 0, &j), 0);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
	double cpu = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	assert_true(cpu >= 2.9e-3);
	do_close(&o);
}

/* With NVIDIA GPUs and GREENOPS_TEST_REAL_NVML=1, this checks the source against the real
 * driver: layouts, units, plausible values. It prints what it read. */
static void test_real_nvml(void **state)
{
	unsetenv("GREENOPS_NVML_LIBRARY");
	struct opened o;
	do_open(&o);
	if (o.rc != 0)
		fail_msg("cannot open NVML: %s", o.err);
	assert_true(o.dl.n >= 1);
	for (size_t n = 0; n < o.notes.n; n++)
		printf("# note: %s\n", o.notes.v[n]);
	for (size_t i = 0; i < o.dl.n; i++) {
		const struct gops_domain *d = &o.dl.v[i];
		printf("# %s: %s, caps %s%s, limit %.0f W\n", d->name, d->label,
		       d->caps & GOPS_CAP_ENERGY ? "energy " : "", d->caps & GOPS_CAP_POWER ? "power" : "",
		       d->max_power_w);
		for (size_t n = 0; n < d->n_notes; n++)
			printf("#   note: %s\n", d->notes[n]);
		assert_true(d->caps & GOPS_CAP_POWER);
		assert_true(d->max_power_w == 0 || (d->max_power_w > 20 && d->max_power_w < 3000));
		double w, j0, j1, sum_w = 0;
		int samples = 0;
		struct timespec c0, c1;
		int64_t t0 = now_rt();
		if (d->caps & GOPS_CAP_ENERGY) {
			clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
			assert_int_equal(gops_source_nvml.read_energy(o.s, d->index, &j0), 0);
			clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
			printf("#   counter call: %.3f ms of CPU\n",
			       (double)(c1.tv_sec - c0.tv_sec) * 1e3 +
			           (double)(c1.tv_nsec - c0.tv_nsec) / 1e6);
		}
		while (now_rt() < t0 + NS) {
			assert_int_equal(gops_source_nvml.read_power(o.s, d->index, &w), 0);
			assert_true(w > 5 && w < 3000);
			sum_w += w;
			samples++;
			usleep(20000);
		}
		int64_t t1 = now_rt();
		printf("#   power: %.1f W mean of %d reads\n", sum_w / samples, samples);
		if (d->caps & GOPS_CAP_ENERGY) {
			assert_int_equal(gops_source_nvml.read_energy(o.s, d->index, &j1), 0);
			double avg = (j1 - j0) / ((double)(t1 - t0) / NS);
			printf("#   counter: %.3f J in %.3f s = %.1f W\n", j1 - j0, (double)(t1 - t0) / NS,
			       avg);
			assert_true(j1 > j0);
			assert_true(avg > 5 && avg < 3000);
		}
		unsigned procs, pct;
		int r = gops_source_nvml.compute_processes(o.s, d->index, &procs);
		assert_true(r == 0 || r == GOPS_ENOTSUP);
		if (r == 0)
			printf("#   compute processes: %u\n", procs);
		r = gops_source_nvml.utilization(o.s, d->index, &pct);
		assert_true(r == 0 || r == GOPS_ENOTSUP);
		if (r == 0)
			printf("#   utilization: %u%%\n", pct);
	}
	do_close(&o);
}

int main(int argc, char **argv)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0)
		return 1;
	self[n] = 0;
	snprintf(fakes_dir, sizeof fakes_dir, "%s", dirname(self));

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_domains),
	    T(test_energy_follows_script),
	    T(test_counter_steps_by_period),
	    T(test_nofield_falls_back_to_usage),
	    T(test_field_notsup_falls_back_to_usage),
	    T(test_energy_notsup),
	    T(test_energy_notsup_later),
	    T(test_noenergy_variant),
	    T(test_lost),
	    T(test_reset),
	    T(test_missing_symbol),
	    T(test_unversioned_names),
	    T(test_newest_names_first),
	    T(test_absent_library),
	    T(test_driver_not_loaded),
	    T(test_no_gpu),
	    T(test_visible_by_index),
	    T(test_visible_by_uuid),
	    T(test_visible_by_prefix),
	    T(test_visible_empty),
	    T(test_visible_invalid_ends_list),
	    T(test_idle_queries),
	    T(test_energy_cost),
	    T(test_processes),
	    T(test_mig),
	};
	const struct CMUnitTest real[] = {cmocka_unit_test(test_real_nvml)};
	if (getenv("GREENOPS_TEST_REAL_NVML"))
		return cmocka_run_group_tests(real, NULL, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
