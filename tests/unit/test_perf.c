/* The perf source: parsing of the power PMU's sysfs description (events, scale, unit,
 * cpumask, packages) on fake trees, and the source itself over a fake syscall table: counters
 * that do not move, permission denied, a PMU type the kernel lacks, scale and restarts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fakes/source_fixture.h"
#include "sources/source.h"
#include "sources/perf.h"

#include <errno.h>
#include <math.h>
#include <string.h>

extern const struct gops_source_ops gops_source_perf;
static const struct gops_source_ops *ops = &gops_source_perf;

#define PMU   "/bus/event_source/devices/power"
#define SCALE "2.3283064365386962890625e-10"

/* The fake kernel: counts per (config, cpu), and what opening returns. */
static struct {
	int open_result; /* 0: succeed; else this negative errno */
	uint64_t counts[8][4];
	uint64_t step[8][4]; /* added on every read */
	int fd_config[64], fd_cpu[64];
	int next_fd, open_fds;
} k;

static int fake_open(int type, uint64_t config, int cpu)
{
	if (k.open_result)
		return k.open_result;
	if (type != 4242 || config >= 8 || cpu >= 4)
		return -ENOENT;
	int fd = k.next_fd++;
	k.fd_config[fd] = (int)config;
	k.fd_cpu[fd] = cpu;
	k.open_fds++;
	return fd;
}

static int fake_read(int fd, uint64_t *v)
{
	uint64_t *c = &k.counts[k.fd_config[fd]][k.fd_cpu[fd]];
	*c += k.step[k.fd_config[fd]][k.fd_cpu[fd]];
	*v = *c;
	return 0;
}

static void fake_close(int fd)
{
	(void)fd;
	k.open_fds--;
}

static const struct gops_perf_sys fake_sys = {fake_open, fake_read, fake_close};

static void build_pmu(const char *root)
{
	fake_put(root, PMU "/type", "4242\n");
	fake_put(root, PMU "/cpumask", "0,2\n");
	fake_put(root, "/devices/system/cpu/cpu0/topology/physical_package_id", "0\n");
	fake_put(root, "/devices/system/cpu/cpu2/topology/physical_package_id", "1\n");
	fake_put(root, PMU "/events/energy-pkg", "event=0x02\n");
	fake_put(root, PMU "/events/energy-pkg.scale", SCALE "\n");
	fake_put(root, PMU "/events/energy-pkg.unit", "Joules\n");
	fake_put(root, PMU "/events/energy-ram", "event=0x03\n");
	fake_put(root, PMU "/events/energy-ram.scale", "6.103515625e-05\n");
	fake_put(root, PMU "/events/energy-ram.unit", "Joules\n");
	fake_put(root, PMU "/events/energy-psys", "event=0x05\n");
	fake_put(root, PMU "/events/energy-psys.scale", SCALE "\n");
	fake_put(root, PMU "/events/energy-psys.unit", "Joules\n");
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	f->root = fake_root_new();
	setenv("GREENOPS_SYSFS_ROOT", f->root, 1);
	memset(&k, 0, sizeof k);
	k.next_fd = 3;
	gops_perf_set_sys(&fake_sys);
	*state = f;
	return f->root ? 0 : -1;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	if (f->s)
		ops->close(f->s);
	gops_perf_set_sys(NULL);
	gops_domain_list_release(&f->dl);
	gops_notes_release(&f->notes);
	fake_root_free(f->root);
	unsetenv("GREENOPS_SYSFS_ROOT");
	free(f);
	return 0;
}

