/* The registry of energy sources, in the order they are tried (one line per source), and the
 * default choice among them. perf comes before powercap so that, when both reach the same
 * RAPL counters, perf's domains win: powercap skips names already found. */
#include "sources/select.h"
#include "sources/source.h"
#include "base/util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

const struct gops_source_ops *const gops_sources[] = {
    &gops_source_nvml, &gops_source_perf, &gops_source_powercap, &gops_source_hwmon, &gops_source_estimate,
};
const size_t gops_n_sources = sizeof gops_sources / sizeof gops_sources[0];

bool gops_domain_is_rapl(const struct gops_domain *d)
{
	if (d->estimated)
		return false;
	switch (d->kind) {
	case GOPS_KIND_PACKAGE:
	case GOPS_KIND_DRAM:
	case GOPS_KIND_PSYS:
	case GOPS_KIND_CORE:
	case GOPS_KIND_UNCORE:
		return true;
	default:
		return false;
	}
}

bool gops_source_default(const char *name, const struct gops_domain_list *found)
{
	if (strcmp(name, "estimate") != 0)
		return true;
	for (size_t i = 0; found && i < found->n; i++)
		if (gops_domain_is_rapl(&found->v[i]))
			return false;
	return true;
}

static bool has_name(const struct gops_domain_list *dl, const char *name)
{
	for (size_t i = 0; i < dl->n; i++)
		if (strcmp(dl->v[i].name, name) == 0)
			return true;
	return false;
}

static bool has_sensor_kind(const struct gops_domain_list *dl, unsigned kinds)
{
	for (size_t i = 0; i < dl->n; i++)
		if (!dl->v[i].estimated && (kinds & (1u << dl->v[i].kind)))
			return true;
	return false;
}

bool gops_domain_summed(const struct gops_domain_list *dl, size_t i)
{
	const struct gops_domain *d = &dl->v[i];
	if (d->kind == GOPS_KIND_OTHER)
		return false;
	if (d->kind == GOPS_KIND_ESTIMATE) {
		unsigned cpu = 1u << GOPS_KIND_PACKAGE | 1u << GOPS_KIND_PSYS | 1u << GOPS_KIND_CORE;
		unsigned ram = 1u << GOPS_KIND_DRAM | 1u << GOPS_KIND_PSYS;
		bool is_ram = strstr(d->name, "ram") != NULL;
		return !has_sensor_kind(dl, is_ram ? ram : cpu);
	}
	if (d->parent[0] && has_name(dl, d->parent))
		return false;
	/* psys holds the whole RAPL tree: a core whose package is missing still lies inside it. */
	if (gops_domain_is_rapl(d) && d->kind != GOPS_KIND_PSYS && has_sensor_kind(dl, 1u << GOPS_KIND_PSYS))
		return false;
	return true;
}

int gops_sources_parse(const char *list, const struct gops_source_ops **out, size_t cap, size_t *n, char *err,
                       size_t errlen)
{
	*n = 0;
	const char *p = list;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char name[32];
		if (len == 0 || len >= sizeof name) {
			snprintf(err, errlen, "invalid source list '%s': empty or overlong name", list);
			return -EINVAL;
		}
		memcpy(name, p, len);
		name[len] = 0;
		const struct gops_source_ops *ops = gops_source_find(name);
		if (!ops) {
			char known[128] = "";
			for (size_t i = 0; i < gops_n_sources; i++)
				snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s",
				         i ? ", " : "", gops_sources[i]->name);
			snprintf(err, errlen, "unknown source '%s' in '%s' (known: %s)", name, list, known);
			return -EINVAL;
		}
		for (size_t k = 0; k < *n; k++)
			if (out[k] == ops) {
				snprintf(err, errlen, "source '%s' named twice in '%s'", name, list);
				return -EINVAL;
			}
		if (*n >= cap) {
			snprintf(err, errlen, "too many sources in '%s'", list);
			return -EINVAL;
		}
		out[(*n)++] = ops;
		p += len;
		if (*p == ',' && *++p == 0) {
			snprintf(err, errlen, "invalid source list '%s': empty name at the end", list);
			return -EINVAL;
		}
	}
	if (*n == 0) {
		snprintf(err, errlen, "empty source list");
		return -EINVAL;
	}
	return 0;
}
