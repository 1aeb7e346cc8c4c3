/* Domain lists and notes shared by every source. */
#include "sources/source.h"
#include "base/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *gops_kind_name(enum gops_kind k)
{
	static const char *const names[] = {
	    [GOPS_KIND_GPU] = "gpu",           [GOPS_KIND_PACKAGE] = "package", [GOPS_KIND_DRAM] = "dram",
	    [GOPS_KIND_PSYS] = "psys",         [GOPS_KIND_CORE] = "core",       [GOPS_KIND_UNCORE] = "uncore",
	    [GOPS_KIND_ESTIMATE] = "estimate", [GOPS_KIND_OTHER] = "other",
	};
	return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "other";
}

int gops_domain_list_add(struct gops_domain_list *l, const struct gops_domain *d)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		struct gops_domain *v = realloc(l->v, cap * sizeof *v);
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n] = *d;
	return (int)l->n++;
}

void gops_domain_list_release(struct gops_domain_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

void gops_domain_note(struct gops_domain *d, const char *fmt, ...)
{
	if (d->n_notes >= sizeof d->notes / sizeof d->notes[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->notes[d->n_notes++], sizeof d->notes[0], fmt, ap);
	va_end(ap);
}

void gops_notes_add(struct gops_notes *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	gops_strv_vpushf(&n->v, &n->n, fmt, ap);
	va_end(ap);
}

void gops_notes_release(struct gops_notes *n)
{
	for (size_t i = 0; i < n->n; i++)
		free(n->v[i]);
	free(n->v);
	n->v = NULL;
	n->n = 0;
}

const struct gops_source_ops *gops_source_find(const char *name)
{
	for (size_t i = 0; i < gops_n_sources; i++)
		if (strcmp(gops_sources[i]->name, name) == 0)
			return gops_sources[i];
	return NULL;
}
