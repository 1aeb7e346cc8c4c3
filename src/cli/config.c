/* The configuration file (config.h): found, read with the strict TOML reader (toml.h), each
 * key checked as its flag's value would be, and kept with the line it came from. */
#include "cli/config.h"
#include "cli/commands.h"
#include "cli/monitor_opts.h"
#include "cli/toml.h"
#include "store/db.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum kind { K_PATH, K_NUMBER, K_CURRENCY, K_SOURCES, K_IDLE };

struct setting {
	const char *table, *key;
	const char *flag; /* the flag that overrides it, without "--" */
	const char *env;  /* the environment variable that overrides the file, or NULL */
	enum kind kind;
	double min, max;  /* K_NUMBER */
	const char *dflt; /* the built-in default, as shown */
};

/* The order is the order `greenops config` shows. */
static const struct setting settings[] = {
    {"", "database", "db", "GREENOPS_DB", K_PATH, 0, 0, NULL},
    {"cost", "carbon_intensity", "carbon-intensity", NULL, K_NUMBER, 0, 5000, "475"},
    {"cost", "pue", "pue", NULL, K_NUMBER, 1, 10, "1"},
    {"cost", "price_per_kwh", "price", NULL, K_NUMBER, 0, 1e6, "(none)"},
    {"cost", "currency", "currency", NULL, K_CURRENCY, 0, 0, "(none)"},
    {"measure", "sources", "sources", NULL, K_SOURCES, 0, 0, "(every sensor found)"},
    {"measure", "interval_ms", "interval", NULL, K_NUMBER, 1, 60000, "100"},
    {"measure", "idle", "idle", NULL, K_IDLE, 0, 0, "(stored if known)"},
    {"measure", "cpu_tdp_w", "cpu-tdp", NULL, K_NUMBER, 1, 5000, "(looked up)"},
};
#define N_SETTINGS (sizeof settings / sizeof settings[0])
enum { S_DATABASE, S_CARBON, S_PUE, S_PRICE, S_CURRENCY, S_SOURCES, S_INTERVAL, S_IDLE, S_CPU_TDP };

static struct {
	char *path;             /* the file looked for; NULL when disabled */
	const char *state;      /* "read", "absent", or why it is off */
	char *text[N_SETTINGS]; /* from the file, as a flag's value would be; NULL: not given */
	unsigned line[N_SETTINGS];
} cfg;

static bool source_known(const char *name, size_t n)
{
	for (size_t i = 0; gops_source_name(i); i++)
		if (strlen(gops_source_name(i)) == n && !strncmp(gops_source_name(i), name, n))
			return true;
	return false;
}

/* Checks TEXT as setting S's value; false with WHY (what is expected) when it is not one. */
static bool check(const struct setting *s, const char *text, char *why, size_t len)
{
	char *end;
	switch (s->kind) {
	case K_PATH:
		snprintf(why, len, "expected a path");
		return text[0] != 0;
	case K_NUMBER: {
		errno = 0;
		double v = strtod(text, &end);
		snprintf(why, len, "expected a number from %g to %g", s->min, s->max);
		return !errno && end != text && !*end && !isnan(v) && v >= s->min && v <= s->max;
	}
	case K_CURRENCY:
		snprintf(why, len, "expected a short name such as EUR");
		return text[0] && strlen(text) <= 16 && !strpbrk(text, " \t\n\r");
	case K_SOURCES:
		for (const char *p = text;; p++) {
			size_t n = strcspn(p, ",");
			if (!source_known(p, n)) {
				char known[128] = "";
				for (size_t i = 0; gops_source_name(i); i++)
					snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s",
					         i ? ", " : "", gops_source_name(i));
				snprintf(why, len, "unknown source '%.*s' (known: %s)",
				         (int)(n > 32 ? 32 : n), p, known);
				return false;
			}
			p += n;
			if (!*p)
				return true;
		}
	case K_IDLE: {
		struct gops_options o;
		gops_options_init(&o);
		snprintf(why, len, "expected none, stored, measure, measure:SECONDS or watts");
		return monitor_idle_parse(text, &o);
	}
	}
	return false;
}

