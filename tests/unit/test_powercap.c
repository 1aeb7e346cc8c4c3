/* The powercap source on fake sysfs trees: zone naming and parents, several packages, DRAM,
 * mmio duplicates, wrap-around (several wraps), counters stuck at zero or going backwards,
 * missing files, malformed numbers and permission denied. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fakes/source_fixture.h"
#include "sources/source.h"
#include "sources/powercap.h"
#include "sources/sysfs.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/wait.h>

extern const struct gops_source_ops gops_source_powercap;
static const struct gops_source_ops *ops = &gops_source_powercap;

#define MS 1000000LL

static int setup(void **state)
{
	struct fx *f = fx_new("GREENOPS_SYSFS_ROOT");
	*state = f;
	return f->root ? 0 : -1;
}

static int teardown(void **state)
{
	fx_free(*state, ops, "GREENOPS_SYSFS_ROOT");
	return 0;
}

static void test_unwrap_several_wraps(void **state)
{
	(void)state;
	/* 40 J range at 50 W read every 100 ms: 5 J per step, a wrap every 8 steps. */
	const uint64_t range = 40000000;
	struct gops_unwrap u;
	uint64_t start = 37000000;
	gops_unwrap_init(&u, start, 0, range, 1e-6, 60);
	for (int k = 1; k <= 50; k++) {
		uint64_t raw = (start + (uint64_t)k * 5000000) % range;
		assert_int_equal(gops_unwrap_step(&u, raw, k * 100 * MS), 0);
	}
	assert_true(fabs(u.total_j - 250.0) < 1e-6); /* six wraps on the way */
}

static void test_unwrap_uneven_reads(void **state)
{
	(void)state;
	const uint64_t range = 40000000;
	static const int gaps_ms[] = {10, 300, 5, 190, 120, 1, 399, 250};
	struct gops_unwrap u;
	gops_unwrap_init(&u, 0 + 1, 0, range, 1e-6, 60);
	int64_t t = 0;
	double e = 0;
	for (int rep = 0; rep < 10; rep++)
		for (size_t i = 0; i < sizeof gaps_ms / sizeof gaps_ms[0]; i++) {
			t += gaps_ms[i] * MS;
			e = 50.0 * (double)t / 1e9;
			uint64_t raw = (uint64_t)(1 + llround(e * 1e6)) % range;
			assert_int_equal(gops_unwrap_step(&u, raw, t), 0);
		}
	assert_true(fabs(u.total_j - e) < 1e-3);
}

static void test_unwrap_backwards(void **state)
{
	(void)state;
	struct gops_unwrap u;
	gops_unwrap_init(&u, 100000000, 0, 262143328850ULL, 1e-6, 500);
	assert_int_equal(gops_unwrap_step(&u, 105000000, 100 * MS), 0);
	/* A reset: going back by 100 J is no wrap of a 262 kJ counter in 100 ms. */
	assert_int_equal(gops_unwrap_step(&u, 5000000, 200 * MS), GOPS_READ_DISCONTINUITY);
	assert_true(fabs(u.total_j - 5.0) < 1e-9);
	assert_int_equal(gops_unwrap_step(&u, 7000000, 300 * MS), 0);
	assert_true(fabs(u.total_j - 7.0) < 1e-9);
	/* A counter with no range (hwmon) never wraps. */
	gops_unwrap_init(&u, 10, 0, 0, 1e-6, 0);
	assert_int_equal(gops_unwrap_step(&u, 9, MS), GOPS_READ_DISCONTINUITY);
}

/* A 2 J range under a 10 W limit read 300 ms apart: 10 W could carry it round the range
 * between two reads, so a step back that is no single plausible wrap is wraps missed; read
 * 10 ms apart, the same step back is a reset. */
static void test_unwrap_read_too_seldom(void **state)
{
	(void)state;
	struct gops_unwrap u;
	gops_unwrap_init(&u, 500000, 0, 2000000, 1e-6, 10);
	assert_int_equal(gops_unwrap_step(&u, 200000, 300 * MS), GOPS_READ_TOO_FAST);
	gops_unwrap_init(&u, 500000, 0, 2000000, 1e-6, 10);
	assert_int_equal(gops_unwrap_step(&u, 200000, 10 * MS), GOPS_READ_DISCONTINUITY);
}

