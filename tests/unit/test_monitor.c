/* The public C API end to end against the fake NVML: a program that links libgreenops marks
 * windows itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <greenops/greenops.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char script[256];
/* The monitor under test, freed by the test's teardown even when an assertion ends the test
 * early (LeakSanitizer would otherwise report what the failure skipped). */
static gops_monitor *live;

static int free_live(void **state)
{
	(void)state;
	gops_monitor_free(live);
	live = NULL;
	return 0;
}

static void gpu_power(int watts)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	FILE *f = fopen(script, "a");
	assert_non_null(f);
	fprintf(f, "%lld 0 %d\n", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec, watts);
	fclose(f);
}

/* The workload: holding a power level for a while is what the fake GPU measures. */
static void hold(double seconds)
{
	struct timespec ts = {(time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9)};
	nanosleep(&ts, NULL);
}

static int setup(void **state)
{
	(void)state;
	const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
	static char lib[512];
	snprintf(lib, sizeof lib, "%s/tests/libfake-nvml.so", build);
	snprintf(script, sizeof script, "/tmp/greenops-test-monitor-%d.script", (int)getpid());
	FILE *f = fopen(script, "w");
	fclose(f);
	setenv("GREENOPS_NVML_LIBRARY", lib, 1);
	setenv("FAKE_NVML_SCRIPT", script, 1);
	setenv("FAKE_NVML_IDLE_W", "60", 1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(script);
	return 0;
}

static void test_windows_through_c_api(void **state)
{
	(void)state;
	struct gops_options o;
	gops_options_init(&o);
	o.sources = "nvml";
	o.idle = GOPS_IDLE_NONE;
	gops_monitor *m;
	assert_int_equal(gops_monitor_new(&m, &o), 0);
	live = m;
	assert_int_equal(gops_monitor_start(m), 0);
	gpu_power(300);
	assert_int_equal(gops_monitor_begin_window(m, "warm", 0), 0);
	hold(1.0);
	assert_int_equal(gops_monitor_end_window(m, "warm", 0), 0);
	gpu_power(200);
	assert_int_equal(gops_monitor_begin_window(m, "train", 0), 0);
	assert_int_equal(gops_monitor_add_units(m, "train", 500), 0);
	hold(2.0);
	assert_int_equal(gops_monitor_end_window(m, "train", 0), 0);
	gpu_power(60);
	assert_int_equal(gops_monitor_end_window(m, "never-begun", 0), -ENOENT);
	assert_int_equal(gops_monitor_stop(m), 0);
	const struct gops_result *r = gops_monitor_result(m);
	assert_non_null(r);
	assert_int_equal(r->n_windows, 2);
	const struct gops_window_result *warm = &r->windows[0], *train = &r->windows[1];
	print_message("warm %.2f ± %.2f J, train %.2f ± %.2f J, %.4f J/unit\n", warm->energy_j,
	              warm->uncertainty_j, train->energy_j, train->uncertainty_j, train->energy_per_unit_j);
	/* The fake draws 300 W from before "warm" begins to after it ends, then 200 W through
	 * "train": the truth is that power times each window's own length, which a loaded
	 * machine stretches beyond the time asked of nanosleep. */
	double warm_true = 300 * (warm->end_s - warm->start_s);
	double train_true = 200 * (train->end_s - train->start_s);
	print_message("truth: warm %.2f J, train %.2f J\n", warm_true, train_true);
	assert_true(warm->end_s - warm->start_s >= 1.0);
	assert_true(fabs(warm->energy_j - warm_true) <= warm->uncertainty_j + 3);
	assert_true(fabs(train->energy_j - train_true) <= train->uncertainty_j + 3);
	assert_true(fabs(train->energy_per_unit_j - train_true / 500) < 0.05 * train_true / 500);
	assert_int_equal(r->domains[0].method, GOPS_METHOD_COUNTER);
	char *json = gops_result_to_json(r, 0, 0);
	assert_non_null(strstr(json, "\"windows\""));
	free(json);
}

/* A window's figures while the monitor runs are final once the counter has been read past its
 * end (one update of the fake's 100 ms counter), and they are the ones stop gives. */
static void test_window_result_while_running(void **state)
{
	(void)state;
	struct gops_options o;
	gops_options_init(&o);
	o.sources = "nvml";
	o.idle = GOPS_IDLE_NONE;
	gops_monitor *m;
	assert_int_equal(gops_monitor_new(&m, &o), 0);
	live = m;
	struct gops_window_result *w = NULL;
	bool final = true;
	assert_int_equal(gops_monitor_window_result(m, "epoch", 0, &w, &final), -EINVAL); /* not started */
	assert_null(w);
	assert_false(final);
	assert_int_equal(gops_monitor_start(m), 0);
	gpu_power(200);
	assert_int_equal(gops_monitor_begin_window(m, "epoch", 0), 0);
	hold(0.5);
	int64_t end = gops_now_ns();
	assert_int_equal(gops_monitor_end_window(m, "epoch", end), 0);
	assert_int_equal(gops_monitor_window_result(m, "epoch", end + 1, &w, NULL), -ENOENT);
	assert_non_null(strstr(gops_monitor_error(m), "no window named 'epoch' ended at"));
	assert_int_equal(gops_monitor_window_result(m, "other", 0, &w, NULL), -ENOENT);
	assert_int_equal(gops_monitor_window_result(m, "", 0, &w, NULL), -EINVAL);
	int64_t asked = gops_now_ns();
	assert_int_equal(gops_monitor_window_result(m, "epoch", end, &w, &final), 0);
	double waited = (double)(gops_now_ns() - asked) / 1e9;
	assert_non_null(w);
	double truth = 200 * (w->end_s - w->start_s);
	print_message("epoch %.3f ± %.3f J after %.3f s (final %d), truth %.3f J\n", w->energy_j,
	              w->uncertainty_j, waited, final, truth);
	assert_true(final);
	assert_true(waited < 1.5); /* one update of 100 ms, on a busy machine somewhat more */
	assert_string_equal(w->name, "epoch");
	assert_false(w->open);
	assert_int_equal(w->n_domains, 1);
	assert_int_equal(w->domains[0].method, GOPS_METHOD_COUNTER);
	assert_true(fabs(w->energy_j - truth) <= w->uncertainty_j + 2);
	/* A window still open has no figures yet. */
	struct gops_window_result *none = NULL;
	assert_int_equal(gops_monitor_begin_window(m, "open", 0), 0);
	assert_int_equal(gops_monitor_window_result(m, "open", 0, &none, NULL), -ENOENT);
	assert_null(none);
	gpu_power(60);
	assert_int_equal(gops_monitor_stop(m), 0);
	const struct gops_result *r = gops_monitor_result(m);
	assert_non_null(r);
	assert_int_equal(r->n_windows, 2);
	print_message("after stop: %.6f ± %.6f J, while running %.6f ± %.6f J\n", r->windows[0].energy_j,
	              r->windows[0].uncertainty_j, w->energy_j, w->uncertainty_j);
	assert_true(fabs(r->windows[0].energy_j - w->energy_j) <= 1e-6 * fabs(r->windows[0].energy_j));
	assert_true(fabs(r->windows[0].end_s - w->end_s) < 1e-9);
	/* After stop, the span's own figures. */
	struct gops_window_result *after = NULL;
	assert_int_equal(gops_monitor_window_result(m, "epoch", 0, &after, &final), 0);
	assert_true(final);
	assert_true(after->energy_j == r->windows[0].energy_j);
	assert_true(after->domains != r->windows[0].domains); /* the caller's copy */
	gops_window_result_free(after);
	gops_window_result_free(w);
	gops_window_result_free(NULL);
}

static void test_errors(void **state)
{
	(void)state;
	struct gops_options o;
	gops_options_init(&o);
	o.sources = "nvml,nonsense";
	gops_monitor *m;
	assert_int_equal(gops_monitor_new(&m, &o), -EINVAL);
	live = m;
	assert_non_null(strstr(gops_monitor_error(m), "unknown source 'nonsense'"));
	gops_monitor_free(m);
	live = NULL;
	o.sources = "nvml";
	assert_int_equal(gops_monitor_new(&m, &o), 0);
	live = m;
	assert_int_equal(gops_monitor_stop(m), -EINVAL); /* never started */
	assert_int_equal(gops_monitor_begin_window(m, "", 0), -EINVAL);
	assert_int_equal(gops_monitor_add_units(m, NULL, -1), -EINVAL);
	assert_int_equal(gops_monitor_tag(m, "", "x"), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_windows_through_c_api, free_live),
	    cmocka_unit_test_teardown(test_window_result_while_running, free_live),
	    cmocka_unit_test_teardown(test_errors, free_live),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
