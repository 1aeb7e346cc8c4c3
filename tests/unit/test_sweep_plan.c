/* Unit tests of the sweep plan reader: the schema, one error line with file, line and column
 * for each kind of malformed plan, the grid and list of combinations, templates, units
 * expressions, and the run order (seeded shuffle, services kept together, ladders ascending). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sweep/plan.h"
#include "sweep/stats.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int parse(struct sweep_plan *p, const char *text, char *err, size_t errlen)
{
	err[0] = 0;
	return sweep_plan_parse(p, "plan.yaml", text, strlen(text), err, errlen);
}

/* The plan fails with exactly this message (file:line:column: ...). */
static void expect_error(const char *text, const char *prefix)
{
	struct sweep_plan p;
	char err[512];
	int rc = parse(&p, text, err, sizeof err);
	if (rc != -EINVAL || strncmp(err, prefix, strlen(prefix)))
		fail_msg("expected '%s...', got %d '%s'", prefix, rc, err);
	assert_null(strchr(err, '\n'));
	sweep_plan_release(&p);
}

static const char grid[] = "name: g\n"
                           "command: [train, --batch, '{batch}', --arch, '{arch}']\n"
                           "parameters:\n"
                           "  batch: [1, 8, 32]\n"
                           "  arch: [small, wide]\n"
                           "repetitions: 2\n"
                           "units: '{batch} * 10'\n"
                           "tags: {study: cnn}\n"
                           "time_limit: 2m\n"
                           "cooldown: {seconds: 1.5, until_idle: 5%, timeout: 30}\n";

static void test_grid(void **state)
{
	(void)state;
	struct sweep_plan p;
	char err[512];
	assert_int_equal(parse(&p, grid, err, sizeof err), 0);
	assert_string_equal(p.name, "g");
	assert_int_equal(p.kind, SWEEP_KIND_RUN);
	assert_int_equal(p.n_params, 2);
	assert_true(p.params[0].numeric);
	assert_false(p.params[1].numeric);
	assert_int_equal(sweep_plan_n_configs(&p), 6);
	/* The last parameter varies fastest. */
	assert_string_equal(sweep_plan_value(&p, 0, 0), "1");
	assert_string_equal(sweep_plan_value(&p, 0, 1), "small");
	assert_string_equal(sweep_plan_value(&p, 1, 1), "wide");
	assert_string_equal(sweep_plan_value(&p, 5, 0), "32");
	assert_int_equal(p.repetitions, 2);
	assert_true(p.time_limit_s == 120);
	assert_true(p.cooldown_s == 1.5 && p.cooldown_idle_pct == 5 && p.cooldown_timeout_s == 30);
	double u;
	assert_int_equal(sweep_plan_units(&p, 5, &u, err, sizeof err), 0);
	assert_true(u == 320);
	struct sweep_builtins b = {.greenops = "/g", .rep = 2, .sweep_id = 7};
	char *s = sweep_expand(&p, &p.argv[2], 3, &b, err, sizeof err);
	assert_string_equal(s, "8");
	free(s);
	sweep_plan_release(&p);
}

static void test_order(void **state)
{
	(void)state;
	struct sweep_plan p;
	char err[512];
	assert_int_equal(parse(&p, grid, err, sizeof err), 0);
	struct sweep_slot *a, *b;
	size_t na, nb;
	assert_int_equal(sweep_plan_order(&p, &a, &na), 0);
	assert_int_equal(na, 12);
	assert_int_equal(sweep_plan_order(&p, &b, &nb), 0);
	assert_memory_equal(a, b, na * sizeof *a); /* the same seed, the same order */
	/* Every configuration exactly twice, reps 1 and 2. */
	int seen[6][3] = {{0}};
	for (size_t i = 0; i < na; i++)
		seen[a[i].config][a[i].rep]++;
	for (int c = 0; c < 6; c++)
		assert_true(seen[c][1] == 1 && seen[c][2] == 1);
	free(b);
	p.seed = 2;
	assert_int_equal(sweep_plan_order(&p, &b, &nb), 0);
	assert_true(memcmp(a, b, na * sizeof *a) != 0);
	free(b);
	p.randomise = false;
	assert_int_equal(sweep_plan_order(&p, &b, &nb), 0);
	for (size_t i = 0; i < nb; i++)
		assert_true(b[i].config == i % 6 && b[i].rep == i / 6 + 1);
	free(a);
	free(b);
	sweep_plan_release(&p);
}