static void test_parse_zone(void **state)
{
	(void)state;
	bool mmio;
	int z, sub;
	assert_int_equal(gops_powercap_parse_zone("intel-rapl:1", &mmio, &z, &sub), 0);
	assert_false(mmio);
	assert_int_equal(z, 1);
	assert_int_equal(sub, -1);
	assert_int_equal(gops_powercap_parse_zone("intel-rapl-mmio:0:2", &mmio, &z, &sub), 0);
	assert_true(mmio);
	assert_int_equal(sub, 2);
	assert_int_equal(gops_powercap_parse_zone("intel-rapl", &mmio, &z, &sub), -EINVAL);
	assert_int_equal(gops_powercap_parse_zone("intel-rapl:x", &mmio, &z, &sub), -EINVAL);
	assert_int_equal(gops_powercap_parse_zone("intel-rapl:0:1x", &mmio, &z, &sub), -EINVAL);
}

/* Two packages with DRAM, a core sub-zone and an mmio duplicate of package 0. */
static void build_two_packages(const char *root)
{
	fake_rapl_zone(root, "intel-rapl:0", "package-0", 1000000, 262143328850ULL, 125000000);
	fake_rapl_zone(root, "intel-rapl:0:0", "core", 2000000, 262143328850ULL, 0);
	fake_rapl_zone(root, "intel-rapl:0:1", "dram", 3000000, 65712999613ULL, 0);
	fake_rapl_zone(root, "intel-rapl:1", "package-1", 4000000, 262143328850ULL, 0);
	fake_rapl_zone(root, "intel-rapl:1:0", "dram", 5000000, 65712999613ULL, 0);
	fake_rapl_zone(root, "intel-rapl-mmio:0", "package-0", 6000000, 262143328850ULL, 0);
}

static void test_two_packages(void **state)
{
	struct fx *f = *state;
	build_two_packages(f->root);
	assert_int_equal(ops->open(&f->s, NULL, &f->dl, &f->notes, f->err, sizeof f->err), 0);
	assert_int_equal(f->dl.n, 5);
	static const char *const names[] = {"package-0", "core-0", "dram-0", "package-1", "dram-1"};
	for (size_t i = 0; i < 5; i++) {
		assert_string_equal(f->dl.v[i].name, names[i]);
		assert_int_equal(f->dl.v[i].index, (int)i);
		assert_int_equal(f->dl.v[i].caps, GOPS_CAP_ENERGY);
		assert_false(f->dl.v[i].estimated);
	}
	assert_int_equal(dom(f, "package-0")->kind, GOPS_KIND_PACKAGE);
	assert_int_equal(dom(f, "dram-1")->kind, GOPS_KIND_DRAM);
	assert_int_equal(dom(f, "core-0")->kind, GOPS_KIND_CORE);
	assert_string_equal(dom(f, "core-0")->parent, "package-0");
	assert_string_equal(dom(f, "package-0")->parent, "");
	assert_string_equal(dom(f, "dram-0")->parent, "");
	assert_true(fabs(dom(f, "package-0")->range_j - 262143.32885) < 1e-6);
	assert_true(fabs(dom(f, "dram-0")->range_j - 65712.999613) < 1e-6);
	/* The stated limit where there is one; the parent's for a sub-zone; else 500 W. */
	assert_true(fabs(dom(f, "package-0")->max_power_w - 125) < 1e-9);
	assert_true(fabs(dom(f, "core-0")->max_power_w - 125) < 1e-9);
	/* No stated limit: none reported (never an invented figure). */
	assert_true(dom(f, "package-1")->max_power_w == 0);
	assert_true(note_has(f, "intel-rapl-mmio:0", "duplicates"));

	fake_rapl_set(f->root, "intel-rapl:1", 4000000 + 2500000);
	double j;
	assert_int_equal(ops->read_energy(f->s, 3, &j), 0);
	assert_true(fabs(j - 2.5) < 1e-9);
	assert_int_equal(ops->read_power(f->s, 3, &j), GOPS_ENOTSUP);
}

static void test_psys_parents(void **state)
{
	struct fx *f = *state;
	fake_rapl_zone(f->root, "intel-rapl:0", "package-0", 10, 262143328850ULL, 0);
	fake_rapl_zone(f->root, "intel-rapl:0:0", "dram", 10, 262143328850ULL, 0);
	fake_rapl_zone(f->root, "intel-rapl:0:1", "uncore", 10, 262143328850ULL, 0);
	fake_rapl_zone(f->root, "intel-rapl:1", "psys", 10, 262143328850ULL, 0);
	assert_int_equal(ops->open(&f->s, NULL, &f->dl, &f->notes, f->err, sizeof f->err), 0);
	assert_int_equal(f->dl.n, 4);
	assert_string_equal(dom(f, "package-0")->parent, "psys");
	assert_string_equal(dom(f, "dram-0")->parent, "psys");
	assert_string_equal(dom(f, "uncore-0")->parent, "package-0");
	assert_int_equal(dom(f, "uncore-0")->kind, GOPS_KIND_UNCORE);
	assert_int_equal(dom(f, "psys")->kind, GOPS_KIND_PSYS);
	assert_string_equal(dom(f, "psys")->parent, "");
}