static void test_parse_helpers(void **state)
{
	(void)state;
	uint64_t c;
	assert_int_equal(gops_perf_parse_config("event=0x02", &c), 0);
	assert_int_equal(c, 2);
	assert_int_equal(gops_perf_parse_config("event=0x1f,umask=0x1", &c), 0);
	assert_int_equal(c, 31);
	assert_int_equal(gops_perf_parse_config("config=2", &c), -EINVAL);
	assert_int_equal(gops_perf_parse_config("event=zz", &c), -EINVAL);

	int cpus[8];
	size_t n;
	assert_int_equal(gops_cpulist_parse("0", cpus, 8, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(gops_cpulist_parse("0,28", cpus, 8, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(cpus[1], 28);
	assert_int_equal(gops_cpulist_parse("0-2,8", cpus, 8, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(cpus[3], 8);
	assert_int_equal(gops_cpulist_parse("", cpus, 8, &n), -EINVAL);
	assert_int_equal(gops_cpulist_parse("a", cpus, 8, &n), -EINVAL);
	assert_int_equal(gops_cpulist_parse("3-1", cpus, 8, &n), -EINVAL);
	assert_int_equal(gops_cpulist_parse("0-99", cpus, 8, &n), -EINVAL);

	char name[32];
	enum gops_kind kind;
	assert_true(gops_perf_domain_name("energy-pkg", 1, name, sizeof name, &kind));
	assert_string_equal(name, "package-1");
	assert_int_equal(kind, GOPS_KIND_PACKAGE);
	assert_true(gops_perf_domain_name("energy-cores", 0, name, sizeof name, &kind));
	assert_string_equal(name, "core-0");
	assert_true(gops_perf_domain_name("energy-gpu", 0, name, sizeof name, &kind));
	assert_string_equal(name, "uncore-0");
	assert_true(gops_perf_domain_name("energy-ram", 0, name, sizeof name, &kind));
	assert_string_equal(name, "dram-0");
	assert_true(gops_perf_domain_name("energy-psys", 3, name, sizeof name, &kind));
	assert_string_equal(name, "psys");
	assert_false(gops_perf_domain_name("energy-foo", 0, name, sizeof name, &kind));
}

static void test_parse_pmu(void **state)
{
	struct fx *f = *state;
	build_pmu(f->root);
	struct gops_perf_pmu p;
	assert_int_equal(gops_perf_parse_pmu(&p, &f->notes, f->err, sizeof f->err), 0);
	assert_int_equal(p.type, 4242);
	assert_int_equal(p.n_cpus, 2);
	assert_int_equal(p.cpus[1], 2);
	assert_int_equal(p.pkg[0], 0);
	assert_int_equal(p.pkg[1], 1);
	assert_int_equal(p.n_events, 3);
	assert_string_equal(p.ev[0].name, "energy-pkg");
	assert_string_equal(p.ev[1].name, "energy-psys");
	assert_string_equal(p.ev[2].name, "energy-ram");
	assert_int_equal(p.ev[2].config, 3);
	assert_true(fabs(p.ev[0].scale - ldexp(1, -32)) < 1e-20);
	assert_true(fabs(p.ev[2].scale - 6.103515625e-05) < 1e-15);
	assert_int_equal(f->notes.n, 0);
}

static void test_parse_pmu_malformed(void **state)
{
	struct fx *f = *state;
	struct gops_perf_pmu p;
	assert_int_equal(gops_perf_parse_pmu(&p, &f->notes, f->err, sizeof f->err), -ENOENT);
	assert_non_null(strstr(f->err, "no 'power' PMU"));
	build_pmu(f->root);
	fake_put(f->root, PMU "/events/energy-ram.scale", "lots\n");
	fake_put(f->root, PMU "/events/energy-psys.unit", "mJ\n");
	assert_int_equal(gops_perf_parse_pmu(&p, &f->notes, f->err, sizeof f->err), 0);
	assert_int_equal(p.n_events, 1);
	assert_true(note_has(f, "energy-ram.scale'", "not a positive number"));
	assert_true(note_has(f, "energy-psys.unit'", "not Joules"));
	fake_put(f->root, PMU "/type", "nine\n");
	assert_int_equal(gops_perf_parse_pmu(&p, &f->notes, f->err, sizeof f->err), -EINVAL);
	assert_non_null(strstr(f->err, "/type': not a number"));
	fake_put(f->root, PMU "/type", "9\n");
	fake_put(f->root, PMU "/cpumask", "x\n");
	assert_int_equal(gops_perf_parse_pmu(&p, &f->notes, f->err, sizeof f->err), -EINVAL);
	assert_non_null(strstr(f->err, "/cpumask': not a CPU list"));
}

static void test_open_and_read(void **state)
{
	struct fx *f = *state;
	build_pmu(f->root);
	/* pkg moves on both packages, ram on package 0 only, psys never. */
	k.step[2][0] = k.step[2][2] = 1u << 20;
	k.step[3][0] = 100;
	assert_int_equal(ops->open(&f->s, NULL, &f->dl, &f->notes, f->err, sizeof f->err), 0);
	assert_int_equal(f->dl.n, 3);
	assert_string_equal(f->dl.v[0].name, "package-0");
	assert_string_equal(f->dl.v[1].name, "package-1");
	assert_string_equal(f->dl.v[2].name, "dram-0");
	assert_string_equal(f->dl.v[0].parent, "psys");
	assert_int_equal(f->dl.v[2].kind, GOPS_KIND_DRAM);
	assert_true(f->dl.v[0].range_j == 0);
	assert_true(note_has(f, "psys", "present but not moving"));
	assert_true(note_has(f, "dram-1", "present but not moving"));
	assert_int_equal(k.open_fds, 3);

	double j;
	assert_int_equal(ops->read_energy(f->s, 2, &j), 0);
	assert_true(fabs(j - 100 * 6.103515625e-05) < 1e-12);
	assert_int_equal(ops->read_energy(f->s, 0, &j), 0);
	assert_true(fabs(j - ldexp(1, -12)) < 1e-15);

	/* A count that restarts is a discontinuity; the energy carries on from where it was. */
	k.counts[3][0] = 0;
	assert_int_equal(ops->read_energy(f->s, 2, &j), GOPS_READ_DISCONTINUITY);
	assert_true(fabs(j - 100 * 6.103515625e-05) < 1e-12);
	assert_int_equal(ops->read_energy(f->s, 2, &j), 0);
	assert_true(fabs(j - 200 * 6.103515625e-05) < 1e-12);
	ops->close(f->s);
	f->s = NULL;
	assert_int_equal(k.open_fds, 0);
}

static void test_all_still_is_absent(void **state)
{
	struct fx *f = *state;
	build_pmu(f->root);
	assert_int_equal(ops->open(&f->s, NULL, &f->dl, &f->notes, f->err, sizeof f->err), -ENOENT);
	assert_null(f->s);
	assert_int_equal(f->dl.n, 0);
	assert_int_equal(k.open_fds, 0);
	assert_true(note_has(f, "psys", "reads 0: present but not moving"));
}

static void test_permission_denied(void **state)
{
	struct fx *f = *state;
	build_pmu(f->root);
	k.open_result = -EACCES;
	assert_int_equal(ops->open(&f->s, NULL, &f->dl, &f->notes, f->err, sizeof f->err), -ENOENT);
	assert_non_null(strstr(f->err, "permission denied"));
	assert_true(note_has(f, "perf_event_paranoid", "CAP_PERFMON"));

	char buf[512];
	gops_perf_access_note(buf, sizeof buf, 2);
	assert_non_null(strstr(buf, "perf_event_paranoid is 2"));
	assert_non_null(strstr(buf, "sudo sysctl kernel.perf_event_paranoid=0"));
}

static void test_already_found(void **state)
{
	struct fx *f = *state;
	build_pmu(f->root);
	k.step[2][0] = k.step[2][2] = 1;
	struct gops_domain d = {.kind = GOPS_KIND_PACKAGE};
	strcpy(d.name, "package-1");
	strcpy(d.label, "elsewhere");
	gops_domain_list_add(&f->dl, &d);
	assert_int_equal(ops->open(&f->s, NULL, &f->dl, &f->notes, f->err, sizeof f->err), 0);
	assert_int_equal(f->dl.n, 2);
	assert_string_equal(f->dl.v[1].name, "package-0");
	assert_int_equal(f->dl.v[1].index, 0);
	assert_true(note_has(f, "package-1 is already read through 'elsewhere'", NULL));
}

/* Under a fake root the real perf_event_open meets a PMU type the kernel does not have. */
static void test_fake_type_in_real_kernel(void **state)
{
	struct fx *f = *state;
	build_pmu(f->root);
	gops_perf_set_sys(NULL);
	int r = ops->open(&f->s, NULL, &f->dl, &f->notes, f->err, sizeof f->err);
	assert_int_equal(r, -ENOENT);
	assert_true(note_has(f, "no PMU of type 4242", "GREENOPS_SYSFS_ROOT") ||
	            note_has(f, "perf_event_paranoid", NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_helpers),
	    cmocka_unit_test_setup_teardown(test_parse_pmu, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_parse_pmu_malformed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_and_read, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_all_still_is_absent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_permission_denied, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_already_found, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fake_type_in_real_kernel, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
