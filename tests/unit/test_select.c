/* Default source choice and overlap rules: when the estimator comes in, which domains a run
 * sums (psys over packages and DRAM, packages over core/uncore, board sensors never, estimates
 * only where no sensor covers them), and --sources parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sources/select.h"
#include "sources/source.h"

#include <errno.h>
#include <string.h>

static void add(struct gops_domain_list *dl, const char *name, enum gops_kind kind, const char *parent)
{
	struct gops_domain d = {.kind = kind, .estimated = kind == GOPS_KIND_ESTIMATE};
	strcpy(d.name, name);
	strcpy(d.parent, parent);
	gops_domain_list_add(dl, &d);
}

/* The names summed, space-separated. */
static const char *summed(const struct gops_domain_list *dl)
{
	static char buf[256];
	buf[0] = 0;
	for (size_t i = 0; i < dl->n; i++)
		if (gops_domain_summed(dl, i))
			strcat(strcat(buf, buf[0] ? " " : ""), dl->v[i].name);
	return buf;
}

static void test_default(void **state)
{
	(void)state;
	struct gops_domain_list dl = {0};
	assert_true(gops_source_default("nvml", &dl));
	assert_true(gops_source_default("estimate", &dl));
	add(&dl, "gpu0", GOPS_KIND_GPU, "");
	add(&dl, "board-VDD_IN", GOPS_KIND_OTHER, "");
	assert_true(gops_source_default("estimate", &dl));
	add(&dl, "core-0", GOPS_KIND_CORE, "package-0");
	assert_false(gops_source_default("estimate", &dl));
	assert_true(gops_source_default("hwmon", &dl));
	gops_domain_list_release(&dl);
	assert_true(gops_source_default("estimate", NULL));
}

static void test_summed(void **state)
{
	(void)state;
	struct gops_domain_list dl = {0};
	add(&dl, "gpu0", GOPS_KIND_GPU, "");
	add(&dl, "package-0", GOPS_KIND_PACKAGE, "");
	add(&dl, "core-0", GOPS_KIND_CORE, "package-0");
	add(&dl, "dram-0", GOPS_KIND_DRAM, "");
	add(&dl, "package-1", GOPS_KIND_PACKAGE, "");
	add(&dl, "uncore-1", GOPS_KIND_UNCORE, "package-1");
	add(&dl, "board-VDD_IN", GOPS_KIND_OTHER, "");
	assert_string_equal(summed(&dl), "gpu0 package-0 dram-0 package-1");
	gops_domain_list_release(&dl);

	add(&dl, "package-0", GOPS_KIND_PACKAGE, "psys");
	add(&dl, "dram-0", GOPS_KIND_DRAM, "psys");
	add(&dl, "psys", GOPS_KIND_PSYS, "");
	assert_string_equal(summed(&dl), "psys");
	gops_domain_list_release(&dl);

	/* A core whose package is missing still lies inside psys. */
	add(&dl, "core-0", GOPS_KIND_CORE, "package-0");
	add(&dl, "psys", GOPS_KIND_PSYS, "");
	assert_string_equal(summed(&dl), "psys");
	gops_domain_list_release(&dl);

	/* psys named as parent but absent (not moving): the packages count. */
	add(&dl, "package-0", GOPS_KIND_PACKAGE, "psys");
	add(&dl, "core-0", GOPS_KIND_CORE, "package-0");
	assert_string_equal(summed(&dl), "package-0");
	gops_domain_list_release(&dl);
}

static void test_estimates(void **state)
{
	(void)state;
	struct gops_domain_list dl = {0};
	add(&dl, "gpu0", GOPS_KIND_GPU, "");
	add(&dl, "cpu-estimate", GOPS_KIND_ESTIMATE, "");
	add(&dl, "ram-estimate", GOPS_KIND_ESTIMATE, "");
	assert_string_equal(summed(&dl), "gpu0 cpu-estimate ram-estimate");
	add(&dl, "package-0", GOPS_KIND_PACKAGE, "");
	assert_string_equal(summed(&dl), "gpu0 ram-estimate package-0");
	add(&dl, "dram-0", GOPS_KIND_DRAM, "");
	assert_string_equal(summed(&dl), "gpu0 package-0 dram-0");
	gops_domain_list_release(&dl);
}

static void test_parse(void **state)
{
	(void)state;
	const struct gops_source_ops *v[8];
	size_t n;
	char err[256];
	assert_int_equal(gops_sources_parse("powercap,perf", v, 8, &n, err, sizeof err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0]->name, "powercap");
	assert_string_equal(v[1]->name, "perf");
	assert_int_equal(gops_sources_parse("estimate", v, 8, &n, err, sizeof err), 0);
	assert_int_equal(gops_sources_parse("powercap,rapl", v, 8, &n, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "unknown source 'rapl'"));
	assert_int_equal(gops_sources_parse("perf,perf", v, 8, &n, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "named twice"));
	assert_int_equal(gops_sources_parse("", v, 8, &n, err, sizeof err), -EINVAL);
	assert_int_equal(gops_sources_parse("perf,", v, 8, &n, err, sizeof err), -EINVAL);
	assert_int_equal(gops_sources_parse(",perf", v, 8, &n, err, sizeof err), -EINVAL);
}

static void test_registry(void **state)
{
	(void)state;
	static const char *const order[] = {"nvml", "perf", "powercap", "hwmon", "estimate"};
	assert_int_equal(gops_n_sources, 5);
	for (size_t i = 0; i < 5; i++) {
		assert_string_equal(gops_sources[i]->name, order[i]);
		assert_non_null(gops_sources[i]->open);
		assert_ptr_equal(gops_source_find(order[i]), gops_sources[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_default), cmocka_unit_test(test_summed),   cmocka_unit_test(test_estimates),
	    cmocka_unit_test(test_parse),   cmocka_unit_test(test_registry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
