/* The estimator: /proc/stat and /proc/cpuinfo parsing, the TDP choice (given, table, per-thread
 * default), the load model, RAM from meminfo, and the source over a fake /proc tree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fakes/source_fixture.h"
#include "sources/source.h"
#include "sources/estimate.h"
#include "sources/sysfs.h"

#include <errno.h>
#include <math.h>
#include <string.h>

extern const struct gops_source_ops gops_source_estimate;
static const struct gops_source_ops *ops = &gops_source_estimate;

static const char cpuinfo_8480[] = "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum 8480+\n\n"
                                   "processor\t: 1\nmodel name\t: Intel(R) Xeon(R) Platinum 8480+\n\n"
                                   "processor\t: 2\nmodel name\t: Intel(R) Xeon(R) Platinum 8480+\n\n"
                                   "processor\t: 3\nmodel name\t: Intel(R) Xeon(R) Platinum 8480+\n";

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	f->root = fake_root_new();
	setenv("GREENOPS_PROC_ROOT", f->root, 1);
	fake_put(f->root, "/stat", "cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 50 0 50 400 0 0 0 0 0 0\n");
	fake_put(f->root, "/cpuinfo", "%s", cpuinfo_8480);
	fake_put(f->root, "/meminfo", "MemTotal:       16000000 kB\nMemFree:  100 kB\n");
	*state = f;
	return f->root ? 0 : -1;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	if (f->s)
		ops->close(f->s);
	gops_domain_list_release(&f->dl);
	gops_notes_release(&f->notes);
	fake_root_free(f->root);
	unsetenv("GREENOPS_PROC_ROOT");
	free(f);
	return 0;
}

static void test_stat(void **state)
{
	(void)state;
	struct gops_cpu_times a, b;
	assert_int_equal(gops_cpu_times_parse("cpu  10 2 3 80 5 1 1 7 0 0\n", &a), 0);
	assert_int_equal(a.busy, 17);
	assert_int_equal(a.total, 102); /* steal left out */
	assert_int_equal(gops_cpu_times_parse("cpu0 1 2 3 4\n", &a), -EINVAL);
	assert_int_equal(gops_cpu_times_parse("cpu  1 x\n", &a), -EINVAL);
	a = (struct gops_cpu_times){.busy = 100, .total = 1000};
	b = (struct gops_cpu_times){.busy = 175, .total = 1100};
	assert_true(fabs(gops_cpu_load(&a, &b) - 0.75) < 1e-12);
	assert_true(gops_cpu_load(&a, &a) < 0);
}

static void test_model(void **state)
{
	(void)state;
	assert_true(fabs(gops_estimate_cpu_power(100, 0) - 100 * GOPS_ESTIMATE_IDLE_FRACTION) < 1e-9);
	assert_true(fabs(gops_estimate_cpu_power(100, 1) - 100) < 1e-9);
	assert_true(fabs(gops_estimate_cpu_power(100, 0.5) - (21 + 39.5)) < 1e-9);
	assert_true(fabs(gops_estimate_cpu_power(100, 7) - 100) < 1e-9);
	assert_int_equal(gops_estimate_threads(cpuinfo_8480), 4);
	assert_int_equal(gops_estimate_threads(""), 1);
	double w, gb;
	assert_int_equal(gops_estimate_ram("MemTotal:       8000000 kB\n", &w, &gb), 0);
	assert_true(fabs(gb - 8.192) < 1e-9);
	assert_true(fabs(w - 8.192 * GOPS_ESTIMATE_W_PER_GB) < 1e-9);
	assert_int_equal(gops_estimate_ram("MemFree: 1 kB\n", &w, &gb), -EINVAL);
}

static void test_tdp_choice(void **state)
{
	(void)state;
	double tdp;
	enum gops_tdp_origin o;
	char why[128];
	gops_estimate_tdp(cpuinfo_8480, 95.5, &tdp, &o, why, sizeof why);
	assert_int_equal(o, GOPS_TDP_GIVEN);
	assert_true(tdp == 95.5);
	assert_non_null(strstr(why, "given"));
	/* 350 W for 112 threads; this machine shows 4 of them. */
	gops_estimate_tdp(cpuinfo_8480, 0, &tdp, &o, why, sizeof why);
	assert_int_equal(o, GOPS_TDP_TABLE);
	assert_true(fabs(tdp - 12.5) < 1e-9);
	assert_non_null(strstr(why, "Platinum 8480"));
	const char other[] = "processor : 0\nmodel name : Some CPU\nprocessor : 1\n";
	gops_estimate_tdp(other, 0, &tdp, &o, why, sizeof why);
	assert_int_equal(o, GOPS_TDP_DEFAULT);
	assert_true(fabs(tdp - 2 * GOPS_ESTIMATE_W_PER_THREAD) < 1e-9);
	assert_non_null(strstr(why, "Some CPU"));
}

