/* Reading a sweep plan with libyaml's document API (every node keeps its line and column),
 * checking it against the schema of docs/SWEEP.md, and turning it into configurations.
 * Every error is one line, "PATH:LINE:COLUMN: what is wrong", pointing at the node at fault. */
#include "sweep/plan.h"

#include "base/util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

struct ctx {
	struct sweep_plan *plan;
	yaml_document_t *doc;
	char *err;
	size_t errlen;
};

static struct sweep_mark mark_of(const yaml_node_t *n)
{
	return (struct sweep_mark){(unsigned)n->start_mark.line + 1, (unsigned)n->start_mark.column + 1};
}

static void msg_at(char *err, size_t errlen, const char *path, struct sweep_mark m, const char *fmt,
                   va_list ap)
{
	int k = snprintf(err, errlen, "%s:%u:%u: ", path, m.line, m.column);
	if (k >= 0 && (size_t)k < errlen)
		vsnprintf(err + k, errlen - (size_t)k, fmt, ap);
}

static int fail_at(struct ctx *c, struct sweep_mark m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_at(struct ctx *c, struct sweep_mark m, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	msg_at(c->err, c->errlen, c->plan->path, m, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int fail(struct ctx *c, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct ctx *c, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	msg_at(c->err, c->errlen, c->plan->path, mark_of(n), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static yaml_node_t *node(struct ctx *c, int id)
{
	return yaml_document_get_node(c->doc, id);
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static const char *kind_word(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return "a single value";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "nothing";
	}
}

static int want_scalar(struct ctx *c, const yaml_node_t *n, const char *what)
{
	if (n->type != YAML_SCALAR_NODE)
		return fail(c, n, "%s must be a single value, not %s", what, kind_word(n));
	return 0;
}

static int template_of(struct ctx *c, const yaml_node_t *n, const char *what, struct sweep_template *t)
{
	int rc = want_scalar(c, n, what);
	if (rc)
		return rc;
	t->text = gops_xstrdup(scalar(n));
	t->mark = mark_of(n);
	yaml_scalar_style_t st = n->data.scalar.style;
	t->style_offset = st == YAML_SINGLE_QUOTED_SCALAR_STYLE || st == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
	t->multiline = st == YAML_LITERAL_SCALAR_STYLE || st == YAML_FOLDED_SCALAR_STYLE ||
	               n->start_mark.line != n->end_mark.line;
	return 0;
}

static int uint_of(struct ctx *c, const yaml_node_t *n, const char *what, unsigned lo, unsigned *out)
{
	int rc = want_scalar(c, n, what);
	if (rc)
		return rc;
	const char *s = scalar(n);
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (end == s || *end || errno || s[0] == '-' || v < lo || v > 1000000)
		return fail(c, n, "%s must be a whole number from %u to 1000000, not '%s'", what, lo, s);
	*out = (unsigned)v;
	return 0;
}

static int bool_of(struct ctx *c, const yaml_node_t *n, const char *what, bool *out)
{
	int rc = want_scalar(c, n, what);
	if (rc)
		return rc;
	const char *s = scalar(n);
	if (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on"))
		*out = true;
	else if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off"))
		*out = false;
	else
		return fail(c, n, "%s must be true or false, not '%s'", what, s);
	return 0;
}

int sweep_parse_duration(const char *s, double *seconds)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno || !isfinite(v) || v < 0)
		return -EINVAL;
	double scale = 1;
	if (!strcmp(end, "") || !strcmp(end, "s"))
		scale = 1;
	else if (!strcmp(end, "ms"))
		scale = 1e-3;
	else if (!strcmp(end, "m") || !strcmp(end, "min"))
		scale = 60;
	else if (!strcmp(end, "h"))
		scale = 3600;
	else
		return -EINVAL;
	*seconds = v * scale;
	return 0;
}

static int duration_of(struct ctx *c, const yaml_node_t *n, const char *what, double *out)
{
	int rc = want_scalar(c, n, what);
	if (rc)
		return rc;
	if (sweep_parse_duration(scalar(n), out) < 0)
		return fail(c, n, "%s must be a duration (90, 90s, 1.5m, 2h), not '%s'", what, scalar(n));
	return 0;
}

/* A percentage written "5" or "5%". */
static int percent_of(struct ctx *c, const yaml_node_t *n, const char *what, double *out)
{
	int rc = want_scalar(c, n, what);
	if (rc)
		return rc;
	const char *s = scalar(n);
	char *end;
	double v = strtod(s, &end);
	if (end != s && *end == '%')
		end++;
	if (end == s || *end || !isfinite(v) || v <= 0 || v > 1000)
		return fail(c, n, "%s must be a percentage above 0 (5 or 5%%), not '%s'", what, s);
	*out = v;
	return 0;
}

static bool is_number(const char *s)
{
	char *end;
	if (!*s)
		return false;
	double v = strtod(s, &end);
	return !*end && isfinite(v);
}

/* Iterates over a mapping's pairs, checking each key against `keys` (NULL-terminated). */
#define FOR_PAIRS(map, pair)                                                                                 \
	for (yaml_node_pair_t *pair = (map)->data.mapping.pairs.start; pair < (map)->data.mapping.pairs.top; \
	     pair++)

static int check_key(struct ctx *c, const yaml_node_t *k, const char *where, const char *const *keys)
{
	const char *s = scalar(k);
	if (!s)
		return fail(c, k, "a key of %s must be a single word, not %s", where, kind_word(k));
	for (size_t i = 0; keys[i]; i++)
		if (!strcmp(s, keys[i]))
			return 0;
	char list[512] = "";
	for (size_t i = 0; keys[i]; i++) {
		size_t l = strlen(list);
		snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", keys[i]);
	}
	return fail(c, k, "unknown key '%s' in %s (known: %s)", s, where, list);
}

/* A key given twice would silently replace the first: say so instead. */
static int check_unique(struct ctx *c, const yaml_node_t *map)
{
	for (yaml_node_pair_t *a = map->data.mapping.pairs.start; a < map->data.mapping.pairs.top; a++) {
		const char *ka = scalar(node(c, a->key));
		for (yaml_node_pair_t *b = map->data.mapping.pairs.start; ka && b < a; b++) {
			const char *kb = scalar(node(c, b->key));
			if (kb && !strcmp(ka, kb))
				return fail(c, node(c, a->key), "key '%s' is given twice", ka);
		}
	}
	return 0;
}

static int want_mapping(struct ctx *c, const yaml_node_t *n, const char *what)
{
	if (n->type != YAML_MAPPING_NODE)
		return fail(c, n, "%s must be a mapping (KEY: VALUE lines), not %s", what, kind_word(n));
	return check_unique(c, n);
}

/* A command: a list of arguments, or one string run by /bin/sh -c when shell is true. */
static int command_of(struct ctx *c, const yaml_node_t *n, const char *what, size_t *argc,
                      struct sweep_template **argv)
{
	if (n->type == YAML_SCALAR_NODE) {
		*argv = calloc(1, sizeof **argv);
		*argc = 1;
		return template_of(c, n, what, &(*argv)[0]);
	}
	if (n->type != YAML_SEQUENCE_NODE)
		return fail(c, n, "%s must be a list of arguments, not %s", what, kind_word(n));
	size_t len = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (!len)
		return fail(c, n, "%s is an empty list", what);
	*argv = calloc(len, sizeof **argv);
	*argc = len;
	for (size_t i = 0; i < len; i++) {
		int rc =
		    template_of(c, node(c, n->data.sequence.items.start[i]), "each argument", &(*argv)[i]);
		if (rc)
			return rc;
	}
	return 0;
}

static ssize_t param_index(const struct sweep_plan *p, const char *name)
{
	for (size_t i = 0; i < p->n_params; i++)
		if (!strcmp(p->params[i].name, name))
			return (ssize_t)i;
	return -1;
}

static size_t add_value(struct sweep_param *sp, const char *v)
{
	for (size_t i = 0; i < sp->n_values; i++)
		if (!strcmp(sp->values[i], v))
			return i;
	sp->values = realloc(sp->values, (sp->n_values + 1) * sizeof *sp->values);
	sp->values[sp->n_values] = gops_xstrdup(v);
	return sp->n_values++;
}

static int parse_parameters(struct ctx *c, const yaml_node_t *n)
{
	int rc = want_mapping(c, n, "'parameters'");
	if (rc)
		return rc;
	struct sweep_plan *p = c->plan;
	FOR_PAIRS(n, pair_k)
	{
		yaml_node_t *k = node(c, pair_k->key), *v = node(c, pair_k->value);
		const char *name = scalar(k);
		if (!name || !*name)
			return fail(c, k, "a parameter's name must be a single word");
		if (strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
		    strlen(name))
			return fail(c, k,
			            "parameter name '%s' may hold only letters, digits, '_', '.' and '-'",
			            name);
		if (param_index(p, name) >= 0)
			return fail(c, k, "parameter '%s' is given twice", name);
		p->params = realloc(p->params, (p->n_params + 1) * sizeof *p->params);
		struct sweep_param *sp = &p->params[p->n_params++];
		*sp = (struct sweep_param){.name = gops_xstrdup(name), .mark = mark_of(k)};
		if (v->type == YAML_SCALAR_NODE) {
			if (!*scalar(v))
				return fail(c, v, "parameter '%s' has no values (give a list: [1, 2, 4])",
				            name);
			add_value(sp, scalar(v));
			continue;
		}
		if (v->type != YAML_SEQUENCE_NODE)
			return fail(c, v, "parameter '%s' must be a list of values, not %s", name,
			            kind_word(v));
		if (v->data.sequence.items.top == v->data.sequence.items.start)
			return fail(c, v, "parameter '%s' has an empty list of values", name);
		for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
		     it++) {
			yaml_node_t *x = node(c, *it);
			if ((rc = want_scalar(c, x, "each value of a parameter")))
				return rc;
			size_t before = sp->n_values;
			if (add_value(sp, scalar(x)) < before)
				return fail(c, x, "value '%s' of parameter '%s' is given twice", scalar(x),
				            name);
		}
	}
	if (!p->n_params)
		return fail(c, n, "'parameters' is empty");
	return 0;
}

static int parse_combinations(struct ctx *c, const yaml_node_t *n)
{
	struct sweep_plan *p = c->plan;
	if (n->type != YAML_SEQUENCE_NODE)
		return fail(c, n, "'combinations' must be a list of mappings, not %s", kind_word(n));
	size_t len = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (!len)
		return fail(c, n, "'combinations' is an empty list");
	for (size_t i = 0; i < len; i++) {
		yaml_node_t *m = node(c, n->data.sequence.items.start[i]);
		int rc = want_mapping(c, m, "each combination");
		if (rc)
			return rc;
		size_t seen = 0;
		if (i == 0) {
			FOR_PAIRS(m, pair_k)
			{
				yaml_node_t *k = node(c, pair_k->key);
				const char *name = scalar(k);
				if (!name || !*name)
					return fail(c, k, "a parameter's name must be a single word");
				if (param_index(p, name) >= 0)
					return fail(c, k, "parameter '%s' is given twice", name);
				p->params = realloc(p->params, (p->n_params + 1) * sizeof *p->params);
				p->params[p->n_params++] =
				    (struct sweep_param){.name = gops_xstrdup(name), .mark = mark_of(k)};
			}
			if (!p->n_params)
				return fail(c, m, "a combination is empty");
			p->combos = calloc(len * p->n_params, sizeof *p->combos);
		}
		FOR_PAIRS(m, pair_k)
		{
			yaml_node_t *k = node(c, pair_k->key), *v = node(c, pair_k->value);
			const char *name = scalar(k);
			ssize_t pi = name ? param_index(p, name) : -1;
			if (pi < 0)
				return fail(c, k, "parameter '%s' is not in the first combination",
				            name ? name : "?");
			if ((rc = want_scalar(c, v, "a parameter's value")))
				return rc;
			p->combos[i * p->n_params + (size_t)pi] = add_value(&p->params[pi], scalar(v));
			seen++;
		}
		if (seen != p->n_params)
			return fail(c, m, "this combination names %zu of the %zu parameters of the first",
			            seen, p->n_params);
		for (size_t j = 0; j < i; j++)
			if (!memcmp(&p->combos[j * p->n_params], &p->combos[i * p->n_params],
			            p->n_params * sizeof *p->combos))
				return fail(c, m, "this combination repeats combination %zu", j + 1);
	}
	p->n_combos = len;
	return 0;
}

static int parse_cooldown(struct ctx *c, const yaml_node_t *n)
{
	struct sweep_plan *p = c->plan;
	if (n->type == YAML_SCALAR_NODE)
		return duration_of(c, n, "'cooldown'", &p->cooldown_s);
	static const char *const keys[] = {"seconds", "until_idle", "timeout", NULL};
	int rc = want_mapping(c, n, "'cooldown'");
	FOR_PAIRS(n, pair_k)
	{
		yaml_node_t *k = node(c, pair_k->key), *v = node(c, pair_k->value);
		if (rc || (rc = check_key(c, k, "'cooldown'", keys)))
			return rc;
		const char *key = scalar(k);
		if (!strcmp(key, "seconds"))
			rc = duration_of(c, v, "'cooldown: seconds'", &p->cooldown_s);
		else if (!strcmp(key, "until_idle"))
			rc = percent_of(c, v, "'cooldown: until_idle'", &p->cooldown_idle_pct);
		else
			rc = duration_of(c, v, "'cooldown: timeout'", &p->cooldown_timeout_s);
	}
	return rc;
}

static int parse_ready(struct ctx *c, const yaml_node_t *n, struct sweep_service *s)
{
	static const char *const keys[] = {"url", "log", "timeout", NULL};
	int rc = want_mapping(c, n, "'service: ready'");
	FOR_PAIRS(n, pair_k)
	{
		yaml_node_t *k = node(c, pair_k->key), *v = node(c, pair_k->value);
		if (rc || (rc = check_key(c, k, "'service: ready'", keys)))
			return rc;
		const char *key = scalar(k);
		if (!strcmp(key, "url"))
			rc = template_of(c, v, "'ready: url'", &s->ready_url);
		else if (!strcmp(key, "log"))
			rc = template_of(c, v, "'ready: log'", &s->ready_log);
		else
			rc = duration_of(c, v, "'ready: timeout'", &s->ready_timeout_s);
	}
	if (!rc && !s->ready_url.text && !s->ready_log.text)
		return fail(
		    c, n, "'ready' needs 'url' (polled until it answers 2xx) or 'log' (a line to wait for)");
	return rc;
}

/* Service parameters are resolved after 'parameters', wherever they were written. */
static int parse_service(struct ctx *c, const yaml_node_t *n, const yaml_node_t **params_node)
{
	struct sweep_service *s = &c->plan->service;
	static const char *const keys[] = {"command", "shell", "parameters", "ready", "stop_timeout", NULL};
	int rc = want_mapping(c, n, "'service'");
	if (rc)
		return rc;
	s->present = true;
	const yaml_node_t *cmd = NULL;
	FOR_PAIRS(n, pair_k)
	{
		yaml_node_t *k = node(c, pair_k->key), *v = node(c, pair_k->value);
		if ((rc = check_key(c, k, "'service'", keys)))
			return rc;
		const char *key = scalar(k);
		if (!strcmp(key, "command")) {
			cmd = v;
			rc = command_of(c, v, "'service: command'", &s->argc, &s->argv);
		} else if (!strcmp(key, "shell")) {
			rc = bool_of(c, v, "'service: shell'", &s->shell);
		} else if (!strcmp(key, "parameters")) {
			*params_node = v;
		} else if (!strcmp(key, "ready")) {
			rc = parse_ready(c, v, s);
		} else {
			rc = duration_of(c, v, "'service: stop_timeout'", &s->stop_timeout_s);
		}
		if (rc)
			return rc;
	}
	if (!cmd)
		return fail(c, n, "'service' needs a 'command'");
	if (cmd->type == YAML_SCALAR_NODE && !s->shell)
		return fail(c, cmd,
		            "a command written as one string needs 'shell: true' (or write it as a list)");
	if (cmd->type != YAML_SCALAR_NODE && s->shell)
		return fail(c, cmd, "with 'shell: true' the command is one string");
	if (!s->ready_url.text && !s->ready_log.text)
		return fail(c, n, "'service' needs 'ready' (url: or log:) to know when it can take runs");
	return 0;
}

static int resolve_service_params(struct ctx *c, const yaml_node_t *n)
{
	struct sweep_service *s = &c->plan->service;
	if (!n)
		return 0;
	if (n->type == YAML_SCALAR_NODE) {
		s->params = calloc(1, sizeof *s->params);
		ssize_t pi = param_index(c->plan, scalar(n));
		if (pi < 0)
			return fail(c, n, "'service: parameters' names '%s', which is not a parameter",
			            scalar(n));
		s->params[s->n_params++] = (size_t)pi;
		return 0;
	}
	if (n->type != YAML_SEQUENCE_NODE)
		return fail(c, n, "'service: parameters' must be a list of parameter names");
	size_t len = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	s->params = calloc(len ? len : 1, sizeof *s->params);
	for (size_t i = 0; i < len; i++) {
		yaml_node_t *x = node(c, n->data.sequence.items.start[i]);
		ssize_t pi = scalar(x) ? param_index(c->plan, scalar(x)) : -1;
		if (pi < 0)
			return fail(c, x, "'service: parameters' names '%s', which is not a parameter",
			            scalar(x) ? scalar(x) : "?");
		s->params[s->n_params++] = (size_t)pi;
	}
	return 0;
}

static int parse_ladder(struct ctx *c, const yaml_node_t *n)
{
	struct sweep_plan *p = c->plan;
	const yaml_node_t *name = n;
	p->ladder_stop_at_oom = true;
	if (n->type == YAML_MAPPING_NODE) {
		static const char *const keys[] = {"parameter", "stop_at_oom", NULL};
		name = NULL;
		int rc = check_unique(c, n);
		if (rc)
			return rc;
		FOR_PAIRS(n, pair_k)
		{
			yaml_node_t *k = node(c, pair_k->key), *v = node(c, pair_k->value);
			if ((rc = check_key(c, k, "'ladder'", keys)))
				return rc;
			if (!strcmp(scalar(k), "parameter"))
				name = v;
			else if ((rc = bool_of(c, v, "'ladder: stop_at_oom'", &p->ladder_stop_at_oom)))
				return rc;
		}
		if (!name)
			return fail(c, n, "'ladder' needs 'parameter'");
	}
	if (!scalar(name))
		return fail(c, name, "'ladder' names one parameter, not %s", kind_word(name));
	p->ladder = param_index(p, scalar(name));
	if (p->ladder < 0)
		return fail(c, name, "'ladder' names '%s', which is not a parameter", scalar(name));
	return 0;
}

static bool builtin_name(const struct sweep_plan *p, const char *name, size_t len)
{
	static const char *const names[] = {"greenops", "plan_dir", "rep", "sweep_id", NULL};
	for (size_t i = 0; names[i]; i++)
		if (strlen(names[i]) == len && !strncmp(names[i], name, len))
			return true;
	return p->service.present && len == 4 && !strncmp(name, "port", 4);
}

/* Column of byte `off` of a template's text, where that can be told. */
static struct sweep_mark mark_in(const struct sweep_template *t, size_t off)
{
	struct sweep_mark m = t->mark;
	if (!t->multiline)
		m.column += (unsigned)(t->style_offset + (int)off);
	return m;
}

/* A name for a one-line message: control characters shown as '?', long names cut. */
static void printable(char *dst, size_t cap, const char *s, size_t len)
{
	size_t n = len < cap - 4 ? len : cap - 4;
	for (size_t i = 0; i < n; i++)
		dst[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	strcpy(dst + n, n < len ? "..." : "");
}

/* Walks the {NAME} references of a template: fn gets each name; `{{`/`}}` are literal. */
static int check_template(struct ctx *c, const struct sweep_template *t)
{
	if (!t->text)
		return 0;
	const char *s = t->text;
	for (size_t i = 0; s[i]; i++) {
		if ((s[i] == '{' && s[i + 1] == '{') || (s[i] == '}' && s[i + 1] == '}')) {
			i++;
			continue;
		}
		if (s[i] == '}')
			return fail_at(c, mark_in(t, i),
			               "a '}' without its '{' (write '}}' for a literal brace)");
		if (s[i] != '{')
			continue;
		const char *close = strchr(s + i, '}');
		if (!close)
			return fail_at(c, mark_in(t, i),
			               "'{' is not closed (write '{{' for a literal brace)");
		const char *name = s + i + 1;
		size_t len = (size_t)(close - name);
		bool known = builtin_name(c->plan, name, len);
		for (size_t p = 0; !known && p < c->plan->n_params; p++)
			known = strlen(c->plan->params[p].name) == len &&
			        !strncmp(c->plan->params[p].name, name, len);
		char shown[48];
		printable(shown, sizeof shown, name, len);
		if (!known)
			return fail_at(c, mark_in(t, i), "'{%s}' names no parameter (parameters: %s%s)",
			               shown, c->plan->n_params ? c->plan->params[0].name : "none",
			               c->plan->n_params > 1 ? ", ..." : "");
		i = (size_t)(close - s);
	}
	return 0;
}

static int check_templates(struct ctx *c)
{
	struct sweep_plan *p = c->plan;
	int rc = 0;
	for (size_t i = 0; !rc && i < p->argc; i++)
		rc = check_template(c, &p->argv[i]);
	for (size_t i = 0; !rc && i < p->n_run_options; i++)
		rc = check_template(c, &p->run_options[i]);
	for (size_t i = 0; !rc && i < p->n_tags; i++)
		rc = check_template(c, &p->tags[i].value);
	for (size_t i = 0; !rc && i < p->service.argc; i++)
		rc = check_template(c, &p->service.argv[i]);
	if (!rc)
		rc = check_template(c, &p->service.ready_url);
	if (!rc)
		rc = check_template(c, &p->service.ready_log);
	if (!rc)
		rc = check_template(c, &p->units_expr);
	if (!rc)
		rc = check_template(c, &p->model);
	return rc;
}

static const char *const top_keys[] = {"name",       "command",      "shell",       "serve_bench",
                                       "parameters", "combinations", "repetitions", "max_repetitions",
                                       "until_ci",   "order",        "seed",        "units",
                                       "tags",       "time_limit",   "cooldown",    "ladder",
                                       "options",    "model",        "service",     NULL};

static int parse_top(struct ctx *c, const yaml_node_t *root)
{
	struct sweep_plan *p = c->plan;
	int rc = want_mapping(c, root, "a plan");
	if (rc)
		return rc;
	const yaml_node_t *cmd = NULL, *bench = NULL, *params = NULL, *combos = NULL, *ladder = NULL,
	                  *service_params = NULL, *units = NULL, *order = NULL;
	FOR_PAIRS(root, pair_k)
	{
		yaml_node_t *k = node(c, pair_k->key), *v = node(c, pair_k->value);
		if ((rc = check_key(c, k, "the plan", top_keys)))
			return rc;
		const char *key = scalar(k);
		if (!strcmp(key, "name")) {
			if (!(rc = want_scalar(c, v, "'name'")))
				p->name = gops_xstrdup(scalar(v));
		} else if (!strcmp(key, "command")) {
			cmd = v;
		} else if (!strcmp(key, "serve_bench")) {
			bench = v;
		} else if (!strcmp(key, "shell")) {
			rc = bool_of(c, v, "'shell'", &p->shell);
		} else if (!strcmp(key, "parameters")) {
			params = v;
		} else if (!strcmp(key, "combinations")) {
			combos = v;
		} else if (!strcmp(key, "repetitions")) {
			rc = uint_of(c, v, "'repetitions'", 1, &p->repetitions);
		} else if (!strcmp(key, "max_repetitions")) {
			rc = uint_of(c, v, "'max_repetitions'", 1, &p->max_repetitions);
		} else if (!strcmp(key, "until_ci")) {
			rc = percent_of(c, v, "'until_ci'", &p->until_ci_pct);
		} else if (!strcmp(key, "order")) {
			order = v;
			if (!(rc = want_scalar(c, v, "'order'"))) {
				if (!strcmp(scalar(v), "random"))
					p->randomise = true;
				else if (!strcmp(scalar(v), "sequential"))
					p->randomise = false;
				else
					rc = fail(c, v, "'order' is random or sequential, not '%s'",
					          scalar(v));
			}
		} else if (!strcmp(key, "seed")) {
			unsigned s;
			if (!(rc = uint_of(c, v, "'seed'", 0, &s)))
				p->seed = s;
		} else if (!strcmp(key, "units")) {
			units = v;
		} else if (!strcmp(key, "tags")) {
			if ((rc = want_mapping(c, v, "'tags'")))
				return rc;
			FOR_PAIRS(v, pair_tk)
			{
				yaml_node_t *tk = node(c, pair_tk->key), *tv = node(c, pair_tk->value);
				if (!scalar(tk) || !*scalar(tk) || strchr(scalar(tk), '='))
					return fail(c, tk, "a tag's key must be a single word without '='");
				p->tags = realloc(p->tags, (p->n_tags + 1) * sizeof *p->tags);
				struct sweep_tag *t = &p->tags[p->n_tags++];
				*t = (struct sweep_tag){.key = gops_xstrdup(scalar(tk))};
				if ((rc = template_of(c, tv, "a tag's value", &t->value)))
					return rc;
			}
		} else if (!strcmp(key, "time_limit")) {
			rc = duration_of(c, v, "'time_limit'", &p->time_limit_s);
		} else if (!strcmp(key, "cooldown")) {
			rc = parse_cooldown(c, v);
		} else if (!strcmp(key, "ladder")) {
			ladder = v;
		} else if (!strcmp(key, "options")) {
			rc = command_of(c, v, "'options'", &p->n_run_options, &p->run_options);
			if (!rc && v->type == YAML_SCALAR_NODE)
				rc = fail(c, v, "'options' must be a list of greenops options");
		} else if (!strcmp(key, "model")) {
			rc = template_of(c, v, "'model'", &p->model);
		} else if (!strcmp(key, "service")) {
			rc = parse_service(c, v, &service_params);
		}
		if (rc)
			return rc;
	}
	if (cmd && bench)
		return fail(c, bench, "a plan has either 'command' or 'serve_bench', not both");
	if (!cmd && !bench)
		return fail(c, root, "the plan needs 'command' (a list of arguments) or 'serve_bench'");
	p->kind = bench ? SWEEP_KIND_SERVE_BENCH : SWEEP_KIND_RUN;
	const yaml_node_t *what = bench ? bench : cmd;
	if ((rc = command_of(c, what, bench ? "'serve_bench'" : "'command'", &p->argc, &p->argv)))
		return rc;
	if (what->type == YAML_SCALAR_NODE && (bench || !p->shell))
		return fail(c, what,
		            bench ? "'serve_bench' must be a list of serve-bench options"
		                  : "a command written as one string needs 'shell: true' (or write it "
		                    "as a list)");
	if (what->type != YAML_SCALAR_NODE && p->shell)
		return fail(c, what, "with 'shell: true' the command is one string");
	if (params && combos)
		return fail(c, combos, "a plan has either 'parameters' (a grid) or 'combinations', not both");
	if (params)
		rc = parse_parameters(c, params);
	else if (combos)
		rc = parse_combinations(c, combos);
	if (rc)
		return rc;
	if (ladder && (rc = parse_ladder(c, ladder)))
		return rc;
	if ((rc = resolve_service_params(c, service_params)))
		return rc;
	if (p->service.present && p->n_params == 0)
		return fail(c, root, "a plan with a 'service' needs parameters to run inside it");
	if (units) {
		if ((rc = template_of(c, units, "'units'", &p->units_expr)))
			return rc;
		if (!strcmp(p->units_expr.text, "windows")) {
			p->units = SWEEP_UNITS_WINDOWS;
			free(p->units_expr.text);
			p->units_expr.text = NULL;
		} else {
			p->units = SWEEP_UNITS_EXPR;
		}
	}
	if (p->kind == SWEEP_KIND_SERVE_BENCH && p->units == SWEEP_UNITS_EXPR)
		return fail(c, units,
		            "serve-bench runs count their requests and tokens; 'units' is for commands");
	if (p->ladder >= 0 && order && p->randomise)
		return fail(c, order,
		            "a ladder climbs its parameter in order: 'order: random' shuffles only the "
		            "other parameters (leave 'order' out)");
	if (p->max_repetitions && p->max_repetitions < p->repetitions)
		return fail(c, root, "'max_repetitions' (%u) is below 'repetitions' (%u)", p->max_repetitions,
		            p->repetitions);
	if (!p->max_repetitions)
		p->max_repetitions = p->repetitions * 3 > 100 ? p->repetitions : p->repetitions * 3;
	return check_templates(c);
}

/* Every configuration's units must evaluate before anything runs. */
static int check_units(struct ctx *c)
{
	struct sweep_plan *p = c->plan;
	if (p->units != SWEEP_UNITS_EXPR)
		return 0;
	for (size_t i = 0; i < sweep_plan_n_configs(p); i++) {
		double u;
		char why[256];
		if (sweep_plan_units(p, i, &u, why, sizeof why) < 0)
			return fail_at(c, p->units_expr.mark, "'units' %s", why);
	}
	return 0;
}

int sweep_plan_parse(struct sweep_plan *plan, const char *path, const char *buf, size_t len, char *err,
                     size_t errlen)
{
	memset(plan, 0, sizeof *plan);
	plan->path = gops_xstrdup(path);
	const char *slash = strrchr(path, '/');
	plan->dir = slash ? strndup(path, (size_t)(slash - path + (slash == path))) : gops_xstrdup(".");
	plan->repetitions = 1;
	plan->randomise = true;
	plan->seed = 1;
	plan->until_ci_pct = NAN;
	plan->cooldown_idle_pct = NAN;
	plan->cooldown_timeout_s = 300;
	plan->ladder = -1;
	plan->service.ready_timeout_s = 60;
	plan->service.stop_timeout_s = 10;
	plan->text = malloc(len + 1);
	memcpy(plan->text, buf, len);
	plan->text[len] = 0;
	plan->text_len = len;

	yaml_parser_t parser;
	yaml_document_t doc;
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	int rc;
	if (!yaml_parser_load(&parser, &doc)) {
		struct sweep_mark m = {(unsigned)parser.problem_mark.line + 1,
		                       (unsigned)parser.problem_mark.column + 1};
		snprintf(err, errlen, "%s:%u:%u: not valid YAML: %s%s%s", path, m.line, m.column,
		         parser.problem ? parser.problem : "unreadable", parser.context ? " " : "",
		         parser.context ? parser.context : "");
		yaml_parser_delete(&parser);
		return -EINVAL;
	}
	struct ctx c = {.plan = plan, .doc = &doc, .err = err, .errlen = errlen};
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (!root) {
		snprintf(err, errlen, "%s:1:1: the plan is empty", path);
		rc = -EINVAL;
	} else {
		rc = parse_top(&c, root);
		if (!rc) {
			/* A second document would be silently ignored: say so instead. */
			yaml_document_t next;
			if (yaml_parser_load(&parser, &next)) {
				yaml_node_t *r2 = yaml_document_get_root_node(&next);
				if (r2)
					rc =
					    fail(&c, r2, "a plan is one YAML document; this is a second one");
				yaml_document_delete(&next);
			}
		}
		if (!rc)
			rc = check_units(&c);
	}
	for (size_t i = 0; !rc && i < plan->n_params; i++) {
		plan->params[i].numeric = true;
		for (size_t j = 0; j < plan->params[i].n_values; j++)
			plan->params[i].numeric &= is_number(plan->params[i].values[j]);
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	/* Quoted plan text may hold line breaks: the message stays one line. */
	for (char *q = err; rc && *q; q++)
		if ((unsigned char)*q < 0x20)
			*q = '?';
	return rc;
}

int sweep_plan_load(struct sweep_plan *plan, const char *path, char *err, size_t errlen)
{
	memset(plan, 0, sizeof *plan);
	FILE *f = fopen(path, "rb");
	if (!f) {
		int e = errno;
		snprintf(err, errlen, "cannot read plan '%s': %s", path, strerror(e));
		return -e;
	}
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	size_t got;
	while ((got = fread(buf + len, 1, cap - len, f)) > 0) {
		len += got;
		if (len == cap) {
			if (cap >= (1u << 24)) {
				fclose(f);
				free(buf);
				snprintf(err, errlen, "plan '%s' is larger than 16 MiB", path);
				return -EFBIG;
			}
			buf = realloc(buf, cap *= 2);
		}
	}
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		free(buf);
		snprintf(err, errlen, "cannot read plan '%s'", path);
		return -EIO;
	}
	int rc = sweep_plan_parse(plan, path, buf, len, err, errlen);
	free(buf);
	return rc;
}

static void template_release(struct sweep_template *t)
{
	free(t->text);
	t->text = NULL;
}

static void templates_free(struct sweep_template *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		template_release(&v[i]);
	free(v);
}

void sweep_plan_release(struct sweep_plan *p)
{
	free(p->path);
	free(p->dir);
	free(p->name);
	templates_free(p->argv, p->argc);
	for (size_t i = 0; i < p->n_params; i++) {
		free(p->params[i].name);
		for (size_t j = 0; j < p->params[i].n_values; j++)
			free(p->params[i].values[j]);
		free(p->params[i].values);
	}
	free(p->params);
	free(p->combos);
	template_release(&p->units_expr);
	for (size_t i = 0; i < p->n_tags; i++) {
		free(p->tags[i].key);
		template_release(&p->tags[i].value);
	}
	free(p->tags);
	templates_free(p->run_options, p->n_run_options);
	template_release(&p->model);
	templates_free(p->service.argv, p->service.argc);
	free(p->service.params);
	template_release(&p->service.ready_url);
	template_release(&p->service.ready_log);
	free(p->text);
	memset(p, 0, sizeof *p);
}

/* --- configurations ------------------------------------------------------------------ */

size_t sweep_plan_n_configs(const struct sweep_plan *p)
{
	if (p->n_combos)
		return p->n_combos;
	if (!p->n_params)
		return 1;
	size_t n = 1;
	for (size_t i = 0; i < p->n_params; i++)
		n *= p->params[i].n_values;
	return n;
}

size_t sweep_plan_value_index(const struct sweep_plan *p, size_t c, size_t param)
{
	if (p->n_combos)
		return p->combos[c * p->n_params + param];
	/* The grid in the order written: the last parameter varies fastest. */
	for (size_t i = p->n_params; i-- > param + 1;)
		c /= p->params[i].n_values;
	return c % p->params[param].n_values;
}

const char *sweep_plan_value(const struct sweep_plan *p, size_t c, size_t param)
{
	return p->params[param].values[sweep_plan_value_index(p, c, param)];
}

size_t sweep_plan_service_group(const struct sweep_plan *p, size_t c)
{
	size_t g = 0;
	for (size_t i = 0; i < p->service.n_params; i++) {
		size_t pi = p->service.params[i];
		g = g * p->params[pi].n_values + sweep_plan_value_index(p, c, pi);
	}
	return g;
}

/* splitmix64: a small, well-mixed generator, the same on every machine for a given seed. */
static uint64_t next_random(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void shuffle(struct sweep_slot *v, size_t n, uint64_t *state)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)(next_random(state) % i);
		struct sweep_slot t = v[i - 1];
		v[i - 1] = v[j];
		v[j] = t;
	}
}

struct order_ctx {
	const struct sweep_plan *plan;
	const size_t *group_rank;
};
static struct order_ctx order_by;

static int by_group_then_ladder(const void *a, const void *b)
{
	const struct sweep_slot *x = a, *y = b;
	const struct sweep_plan *p = order_by.plan;
	size_t gx = order_by.group_rank[sweep_plan_service_group(p, x->config)];
	size_t gy = order_by.group_rank[sweep_plan_service_group(p, y->config)];
	if (gx != gy)
		return gx < gy ? -1 : 1;
	if (p->ladder >= 0) {
		size_t lx = sweep_plan_value_index(p, x->config, (size_t)p->ladder);
		size_t ly = sweep_plan_value_index(p, y->config, (size_t)p->ladder);
		if (lx != ly)
			return lx < ly ? -1 : 1;
	}
	return 0;
}

int sweep_plan_order(const struct sweep_plan *p, struct sweep_slot **out, size_t *n_out)
{
	size_t nc = sweep_plan_n_configs(p), n = nc * p->repetitions;
	struct sweep_slot *v = calloc(n ? n : 1, sizeof *v);
	if (!v)
		return -ENOMEM;
	/* Repetition r of every configuration comes before repetition r+1 of any (in
	 * sequential order), so a sweep cut short still has every configuration. */
	for (unsigned r = 0; r < p->repetitions; r++)
		for (size_t c = 0; c < nc; c++)
			v[r * nc + c] = (struct sweep_slot){c, r + 1};
	size_t n_groups = 1;
	for (size_t i = 0; i < p->service.n_params; i++)
		n_groups *= p->params[p->service.params[i]].n_values;
	size_t *rank = calloc(n_groups, sizeof *rank);
	if (!rank) {
		free(v);
		return -ENOMEM;
	}
	for (size_t g = 0; g < n_groups; g++)
		rank[g] = g;
	uint64_t state = p->seed;
	if (p->randomise) {
		shuffle(v, n, &state);
		for (size_t g = n_groups; g > 1; g--) {
			size_t j = (size_t)(next_random(&state) % g);
			size_t t = rank[g - 1];
			rank[g - 1] = rank[j];
			rank[j] = t;
		}
	}
	if (p->service.present || p->ladder >= 0) {
		/* A stable sort keeps the shuffle inside each group and ladder step. */
		order_by = (struct order_ctx){p, rank};
		for (size_t i = 1; i < n; i++)
			for (size_t j = i; j > 0 && by_group_then_ladder(&v[j - 1], &v[j]) > 0; j--) {
				struct sweep_slot t = v[j];
				v[j] = v[j - 1];
				v[j - 1] = t;
			}
	}
	free(rank);
	*out = v;
	*n_out = n;
	return 0;
}

/* --- templates and units ------------------------------------------------------------- */

struct buf {
	char *s;
	size_t n, cap;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		b->cap = (b->n + n + 1) * 2;
		b->s = realloc(b->s, b->cap);
	}
	memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = 0;
}

char *sweep_expand(const struct sweep_plan *p, const struct sweep_template *t, size_t c,
                   const struct sweep_builtins *b, char *err, size_t errlen)
{
	struct buf out = {0};
	buf_add(&out, "", 0);
	const char *s = t->text;
	for (size_t i = 0; s[i]; i++) {
		if ((s[i] == '{' && s[i + 1] == '{') || (s[i] == '}' && s[i + 1] == '}')) {
			buf_add(&out, s + i, 1);
			i++;
			continue;
		}
		const char *close = s[i] == '{' ? strchr(s + i, '}') : NULL;
		if (!close) {
			buf_add(&out, s + i, 1);
			continue;
		}
		const char *name = s + i + 1;
		size_t len = (size_t)(close - name);
		char num[32];
		const char *val = NULL;
		for (size_t k = 0; !val && k < p->n_params; k++)
			if (strlen(p->params[k].name) == len && !strncmp(p->params[k].name, name, len))
				val = sweep_plan_value(p, c, k);
		if (!val && len == 8 && !strncmp(name, "greenops", 8))
			val = b ? b->greenops : NULL;
		else if (!val && len == 8 && !strncmp(name, "plan_dir", 8))
			val = p->dir;
		else if (!val && len == 4 && !strncmp(name, "port", 4))
			val = b ? b->port : NULL;
		else if (!val && len == 3 && !strncmp(name, "rep", 3) && b) {
			snprintf(num, sizeof num, "%u", b->rep);
			val = num;
		} else if (!val && len == 8 && !strncmp(name, "sweep_id", 8) && b) {
			snprintf(num, sizeof num, "%lld", b->sweep_id);
			val = num;
		}
		if (!val) {
			struct sweep_mark m = mark_in(t, i);
			snprintf(err, errlen, "%s:%u:%u: '{%.*s}' has no value here", p->path, m.line,
			         m.column, (int)len, name);
			free(out.s);
			return NULL;
		}
		buf_add(&out, val, strlen(val));
		i = (size_t)(close - s);
	}
	return out.s;
}

/* A recursive-descent evaluator: expr := term (('+'|'-') term)*; term := factor (('*'|'/')
 * factor)*; factor := ('-'|'+') factor | number | '(' expr ')'. */
struct eval {
	const char *s;
	size_t i;
	const char *why;
};

static void skip_space(struct eval *e)
{
	while (e->s[e->i] == ' ' || e->s[e->i] == '\t')
		e->i++;
}

static double eval_expr(struct eval *e, int depth);

static double eval_factor(struct eval *e, int depth)
{
	skip_space(e);
	if (depth > 64) {
		e->why = "is nested too deeply";
		return NAN;
	}
	char ch = e->s[e->i];
	if (ch == '-' || ch == '+') {
		e->i++;
		double v = eval_factor(e, depth + 1);
		return ch == '-' ? -v : v;
	}
	if (ch == '(') {
		e->i++;
		double v = eval_expr(e, depth + 1);
		skip_space(e);
		if (e->s[e->i] != ')') {
			if (!e->why)
				e->why = "has a '(' without its ')'";
			return NAN;
		}
		e->i++;
		return v;
	}
	char *end;
	double v = strtod(e->s + e->i, &end);
	if (end == e->s + e->i || isinf(v) || isnan(v)) {
		if (!e->why)
			e->why = "is not a number or an arithmetic expression";
		return NAN;
	}
	e->i = (size_t)(end - e->s);
	return v;
}

static double eval_term(struct eval *e, int depth)
{
	double v = eval_factor(e, depth);
	for (;;) {
		skip_space(e);
		char op = e->s[e->i];
		if (op != '*' && op != '/')
			return v;
		e->i++;
		double r = eval_factor(e, depth);
		if (op == '/' && r == 0 && !e->why)
			e->why = "divides by zero";
		v = op == '*' ? v * r : v / r;
	}
}

static double eval_expr(struct eval *e, int depth)
{
	double v = eval_term(e, depth);
	for (;;) {
		skip_space(e);
		char op = e->s[e->i];
		if (op != '+' && op != '-')
			return v;
		e->i++;
		double r = eval_term(e, depth);
		v = op == '+' ? v + r : v - r;
	}
}

int sweep_eval(const char *expr, double *out, char *err, size_t errlen)
{
	struct eval e = {.s = expr};
	double v = eval_expr(&e, 0);
	skip_space(&e);
	if (!e.why && e.s[e.i])
		e.why = "is not a number or an arithmetic expression";
	if (!e.why && !isfinite(v))
		e.why = "does not give a finite number";
	if (e.why) {
		snprintf(err, errlen, "'%s' %s", expr, e.why);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int sweep_plan_units(const struct sweep_plan *p, size_t c, double *units, char *err, size_t errlen)
{
	*units = NAN;
	if (p->units != SWEEP_UNITS_EXPR)
		return 0;
	char why[256];
	char *s = sweep_expand(p, &p->units_expr, c, NULL, why, sizeof why);
	if (!s) {
		snprintf(err, errlen, "names a value that is not a parameter");
		return -EINVAL;
	}
	int rc = sweep_eval(s, units, err, errlen);
	if (!rc && *units < 0) {
		snprintf(err, errlen, "'%s' is negative", s);
		rc = -EINVAL;
	}
	free(s);
	return rc;
}