static void test_wrap_through_files(void **state)
{
	struct fx *f = *state;
	/* 40 J range: at 50 W it wraps every 0.8 s. */
	fake_rapl_zone(f->root, "intel-rapl:0", "package-0", 39000000, 40000000, 60000000);
	assert_int_equal(ops->open(&f->s, NULL, &f->dl, &f->notes, f->err, sizeof f->err), 0);
	double j;
	fake_rapl_set(f->root, "intel-rapl:0", 1000000); /* +2 J across the wrap */
	assert_int_equal(ops->read_energy(f->s, 0, &j), 0);
	assert_true(fabs(j - 2.0) < 1e-9);
	fake_rapl_set(f->root, "intel-rapl:0", 3000000);
	assert_int_equal(ops->read_energy(f->s, 0, &j), 0);
	assert_true(fabs(j - 4.0) < 1e-9);
}

static void test_backwards_file(void **state)
{
	struct fx *f = *state;
	fake_rapl_zone(f->root, "intel-rapl:0", "package-0", 100000000, 262143328850ULL, 0);
	assert_int_equal(ops->open(&f->s, NULL, &f->dl, &f->notes, f->err, sizeof f->err), 0);
	double j;
	fake_rapl_set(f->root, "intel-rapl:0", 50000000);
	assert_int_equal(ops->read_energy(f->s, 0, &j), GOPS_READ_DISCONTINUITY);
	assert_true(j == 0);
	assert_non_null(strstr(ops->error(f->s), "went backwards"));
	fake_rapl_set(f->root, "intel-rapl:0", 51000000);
	assert_int_equal(ops->read_energy(f->s, 0, &j), 0);
	assert_true(fabs(j - 1.0) < 1e-9);
}

static void test_stuck_at_zero(void **state)
{
	struct fx *f = *state;
	fake_rapl_zone(f->root, "intel-rapl:0", "package-0", 5, 262143328850ULL, 0);
	fake_rapl_zone(f->root, "intel-rapl:1", "psys", 0, 262143328850ULL, 0);
	assert_int_equal(ops->open(&f->s, NULL, &f->dl, &f->notes, f->err, sizeof f->err), 0);
	assert_int_equal(f->dl.n, 1);
	assert_null(dom(f, "psys"));
	assert_true(note_has(f, "psys", "present but not moving"));
}

static void test_only_stuck_is_absent(void **state)
{
	struct fx *f = *state;
	fake_rapl_zone(f->root, "intel-rapl:0", "psys", 0, 262143328850ULL, 0);
	assert_int_equal(ops->open(&f->s, NULL, &f->dl, &f->notes, f->err, sizeof f->err), -ENOENT);
	assert_null(f->s);
	assert_int_equal(f->dl.n, 0);
	assert_non_null(strstr(f->err, "no readable RAPL counter"));
}

static void test_no_tree(void **state)
{
	struct fx *f = *state;
	assert_int_equal(ops->open(&f->s, NULL, &f->dl, &f->notes, f->err, sizeof f->err), -ENOENT);
	assert_non_null(strstr(f->err, "/class/powercap"));
	fake_put(f->root, "/class/powercap/other:0/name", "x\n");
	assert_int_equal(ops->open(&f->s, NULL, &f->dl, &f->notes, f->err, sizeof f->err), -ENOENT);
	assert_non_null(strstr(f->err, "no RAPL zone"));
}

