/* The fixture the sensor source tests share: a fake tree under a fresh root, the domain list
 * and notes a source fills, and lookups into them. The including test defines `ops`. */
#ifndef GOPS_TEST_SOURCE_FIXTURE_H
#define GOPS_TEST_SOURCE_FIXTURE_H

#include "fakes/fake_sysfs.h"
#include "sources/source.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct fx {
	char *root;
	struct gops_domain_list dl;
	struct gops_notes notes;
	struct gops_source *s;
	char err[512];
};

/* A fixture whose fake root stands in for /sys or /proc, as `root_env` says. */
static inline struct fx *fx_new(const char *root_env)
{
	struct fx *f = calloc(1, sizeof *f);
	f->root = fake_root_new();
	setenv(root_env, f->root, 1);
	return f;
}

static inline void fx_free(struct fx *f, const struct gops_source_ops *o, const char *root_env)
{
	if (f->s)
		o->close(f->s);
	gops_domain_list_release(&f->dl);
	gops_notes_release(&f->notes);
	fake_root_free(f->root);
	unsetenv(root_env);
	free(f);
}

static inline const struct gops_domain *dom(struct fx *f, const char *name)
{
	for (size_t i = 0; i < f->dl.n; i++)
		if (!strcmp(f->dl.v[i].name, name))
			return &f->dl.v[i];
	return NULL;
}

/* Whether a note contains a (and b, when given). */
static inline bool note_has(struct fx *f, const char *a, const char *b)
{
	for (size_t i = 0; i < f->notes.n; i++)
		if (strstr(f->notes.v[i], a) && (!b || strstr(f->notes.v[i], b)))
			return true;
	return false;
}

#endif