/* A value of the file as a flag's text, or NULL with WHY. */
static char *as_text(const struct setting *s, const struct toml_entry *e, char *why, size_t len)
{
	char buf[64];
	switch (s->kind) {
	case K_PATH: {
		if (e->type != TOML_STRING)
			break;
		const char *home = getenv("HOME");
		if (!strncmp(e->str, "~/", 2)) {
			if (!home || !*home)
				return snprintf(why, len, "'~/' but HOME is not set"), NULL;
			char *p = malloc(strlen(home) + strlen(e->str));
			if (!p)
				abort();
			sprintf(p, "%s%s", home, e->str + 1);
			return p;
		}
		if (e->str[0] != '/')
			return snprintf(why, len, "expected an absolute path or one that begins with ~/"),
			       NULL;
		return strdup(e->str);
	}
	case K_NUMBER:
		if (e->type != TOML_NUMBER)
			break;
		snprintf(buf, sizeof buf, "%.15g", e->num);
		return strdup(buf);
	case K_CURRENCY:
		if (e->type != TOML_STRING)
			break;
		return strdup(e->str);
	case K_SOURCES: {
		if (e->type != TOML_ARRAY)
			break;
		if (!e->n_items)
			return snprintf(why, len,
			                "expected at least one source (leave the key out for every "
			                "sensor found)"),
			       NULL;
		size_t n = 1;
		for (size_t i = 0; i < e->n_items; i++)
			n += strlen(e->items[i]) + 1;
		char *t = calloc(1, n);
		if (!t)
			abort();
		for (size_t i = 0; i < e->n_items; i++) {
			if (!e->items[i][0] || strchr(e->items[i], ',')) {
				free(t);
				return snprintf(why, len, "'%s' is not a source name", e->items[i]), NULL;
			}
			strcat(strcat(t, i ? "," : ""), e->items[i]);
		}
		return t;
	}
	case K_IDLE:
		if (e->type == TOML_STRING)
			return strdup(e->str);
		if (e->type != TOML_NUMBER)
			break;
		snprintf(buf, sizeof buf, "%.15g", e->num);
		return strdup(buf);
	}
	static const char *const expected[] = {
	    [K_PATH] = "a \"string\"",
	    [K_NUMBER] = "a number",
	    [K_CURRENCY] = "a \"string\"",
	    [K_SOURCES] = "an array of strings such as [\"nvml\", \"powercap\"]",
	    [K_IDLE] = "a \"string\" (none, stored, measure, measure:SECONDS) or a number of watts"};
	snprintf(why, len, "expected %s", expected[s->kind]);
	return NULL;
}

static const struct setting *find_setting(const char *table, const char *key)
{
	for (size_t i = 0; i < N_SETTINGS; i++)
		if (!strcmp(settings[i].table, table) && !strcmp(settings[i].key, key))
			return &settings[i];
	return NULL;
}

/* "unknown key 'measure.intervall' (keys of [measure]: sources, interval_ms, ...)" */
static void unknown_key(const struct toml_entry *e, char *msg, size_t len)
{
	size_t off =
	    (size_t)snprintf(msg, len, "unknown key '%s%s%s' (", e->table, *e->table ? "." : "", e->key);
	bool table_known = false;
	for (size_t i = 0; i < N_SETTINGS; i++)
		table_known |= !strcmp(settings[i].table, e->table);
	if (table_known) {
		off += (size_t)snprintf(msg + off, len - off, "keys of %s%s%s:", *e->table ? "[" : "",
		                        *e->table ? e->table : "the top level", *e->table ? "]" : "");
		for (size_t i = 0, k = 0; i < N_SETTINGS && off < len; i++)
			if (!strcmp(settings[i].table, e->table))
				off += (size_t)snprintf(msg + off, len - off, "%s %s", k++ ? "," : "",
				                        settings[i].key);
	} else {
		off += (size_t)snprintf(msg + off, len - off,
		                        "tables: [cost], [measure]; at the top level: database");
	}
	if (off < len)
		snprintf(msg + off, len - off, ")");
}

static int file_error(unsigned line, const char *msg)
{
	fprintf(stderr, "greenops: %s:%u: %s\n", cfg.path, line, msg);
	return -1;
}