static void test_ladder_and_service_order(void **state)
{
	(void)state;
	struct sweep_plan p;
	char err[512];
	assert_int_equal(parse(&p,
	                       "serve_bench: [--base-url, 'http://127.0.0.1:{port}', --rate, '{rate}']\n"
	                       "parameters: {max_batch: [8, 64], rate: [1, 2, 4]}\n"
	                       "repetitions: 2\n"
	                       "service:\n"
	                       "  command: [server, --port, '{port}', --max-batch, '{max_batch}']\n"
	                       "  parameters: [max_batch]\n"
	                       "  ready: {url: 'http://127.0.0.1:{port}/v1/models', timeout: 20}\n",
	                       err, sizeof err),
	                 0);
	assert_int_equal(p.kind, SWEEP_KIND_SERVE_BENCH);
	assert_int_equal(p.service.n_params, 1);
	struct sweep_slot *v;
	size_t n;
	assert_int_equal(sweep_plan_order(&p, &v, &n), 0);
	/* One service per max_batch: its runs are together. */
	size_t changes = 0;
	for (size_t i = 1; i < n; i++)
		changes += sweep_plan_service_group(&p, v[i].config) !=
		           sweep_plan_service_group(&p, v[i - 1].config);
	assert_int_equal(changes, 1);
	free(v);
	sweep_plan_release(&p);

	assert_int_equal(parse(&p,
	                       "command: [t, '{batch}']\nparameters: {batch: [1, 2, 4, 8], arch: [a, b]}\n"
	                       "repetitions: 3\nladder: batch\n",
	                       err, sizeof err),
	                 0);
	assert_int_equal(sweep_plan_order(&p, &v, &n), 0);
	for (size_t i = 1; i < n; i++)
		assert_true(sweep_plan_value_index(&p, v[i].config, 0) >=
		            sweep_plan_value_index(&p, v[i - 1].config, 0));
	free(v);
	sweep_plan_release(&p);
}

static void test_combinations(void **state)
{
	(void)state;
	struct sweep_plan p;
	char err[512];
	assert_int_equal(parse(&p,
	                       "command: [t, '{model}', '{batch}']\n"
	                       "combinations:\n"
	                       "  - {model: resnet18, batch: 64}\n"
	                       "  - {model: resnet50, batch: 32}\n",
	                       err, sizeof err),
	                 0);
	assert_int_equal(sweep_plan_n_configs(&p), 2);
	assert_string_equal(sweep_plan_value(&p, 1, 0), "resnet50");
	assert_string_equal(sweep_plan_value(&p, 1, 1), "32");
	sweep_plan_release(&p);
	expect_error("command: [t]\ncombinations:\n  - {a: 1, b: 2}\n  - {a: 2}\n",
	             "plan.yaml:4:5: this combination names 1 of the 2 parameters");
	expect_error("command: [t]\ncombinations:\n  - {a: 1}\n  - {a: 1}\n",
	             "plan.yaml:4:5: this combination repeats combination 1");
}

static void test_malformed(void **state)
{
	(void)state;
	/* Bad YAML: libyaml's own place and words. */
	expect_error("command: [t, '{batch}'\nparameters: {batch: [1]}\n", "plan.yaml:2:");
	expect_error("command: [t]\n  parameters: x\n",
	             "plan.yaml:2:3: not valid YAML: did not find expected key");
	/* Unknown keys, at the top and inside. */
	expect_error("command: [t]\nparameters: {b: [1]}\nrepetition: 3\n",
	             "plan.yaml:3:1: unknown key 'repetition' in the plan (known: name, command,");
	expect_error("command: [t]\nparameters: {b: [1]}\ncooldown: {secs: 3}\n",
	             "plan.yaml:3:12: unknown key 'secs' in 'cooldown'");
	/* Empty grids. */
	expect_error("command: [t]\nparameters:\n  batch: []\n",
	             "plan.yaml:3:10: parameter 'batch' has an empty list of values");
	expect_error("command: [t]\nparameters: {}\n", "plan.yaml:2:13: 'parameters' is empty");
	/* A template naming an unknown parameter: the column of its brace. */
	expect_error("command: [train, --batch, '{bacth}']\nparameters: {batch: [1]}\n",
	             "plan.yaml:1:28: '{bacth}' names no parameter (parameters: batch)");
	expect_error("command:\n  - train\n  - --batch={batch}x{size}\nparameters: {batch: [1]}\n",
	             "plan.yaml:3:21: '{size}' names no parameter");
	/* Other schema errors. */
	expect_error("", "plan.yaml:1:1: the plan is empty");
	expect_error("- a\n- b\n", "plan.yaml:1:1: a plan must be a mapping");
	expect_error("parameters: {b: [1]}\n", "plan.yaml:1:1: the plan needs 'command'");
	expect_error("command: train --batch 1\n",
	             "plan.yaml:1:10: a command written as one string needs 'shell: true'");
	expect_error("command: [t]\nrepetitions: 0\n",
	             "plan.yaml:2:14: 'repetitions' must be a whole number");
	expect_error("command: [t]\ntime_limit: soon\n", "plan.yaml:2:13: 'time_limit' must be a duration");
	expect_error("command: [t, '{b}']\nparameters: {b: [1, 2, 1]}\n",
	             "plan.yaml:2:24: value '1' of parameter 'b'");
	expect_error("command: [t]\nparameters: {b: [1]}\nunits: '{b} *'\n",
	             "plan.yaml:3:8: 'units' '1 *' is not");
	expect_error("command: [t]\nparameters: {b: [x]}\nladder: c\n", "plan.yaml:3:9: 'ladder' names 'c'");
	expect_error("command: [t]\nparameters: {b: [1]}\nservice: {command: [s]}\n",
	             "plan.yaml:3:10: 'service' needs 'ready'");
	expect_error("command: [t, '{port}']\nparameters: {b: [1]}\n",
	             "plan.yaml:1:15: '{port}' names no parameter");
	expect_error("command: [t]\n---\ncommand: [u]\n", "plan.yaml:3:1: a plan is one YAML document");
}

