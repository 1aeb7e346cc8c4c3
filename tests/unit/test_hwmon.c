/* The hwmon source on fake trees: GPUs numbered after those already found, board sensors
 * named by driver and label, energy and power merged by label, malformed values, counters
 * stuck at zero or going backwards. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fakes/source_fixture.h"
#include "sources/source.h"
#include "sources/hwmon.h"

#include <errno.h>
#include <math.h>
#include <string.h>

extern const struct gops_source_ops gops_source_hwmon;
static const struct gops_source_ops *ops = &gops_source_hwmon;

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

static void test_names(void **state)
{
	(void)state;
	char buf[32];
	gops_hwmon_domain_name(buf, sizeof buf, "ina3221", "VDD CPU/GPU");
	assert_string_equal(buf, "ina3221-VDD_CPU_GPU");
	assert_true(gops_hwmon_is_gpu("amdgpu"));
	assert_true(gops_hwmon_is_gpu("xe"));
	assert_false(gops_hwmon_is_gpu("coretemp"));
}

static void build_tree(const char *root)
{
	fake_put(root, "/class/hwmon/hwmon0/name", "coretemp\n");
	fake_put(root, "/class/hwmon/hwmon0/temp1_input", "42000\n");
	fake_put(root, "/class/hwmon/hwmon1/name", "amdgpu\n");
	fake_put(root, "/class/hwmon/hwmon1/power1_average", "35000000\n");
	fake_put(root, "/class/hwmon/hwmon1/power1_label", "PPT\n");
	fake_put(root, "/class/hwmon/hwmon1/power1_cap_max", "300000000\n");
	fake_put(root, "/class/hwmon/hwmon2/name", "ina3221\n");
	fake_put(root, "/class/hwmon/hwmon2/power1_input", "5000000\n");
	fake_put(root, "/class/hwmon/hwmon2/power1_label", "VDD_IN\n");
	fake_put(root, "/class/hwmon/hwmon2/power2_input", "1500000\n");
	fake_put(root, "/class/hwmon/hwmon2/power2_label", "VDD CPU\n");
	fake_put(root, "/class/hwmon/hwmon2/energy1_input", "7000000\n");
	fake_put(root, "/class/hwmon/hwmon2/energy1_label", "VDD_IN\n");
	/* Older drivers keep their files under device/. */
	fake_put(root, "/class/hwmon/hwmon10/name", "amdgpu\n");
	fake_put(root, "/class/hwmon/hwmon10/device/power1_input", "20000000\n");
	fake_put(root, "/class/hwmon/hwmon10/device/energy1_input", "1000000\n");
}

static void test_tree(void **state)
{
	struct fx *f = *state;
	struct gops_domain nv = {.kind = GOPS_KIND_GPU};
	strcpy(nv.name, "gpu0");
	gops_domain_list_add(&f->dl, &nv);
	build_tree(f->root);
	assert_int_equal(ops->open(&f->s, NULL, &f->dl, &f->notes, f->err, sizeof f->err), 0);
	assert_int_equal(f->dl.n, 5);
	const struct gops_domain *g1 = dom(f, "gpu1"), *g2 = dom(f, "gpu2");
	assert_non_null(g1);
	assert_non_null(g2);
	assert_int_equal(g1->kind, GOPS_KIND_GPU);
	assert_int_equal(g1->caps, GOPS_CAP_POWER);
	assert_true(fabs(g1->max_power_w - 300) < 1e-9);
	assert_non_null(strstr(g1->label, "amdgpu"));
	assert_int_equal(g2->caps, GOPS_CAP_POWER | GOPS_CAP_ENERGY);
	const struct gops_domain *in = dom(f, "ina3221-VDD_IN"), *cpu = dom(f, "ina3221-VDD_CPU");
	assert_non_null(in);
	assert_non_null(cpu);
	assert_int_equal(in->kind, GOPS_KIND_OTHER);
	assert_int_equal(in->caps, GOPS_CAP_POWER | GOPS_CAP_ENERGY);
	assert_int_equal(cpu->caps, GOPS_CAP_POWER);

	double v;
	assert_int_equal(ops->read_power(f->s, g1->index, &v), 0);
	assert_true(fabs(v - 35) < 1e-9);
	assert_int_equal(ops->read_energy(f->s, cpu->index, &v), GOPS_ENOTSUP);
	fake_put(f->root, "/class/hwmon/hwmon2/energy1_input", "9500000\n");
	assert_int_equal(ops->read_energy(f->s, in->index, &v), 0);
	assert_true(fabs(v - 2.5) < 1e-9);
	fake_put(f->root, "/class/hwmon/hwmon2/energy1_input", "9000000\n");
	assert_int_equal(ops->read_energy(f->s, in->index, &v), GOPS_READ_DISCONTINUITY);
	assert_true(fabs(v - 2.5) < 1e-9);
	fake_put(f->root, "/class/hwmon/hwmon2/power1_input", "five\n");
	assert_int_equal(ops->read_power(f->s, in->index, &v), -EINVAL);
	assert_non_null(strstr(ops->error(f->s), "hwmon2/power1_input': not a number"));
}

static void test_malformed_and_zero(void **state)
{
	struct fx *f = *state;
	fake_put(f->root, "/class/hwmon/hwmon0/name", "board\n");
	fake_put(f->root, "/class/hwmon/hwmon0/power1_input", "12x\n");
	fake_put(f->root, "/class/hwmon/hwmon0/energy2_input", "0\n");
	fake_put(f->root, "/class/hwmon/hwmon0/power3_input", "0\n");
	assert_int_equal(ops->open(&f->s, NULL, &f->dl, &f->notes, f->err, sizeof f->err), 0);
	assert_int_equal(f->dl.n, 1); /* power3 reads 0 W: a power may be zero */
	assert_string_equal(f->dl.v[0].name, "board-power3");
	assert_true(note_has(f, "hwmon0/power1_input'", "not a number"));
	assert_true(note_has(f, "board-energy2", "present but not moving"));
}

static void test_absent(void **state)
{
	struct fx *f = *state;
	assert_int_equal(ops->open(&f->s, NULL, &f->dl, &f->notes, f->err, sizeof f->err), -ENOENT);
	assert_non_null(strstr(f->err, "/class/hwmon"));
	fake_put(f->root, "/class/hwmon/hwmon0/name", "coretemp\n");
	assert_int_equal(ops->open(&f->s, NULL, &f->dl, &f->notes, f->err, sizeof f->err), -ENOENT);
	assert_non_null(strstr(f->err, "no readable energy or power sensor"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test_setup_teardown(test_tree, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed_and_zero, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_absent, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