static void test_missing_and_malformed(void **state)
{
	struct fx *f = *state;
	char path[1024];
	fake_rapl_zone(f->root, "intel-rapl:0", "package-0", 5, 262143328850ULL, 0);
	fake_rapl_zone(f->root, "intel-rapl:1", "package-1", 5, 262143328850ULL, 0);
	fake_rapl_zone(f->root, "intel-rapl:2", "package-2", 5, 262143328850ULL, 0);
	fake_rapl_zone(f->root, "intel-rapl:3", "package-3", 5, 262143328850ULL, 0);
	fake_put(f->root, "/class/powercap/intel-rapl:1/energy_uj", "12a\n");
	unlink(fake_path(path, sizeof path, f->root, "/class/powercap/intel-rapl:2/max_energy_range_uj"));
	unlink(fake_path(path, sizeof path, f->root, "/class/powercap/intel-rapl:3/name"));
	assert_int_equal(ops->open(&f->s, NULL, &f->dl, &f->notes, f->err, sizeof f->err), 0);
	assert_int_equal(f->dl.n, 1);
	assert_string_equal(f->dl.v[0].name, "package-0");
	assert_true(note_has(f, "intel-rapl:1/energy_uj'", "not a number"));
	assert_true(note_has(f, "intel-rapl:2/max_energy_range_uj'", "No such file"));
	assert_true(note_has(f, "intel-rapl:3/name'", "skipped"));

	/* A value that turns malformed after open fails the read, naming the file. */
	double j;
	fake_put(f->root, "/class/powercap/intel-rapl:0/energy_uj", "-3\n");
	assert_int_equal(ops->read_energy(f->s, 0, &j), -EINVAL);
	assert_non_null(strstr(ops->error(f->s), "intel-rapl:0/energy_uj': not a number"));
}

static void test_seen_through_perf(void **state)
{
	struct fx *f = *state;
	struct gops_domain d = {.kind = GOPS_KIND_PACKAGE};
	strcpy(d.name, "package-0");
	strcpy(d.label, "RAPL energy-pkg (perf power PMU, cpu 0)");
	gops_domain_list_add(&f->dl, &d);
	fake_rapl_zone(f->root, "intel-rapl:0", "package-0", 5, 262143328850ULL, 0);
	fake_rapl_zone(f->root, "intel-rapl:0:0", "dram", 5, 262143328850ULL, 0);
	assert_int_equal(ops->open(&f->s, NULL, &f->dl, &f->notes, f->err, sizeof f->err), 0);
	assert_int_equal(f->dl.n, 2);
	assert_string_equal(f->dl.v[1].name, "dram-0");
	assert_int_equal(f->dl.v[1].index, 0);
	assert_true(note_has(f, "package-0 is already read through", "perf"));
}

static void test_access_note(void **state)
{
	(void)state;
	char buf[1024];
	gops_powercap_access_note(buf, sizeof buf, "/sys/class/powercap/intel-rapl:0/energy_uj");
	assert_non_null(
	    strstr(buf, "cannot read '/sys/class/powercap/intel-rapl:0/energy_uj': permission denied"));
	assert_non_null(strstr(buf, "sudo chmod o+r /sys/class/powercap/intel-rapl:0/energy_uj"));
	assert_non_null(strstr(buf, "udev"));
}

/* Root reads anything, so the denial is real only for another user: a child drops to nobody. */
static void test_permission_denied(void **state)
{
	struct fx *f = *state;
	char path[1024];
	fake_rapl_zone(f->root, "intel-rapl:0", "package-0", 5, 262143328850ULL, 0);
	fake_rapl_zone(f->root, "intel-rapl:1", "package-1", 5, 262143328850ULL, 0);
	chmod(f->root, 0755);
	chmod(fake_path(path, sizeof path, f->root, "/class/powercap/intel-rapl:1/energy_uj"), 0600);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (geteuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
			_exit(10);
		struct gops_domain_list dl = {0};
		struct gops_notes notes = {0};
		struct gops_source *s = NULL;
		char err[512];
		if (ops->open(&s, NULL, &dl, &notes, err, sizeof err) != 0)
			_exit(11);
		if (dl.n != 1 || strcmp(dl.v[0].name, "package-0") != 0)
			_exit(12);
		for (size_t i = 0; i < notes.n; i++)
			if (strstr(notes.v[i], "intel-rapl:1/energy_uj': permission denied") &&
			    strstr(notes.v[i], "package-1 unavailable") && strstr(notes.v[i], "chmod o+r"))
				_exit(0);
		_exit(13);
	}
	int st;
	waitpid(pid, &st, 0);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_unwrap_several_wraps),
	    cmocka_unit_test(test_unwrap_uneven_reads),
	    cmocka_unit_test(test_unwrap_backwards),
	    cmocka_unit_test(test_unwrap_read_too_seldom),
	    cmocka_unit_test(test_parse_zone),
	    cmocka_unit_test(test_access_note),
	    cmocka_unit_test_setup_teardown(test_two_packages, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_psys_parents, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wrap_through_files, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_backwards_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stuck_at_zero, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_only_stuck_is_absent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_tree, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_missing_and_malformed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_seen_through_perf, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_permission_denied, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