static void test_eval(void **state)
{
	(void)state;
	double v;
	char err[256];
	assert_int_equal(sweep_eval("2 * (3 + 4) / 7 - -1", &v, err, sizeof err), 0);
	assert_true(v == 3);
	assert_int_equal(sweep_eval("1e3*2", &v, err, sizeof err), 0);
	assert_true(v == 2000);
	assert_int_equal(sweep_eval("1 / 0", &v, err, sizeof err), -EINVAL);
	assert_int_equal(sweep_eval("(1 + 2", &v, err, sizeof err), -EINVAL);
	assert_int_equal(sweep_eval("abc", &v, err, sizeof err), -EINVAL);
	assert_int_equal(sweep_eval("", &v, err, sizeof err), -EINVAL);
	double s;
	assert_int_equal(sweep_parse_duration("1.5m", &s), 0);
	assert_true(s == 90);
	assert_int_equal(sweep_parse_duration("250ms", &s), 0);
	assert_true(fabs(s - 0.25) < 1e-12);
	assert_int_equal(sweep_parse_duration("3 days", &s), -EINVAL);
}

static void test_stats(void **state)
{
	(void)state;
	/* 10, 12, 14: mean 12, sd 2, t(0.975, 2) = 4.302653: half width 4.302653 * 2 / sqrt(3). */
	double v[] = {10, 12, 14}, mean, sd, lo, hi;
	sweep_mean_ci(v, 3, 0.95, &mean, &sd, &lo, &hi);
	assert_true(fabs(mean - 12) < 1e-12 && fabs(sd - 2) < 1e-12);
	assert_true(fabs(hi - (12 + 4.302652729911275 * 2 / sqrt(3))) < 1e-9);
	sweep_mean_ci(v, 1, 0.95, &mean, &sd, &lo, &hi);
	assert_true(mean == 10 && isnan(sd) && isnan(lo));
	struct sweep_constraint c;
	char err[256];
	assert_int_equal(sweep_constraint_parse("ttft_p99_ms<=2000", &c, err, sizeof err), 0);
	assert_int_equal(c.metric, SM_TTFT_P99);
	assert_true(sweep_constraint_met(&c, 2000) && !sweep_constraint_met(&c, 2001) &&
	            !sweep_constraint_met(&c, NAN));
	assert_int_equal(sweep_constraint_parse("samples_per_s >= 5000", &c, err, sizeof err), 0);
	assert_int_equal(c.metric, SM_UNITS_PER_S);
	assert_int_equal(sweep_constraint_parse("latency<=3", &c, err, sizeof err), -EINVAL);
	assert_int_equal(sweep_constraint_parse("ttft_p99_ms<=fast", &c, err, sizeof err), -EINVAL);
}

/* Every plan of the fuzzer's corpus and every finding it made parses or fails with one line. */
static void test_fuzz_files(void **state)
{
	(void)state;
	static const char *const dirs[] = {"tests/fixtures/sweep/corpus", "tests/fixtures/sweep/regress",
	                                   "examples"};
	size_t seen = 0;
	for (size_t d = 0; d < sizeof dirs / sizeof dirs[0]; d++) {
		DIR *dir = opendir(dirs[d]);
		if (!dir)
			continue;
		struct dirent *e;
		while ((e = readdir(dir))) {
			if (e->d_name[0] == '.')
				continue;
			char path[512];
			snprintf(path, sizeof path, "%s/%s", dirs[d], e->d_name);
			struct sweep_plan p;
			char err[512] = "";
			int rc = sweep_plan_load(&p, path, err, sizeof err);
			if (rc)
				assert_true(!strncmp(err, path, strlen(path)) && !strchr(err, '\n'));
			else if (d != 1)
				seen++;
			sweep_plan_release(&p);
		}
		closedir(dir);
	}
	assert_true(seen >= 5); /* the corpus and the examples read */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_grid),
	    cmocka_unit_test(test_order),
	    cmocka_unit_test(test_ladder_and_service_order),
	    cmocka_unit_test(test_combinations),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_eval),
	    cmocka_unit_test(test_stats),
	    cmocka_unit_test(test_fuzz_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