static void test_source(void **state)
{
	struct fx *f = *state;
	assert_int_equal(ops->open(&f->s, NULL, &f->dl, &f->notes, f->err, sizeof f->err), 0);
	assert_int_equal(f->dl.n, 2);
	const struct gops_domain *cpu = &f->dl.v[0], *ram = &f->dl.v[1];
	assert_string_equal(cpu->name, "cpu-estimate");
	assert_string_equal(ram->name, "ram-estimate");
	assert_int_equal(cpu->kind, GOPS_KIND_ESTIMATE);
	assert_true(cpu->estimated && ram->estimated);
	assert_int_equal(cpu->caps, GOPS_CAP_POWER);
	assert_non_null(strstr(cpu->label, "estimate"));
	assert_non_null(strstr(cpu->label, "Platinum 8480"));
	assert_true(cpu->n_notes >= 2);
	assert_non_null(strstr(cpu->notes[0], "estimated, not measured"));
	assert_non_null(strstr(cpu->notes[1], "no readable RAPL"));

	double w;
	/* 300 more ticks, 150 of them busy: load 0.5. */
	fake_put(f->root, "/stat", "cpu  200 0 150 950 0 0 0 0 0 0\n");
	assert_int_equal(ops->read_power(f->s, 0, &w), 0);
	assert_true(fabs(w - gops_estimate_cpu_power(12.5, 0.5)) < 1e-9);
	/* No tick since: the last figure stands. */
	assert_int_equal(ops->read_power(f->s, 0, &w), 0);
	assert_true(fabs(w - gops_estimate_cpu_power(12.5, 0.5)) < 1e-9);
	fake_put(f->root, "/stat", "cpu  300 0 150 950 0 0 0 0 0 0\n");
	assert_int_equal(ops->read_power(f->s, 0, &w), 0);
	assert_true(fabs(w - 12.5) < 1e-9);
	assert_int_equal(ops->read_power(f->s, 1, &w), 0);
	assert_true(fabs(w - 16.384 * GOPS_ESTIMATE_W_PER_GB) < 1e-9);
	assert_int_equal(ops->read_energy(f->s, 0, &w), GOPS_ENOTSUP);
	fake_put(f->root, "/stat", "intr 5\n");
	assert_int_equal(ops->read_power(f->s, 0, &w), -EINVAL);
	assert_non_null(strstr(ops->error(f->s), "/stat': no aggregate 'cpu' line"));
}

static void test_source_args_and_errors(void **state)
{
	struct fx *f = *state;
	/* The full-load power comes through open()'s arguments; the environment is not read. */
	setenv("GREENOPS_CPU_TDP", "nonsense", 1);
	const struct gops_source_args args = {.cpu_tdp_w = 40};
	unlink(fake_path(f->err, sizeof f->err, f->root, "/meminfo"));
	assert_int_equal(ops->open(&f->s, &args, &f->dl, &f->notes, f->err, sizeof f->err), 0);
	unsetenv("GREENOPS_CPU_TDP");
	assert_int_equal(f->dl.n, 1);
	assert_non_null(strstr(f->dl.v[0].label, "40 W TDP given"));
	assert_true(f->dl.v[0].max_power_w == 40);
	assert_int_equal(f->notes.n, 1);
	assert_non_null(strstr(f->notes.v[0], "/meminfo'"));
	ops->close(f->s);
	f->s = NULL;
	unlink(fake_path(f->err, sizeof f->err, f->root, "/stat"));
	assert_int_equal(ops->open(&f->s, NULL, &f->dl, &f->notes, f->err, sizeof f->err), -ENOENT);
	assert_non_null(strstr(f->err, "/stat'"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stat),
	    cmocka_unit_test(test_model),
	    cmocka_unit_test(test_tdp_choice),
	    cmocka_unit_test_setup_teardown(test_source, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_source_args_and_errors, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