static int read_file(char **text, size_t *len, bool must_exist)
{
	FILE *f = fopen(cfg.path, "r");
	if (!f) {
		if (errno == ENOENT && !must_exist) {
			cfg.state = "absent";
			return 1;
		}
		fprintf(stderr, "greenops: cannot read the configuration '%s': %s\n", cfg.path,
		        strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(f);
		fprintf(stderr, "greenops: cannot read the configuration '%s': it is a folder\n", cfg.path);
		return -1;
	}
	size_t cap = 4096, n = 0;
	char *t = malloc(cap);
	while (t) {
		n += fread(t + n, 1, cap - n, f);
		if (n < cap || cap >= (1u << 20))
			break;
		char *g = realloc(t, cap *= 2);
		if (!g)
			free(t);
		t = g;
	}
	bool bad = ferror(f) || !t || n >= (1u << 20);
	fclose(f);
	if (bad) {
		free(t);
		fprintf(stderr, "greenops: cannot read the configuration '%s': %s\n", cfg.path,
		        n >= (1u << 20) ? "larger than 1 MiB" : "read error");
		return -1;
	}
	*text = t;
	*len = n;
	return 0;
}

int config_load(bool disabled)
{
	const char *env = getenv("GREENOPS_CONFIG");
	if (disabled || (env && !*env)) {
		cfg.state = disabled ? "off (--no-config)" : "off (GREENOPS_CONFIG is empty)";
		return 0;
	}
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	if (env) {
		cfg.path = strdup(env);
	} else if (xdg && xdg[0] == '/') { /* XDG: a relative XDG_CONFIG_HOME is ignored */
		cfg.path = malloc(strlen(xdg) + 30);
		if (cfg.path)
			sprintf(cfg.path, "%s/greenops/config.toml", xdg);
	} else if (home && *home) {
		cfg.path = malloc(strlen(home) + 40);
		if (cfg.path)
			sprintf(cfg.path, "%s/.config/greenops/config.toml", home);
	} else {
		cfg.state = "none (no HOME)";
		return 0;
	}
	if (!cfg.path)
		abort();
	char *text;
	size_t len;
	int r = read_file(&text, &len, env != NULL);
	if (r)
		return r < 0 ? -1 : 0;
	struct toml_doc doc;
	unsigned line;
	char msg[512];
	r = toml_parse(text, len, &doc, &line, msg, sizeof msg);
	free(text);
	if (r < 0)
		return file_error(line, msg);
	for (size_t i = 0; i < doc.n; i++) {
		const struct toml_entry *e = &doc.v[i];
		const struct setting *s = find_setting(e->table, e->key);
		char why[256];
		if (!s) {
			unknown_key(e, msg, sizeof msg);
			r = file_error(e->line, msg);
			break;
		}
		char *t = as_text(s, e, why, sizeof why);
		if (!t || !check(s, t, why, sizeof why)) {
			snprintf(msg, sizeof msg, "key '%s%s%s': %s", e->table, *e->table ? "." : "", e->key,
			         why);
			free(t);
			r = file_error(e->line, msg);
			break;
		}
		cfg.text[s - settings] = t;
		cfg.line[s - settings] = e->line;
	}
	toml_doc_release(&doc);
	if (r < 0)
		return -1;
	cfg.state = "read";
	if (cfg.text[S_DATABASE])
		gops_db_set_configured_path(cfg.text[S_DATABASE]);
	return 0;
}

void config_monitor_defaults(struct gops_options *o, unsigned which)
{
	if ((which & CONFIG_SOURCES) && cfg.text[S_SOURCES])
		o->sources = cfg.text[S_SOURCES];
	if ((which & CONFIG_INTERVAL) && cfg.text[S_INTERVAL])
		o->interval_ms = (unsigned)strtod(cfg.text[S_INTERVAL], NULL);
	if ((which & CONFIG_IDLE) && cfg.text[S_IDLE])
		monitor_idle_parse(cfg.text[S_IDLE], o);
	if ((which & CONFIG_CPU_TDP) && cfg.text[S_CPU_TDP])
		o->cpu_tdp_w = strtod(cfg.text[S_CPU_TDP], NULL);
}

void config_cost_defaults(double *carbon, double *pue, double *price, const char **currency)
{
	if (cfg.text[S_CARBON])
		*carbon = strtod(cfg.text[S_CARBON], NULL);
	if (cfg.text[S_PUE])
		*pue = strtod(cfg.text[S_PUE], NULL);
	if (cfg.text[S_PRICE])
		*price = strtod(cfg.text[S_PRICE], NULL);
	if (cfg.text[S_CURRENCY])
		*currency = cfg.text[S_CURRENCY];
}

size_t config_n_settings(void)
{
	return N_SETTINGS;
}

const char *config_setting_flag(size_t i)
{
	return settings[i].flag;
}

bool config_check_flag(const char *verb, size_t i, const char *arg)
{
	char why[256];
	if (check(&settings[i], arg, why, sizeof why))
		return true;
	cmd_usage_error(verb, "invalid value '%s' for --%s (%s)", arg, settings[i].flag, why);
	return false;
}

void config_show(FILE *f, const char *const *flags)
{
	fprintf(f, "# configuration file: %s, %s\n", cfg.path ? cfg.path : "-", cfg.state ? cfg.state : "-");
	for (size_t i = 0; i < N_SETTINGS; i++) {
		const struct setting *s = &settings[i];
		const char *env = s->env ? getenv(s->env) : NULL;
		char name[64], origin[4200], *owned = NULL;
		const char *value;
		snprintf(name, sizeof name, "%s%s%s", s->table, *s->table ? "." : "", s->key);
		if (flags && flags[i]) {
			value = flags[i];
			snprintf(origin, sizeof origin, "flag:--%s", s->flag);
		} else if (env && *env) {
			value = env;
			snprintf(origin, sizeof origin, "env:%s", s->env);
		} else if (cfg.text[i]) {
			value = cfg.text[i];
			snprintf(origin, sizeof origin, "file:%s:%u", cfg.path, cfg.line[i]);
		} else {
			value = s->dflt;
			if (i == S_DATABASE)
				value = owned = gops_db_default_path();
			snprintf(origin, sizeof origin, "default");
		}
		fprintf(f, "%-22s %-*s %s\n", name, (int)(strlen(origin) < 30 ? 30 : strlen(origin)), origin,
		        value ? value : "(none: no HOME)");
		free(owned);
	}
}
