/* The quiet checks of `greenops idle`: CPU load from a fake /proc/stat, and the sliding
 * power window that says whether power has settled. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "meter/quiet.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char root[64];

static void write_stat(const char *text)
{
	char path[128];
	snprintf(path, sizeof path, "%s/stat", root);
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	snprintf(root, sizeof root, "/tmp/test_quiet.XXXXXX");
	if (!mkdtemp(root))
		return -1;
	setenv("GREENOPS_PROC_ROOT", root, 1);
	return 0;
}

static int teardown(void **state)
{
	char path[128];
	snprintf(path, sizeof path, "%s/stat", root);
	unlink(path);
	rmdir(root);
	return 0;
}

static void test_cpu_busy(void **state)
{
	struct gops_cpu_times a, b;
	char err[256];
	/* user nice system idle iowait irq softirq steal guest guest_nice */
	write_stat("cpu  100 0 50 800 50 0 0 0 30 0\ncpu0 1 2 3 4\n");
	assert_int_equal(gops_cpu_times_read(&a, err, sizeof err), 0);
	assert_int_equal(a.total, 1000); /* guest time is inside user: not added again */
	assert_int_equal(a.busy, 150);
	write_stat("cpu  400 0 150 1200 250 0 0 0 0 0\n");
	assert_int_equal(gops_cpu_times_read(&b, err, sizeof err), 0);
	/* 400 busy jiffies of 1000: iowait counts as idle */
	assert_true(fabs(gops_cpu_load(&a, &b) - 0.4) < 1e-12);
	assert_true(gops_cpu_load(&a, &a) < 0); /* no tick between them */
	assert_true(gops_cpu_load(&b, &a) < 0);
	/* Old kernels print four fields only. */
	write_stat("cpu 10 0 10 80\n");
	assert_int_equal(gops_cpu_times_read(&a, err, sizeof err), 0);
	assert_int_equal(a.total, 100);
	write_stat("intr 1 2 3\n");
	assert_int_equal(gops_cpu_times_read(&a, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "'cpu' line"));
	teardown(state);
	assert_true(gops_cpu_times_read(&a, err, sizeof err) < 0);
	assert_non_null(strstr(err, "/stat"));
	assert_non_null(strstr(err, root));
}

static void test_power_window(void **state)
{
	struct gops_power_window pw;
	gops_power_window_init(&pw, 1.0);
	double mean, sd, covered;
	assert_false(gops_power_window_stats(&pw, &mean, &sd, &covered));
	gops_power_window_push(&pw, 0.0, 300);
	gops_power_window_push(&pw, 0.0, 999); /* same time: ignored */
	gops_power_window_push(&pw, 0.1, NAN); /* no reading: ignored */
	assert_false(gops_power_window_stats(&pw, &mean, &sd, &covered));
	for (int i = 1; i <= 10; i++)
		gops_power_window_push(&pw, i * 0.1, 300);
	assert_true(gops_power_window_stats(&pw, &mean, &sd, &covered));
	assert_true(mean == 300 && sd == 0 && fabs(covered - 1.0) < 1e-9);
	/* A step: the window sees both levels, then only the new one once 1 s has passed. */
	for (int i = 11; i <= 15; i++)
		gops_power_window_push(&pw, i * 0.1, 60);
	assert_true(gops_power_window_stats(&pw, &mean, &sd, &covered));
	assert_true(sd > 100);
	for (int i = 16; i <= 2000; i++)
		gops_power_window_push(&pw, i * 0.1, 60 + (i % 2 ? 1 : -1));
	assert_true(gops_power_window_stats(&pw, &mean, &sd, &covered));
	assert_true(fabs(mean - 60) < 0.1);
	assert_true(fabs(sd - 1.0) < 0.06); /* +-1 W alternating: sample sd sqrt(11/10) */
	assert_true(covered <= 1.0 + 1e-9);
	/* It slides instead of growing: 2000 pushes, 11 live readings. */
	assert_true(pw.cap <= 64);
	gops_power_window_clear(&pw);
	assert_false(gops_power_window_stats(&pw, &mean, &sd, &covered));
	gops_power_window_release(&pw);
}

static void test_gpu_check_without_nvml(void **state)
{
	setenv("GREENOPS_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1);
	struct gops_gpu_check *c = (void *)1;
	char err[256] = "";
	int r = gops_gpu_check_open(&c, err, sizeof err);
	assert_true(r < 0);
	assert_null(c);
	assert_int_equal(gops_gpu_check_count(c), 0);
	gops_gpu_check_close(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_cpu_busy, setup),
	    cmocka_unit_test(test_power_window),
	    cmocka_unit_test(test_gpu_check_without_nvml),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
