/* A strict reader of the TOML subset in toml.h: one pass over the text with a cursor, each
 * value checked against TOML's grammar, the first fault reported with its line. */
#include "cli/toml.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parser {
	const char *s, *end;
	unsigned line;
	const char *table;
	const char *key; /* the key being read, for messages; NULL outside a key's line */
	struct toml_doc *doc;
	unsigned *err_line;
	char *err;
	size_t errlen;
};

static int fail(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct parser *p, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	*p->err_line = p->line;
	if (p->key)
		snprintf(p->err, p->errlen, "key '%s%s%s': %s", p->table, *p->table ? "." : "", p->key, msg);
	else
		snprintf(p->err, p->errlen, "%s", msg);
	return -EINVAL;
}

static char *xstrndup(const char *s, size_t n)
{
	char *d = strndup(s, n);
	if (!d)
		abort();
	return d;
}

static bool bare_key_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
	       c == '-';
}

static void skip_blank(struct parser *p)
{
	while (p->s < p->end && (*p->s == ' ' || *p->s == '\t'))
		p->s++;
}

/* At a line's end: "\n", "\r\n" or the end of the text; consumes it. */
static bool at_newline(struct parser *p)
{
	if (p->s == p->end)
		return true;
	if (*p->s == '\n' || (*p->s == '\r' && p->s + 1 < p->end && p->s[1] == '\n')) {
		p->s += *p->s == '\r' ? 2 : 1;
		p->line++;
		return true;
	}
	return false;
}

/* A comment runs to the line's end; TOML allows no control character in it but tab. */
static int skip_comment(struct parser *p)
{
	if (p->s == p->end || *p->s != '#')
		return 0;
	for (; p->s < p->end && *p->s != '\n'; p->s++)
		if (((unsigned char)*p->s < 0x20 && *p->s != '\t' &&
		     !(*p->s == '\r' && p->s + 1 < p->end && p->s[1] == '\n')) ||
		    *p->s == 0x7f)
			return fail(p, "a control character in a comment");
	return 0;
}

/* After a value or a table header: blanks, an optional comment, then the line's end. */
static int end_of_line(struct parser *p)
{
	skip_blank(p);
	if (skip_comment(p) < 0)
		return -EINVAL;
	if (at_newline(p))
		return 0;
	size_t n = 0;
	while (p->s + n < p->end && p->s[n] != '\n' && p->s[n] != '\r')
		n++;
	return fail(p, "unexpected '%.*s' after the %s", (int)(n > 40 ? 40 : n), p->s,
	            p->key ? "value" : "table header");
}

static const char *bare_key(struct parser *p, size_t *n)
{
	const char *k = p->s;
	while (p->s < p->end && bare_key_char(*p->s))
		p->s++;
	*n = (size_t)(p->s - k);
	return k;
}

/* A code point as UTF-8 into OUT (4 bytes at most); false for a surrogate or beyond U+10FFFF. */
static bool put_utf8(uint32_t c, char *out, size_t *n)
{
	if ((c >= 0xD800 && c <= 0xDFFF) || c > 0x10FFFF)
		return false;
	if (c < 0x80) {
		out[(*n)++] = (char)c;
	} else if (c < 0x800) {
		out[(*n)++] = (char)(0xC0 | c >> 6);
		out[(*n)++] = (char)(0x80 | (c & 0x3F));
	} else if (c < 0x10000) {
		out[(*n)++] = (char)(0xE0 | c >> 12);
		out[(*n)++] = (char)(0x80 | ((c >> 6) & 0x3F));
		out[(*n)++] = (char)(0x80 | (c & 0x3F));
	} else {
		out[(*n)++] = (char)(0xF0 | c >> 18);
		out[(*n)++] = (char)(0x80 | ((c >> 12) & 0x3F));
		out[(*n)++] = (char)(0x80 | ((c >> 6) & 0x3F));
		out[(*n)++] = (char)(0x80 | (c & 0x3F));
	}
	return true;
}

/* A basic "..." or literal '...' string on one line; *out is the decoded text. */
static int string_value(struct parser *p, char **out)
{
	char q = *p->s;
	if (p->end - p->s >= 3 && p->s[1] == q && p->s[2] == q)
		return fail(p, "multi-line strings are not supported");
	p->s++;
	size_t cap = (size_t)(p->end - p->s) + 1, n = 0;
	char *d = malloc(cap);
	if (!d)
		abort();
	for (;;) {
		if (p->s == p->end || *p->s == '\n' || *p->s == '\r') {
			free(d);
			return fail(p, "the string is not closed on its line");
		}
		char c = *p->s++;
		if (c == q)
			break;
		if (((unsigned char)c < 0x20 && c != '\t') || c == 0x7f) {
			free(d);
			return fail(p, "a control character in a string (write it as an escape)");
		}
		if (c != '\\' || q == '\'') {
			d[n++] = c;
			continue;
		}
		char e = p->s < p->end ? *p->s++ : 0;
		const char *simple = strchr("btnfr\"\\", e);
		if (e && simple) {
			d[n++] = "\b\t\n\f\r\"\\"[simple - "btnfr\"\\"];
			continue;
		}
		int digits = e == 'u' ? 4 : e == 'U' ? 8 : 0;
		uint32_t cp = 0;
		for (int i = 0; i < digits; i++, p->s++) {
			char h = p->s < p->end ? *p->s : 0;
			int v = h >= '0' && h <= '9'   ? h - '0'
			        : h >= 'a' && h <= 'f' ? h - 'a' + 10
			        : h >= 'A' && h <= 'F' ? h - 'A' + 10
			                               : -1;
			if (v < 0) {
				free(d);
				return fail(p, "\\%c needs %d hexadecimal digits", e, digits);
			}
			cp = cp << 4 | (uint32_t)v;
		}
		if (!digits || !put_utf8(cp, d, &n)) {
			free(d);
			return digits ? fail(p, "\\%c%0*X is not a Unicode scalar value", e, digits, cp)
			              : fail(p, "unknown escape '\\%c' in a string", e ? e : ' ');
		}
	}
	d[n] = 0;
	*out = d;
	return 0;
}

/* DIGITS: one or more digits, an underscore only between two of them. */
static const char *digits(const char *s, const char *end)
{
	const char *b = s;
	while (s < end && ((*s >= '0' && *s <= '9') ||
	                   (*s == '_' && s > b && s[-1] != '_' && s + 1 < end && s[1] >= '0' && s[1] <= '9')))
		s++;
	return s > b ? s : NULL;
}

/* A decimal integer or float as TOML writes them: [+-] (0 | [1-9]DIGITS) [.DIGITS] [eE[+-]DIGITS]. */
static int number_value(struct parser *p, struct toml_entry *e)
{
	const char *b = p->s, *s = b;
	while (s < p->end && (bare_key_char(*s) || *s == '.' || *s == '+' || *s == ':'))
		s++;
	const char *tok_end = s;
	int shown = (int)(tok_end - b > 40 ? 40 : tok_end - b);
	if (tok_end == b)
		return fail(p, "expected a value (a \"string\", a number, true, false or [\"strings\"])");
	const char *c = b;
	if (*c == '+' || *c == '-')
		c++;
	const char *int_end = digits(c, tok_end);
	bool ok = int_end != NULL, integer = true;
	if (ok && *c == '0' && int_end - c > 1)
		ok = false; /* TOML: no leading zero */
	if (ok && int_end < tok_end && *int_end == '.') {
		integer = false;
		int_end = digits(int_end + 1, tok_end);
		ok = int_end != NULL;
	}
	if (ok && int_end < tok_end && (*int_end == 'e' || *int_end == 'E')) {
		integer = false;
		const char *x = int_end + 1;
		if (x < tok_end && (*x == '+' || *x == '-'))
			x++;
		int_end = digits(x, tok_end);
		ok = int_end != NULL;
	}
	if (!ok || int_end != tok_end)
		return fail(p,
		            "'%.*s' is not a value this file may hold (a \"string\", a decimal number, "
		            "true, false or [\"strings\"])",
		            shown, b);
	char buf[128];
	size_t n = 0;
	for (const char *x = b; x < tok_end && n + 1 < sizeof buf; x++)
		if (*x != '_')
			buf[n++] = *x;
	buf[n] = 0;
	errno = 0;
	e->num = strtod(buf, NULL);
	if (errno == ERANGE && (e->num > 1 || e->num < -1))
		return fail(p, "'%.*s' is out of range", shown, b);
	e->integer = integer;
	e->type = TOML_NUMBER;
	p->s = tok_end;
	return 0;
}

/* Blanks, line ends and comments inside an array. */
static int array_gap(struct parser *p)
{
	for (;;) {
		skip_blank(p);
		if (p->s == p->end)
			return 0;
		if (*p->s == '#') {
			if (skip_comment(p) < 0)
				return -EINVAL;
			continue;
		}
		if (*p->s != '\n' && *p->s != '\r')
			return 0;
		if (!at_newline(p))
			return fail(p, "a carriage return without a line feed");
	}
}

static int array_value(struct parser *p, struct toml_entry *e)
{
	p->s++; /* [ */
	e->type = TOML_ARRAY;
	for (;;) {
		if (array_gap(p) < 0)
			return -EINVAL;
		if (p->s == p->end)
			return fail(p, "the array is not closed");
		if (*p->s == ']') {
			p->s++;
			return 0;
		}
		if (*p->s != '"' && *p->s != '\'')
			return fail(p, "an array here holds strings only");
		char *item;
		if (string_value(p, &item) < 0)
			return -EINVAL;
		char **v = realloc(e->items, (e->n_items + 1) * sizeof *v);
		if (!v)
			abort();
		e->items = v;
		e->items[e->n_items++] = item;
		if (array_gap(p) < 0)
			return -EINVAL;
		if (p->s < p->end && *p->s == ',') {
			p->s++;
			continue;
		}
		if (p->s < p->end && *p->s == ']')
			continue;
		return fail(p, "expected ',' or ']' in the array");
	}
}

static int value(struct parser *p, struct toml_entry *e)
{
	if (p->s == p->end || *p->s == '\n' || *p->s == '\r' || *p->s == '#')
		return fail(p, "no value after '='");
	char c = *p->s;
	if (c == '"' || c == '\'') {
		e->type = TOML_STRING;
		return string_value(p, &e->str);
	}
	if (c == '[')
		return array_value(p, e);
	if (c == '{')
		return fail(p, "inline tables are not supported");
	size_t rest = (size_t)(p->end - p->s);
	for (int b = 0; b < 2; b++) {
		const char *word = b ? "true" : "false";
		size_t n = strlen(word);
		if (rest >= n && !memcmp(p->s, word, n) && (rest == n || !bare_key_char(p->s[n]))) {
			e->type = TOML_BOOL;
			e->boolean = b;
			p->s += n;
			return 0;
		}
	}
	return number_value(p, e);
}

static const struct toml_entry *find(const struct toml_doc *d, const char *table, const char *key)
{
	for (size_t i = 0; i < d->n; i++)
		if (!strcmp(d->v[i].table, table) && !strcmp(d->v[i].key, key))
			return &d->v[i];
	return NULL;
}

/* [name]: one bare name; each table once. Tables seen so far are in SEEN (NUL-separated). */
static int table_header(struct parser *p, char **seen, size_t *seen_len, char **table)
{
	p->s++;
	if (p->s < p->end && *p->s == '[')
		return fail(p, "arrays of tables ([[...]]) are not supported");
	skip_blank(p);
	size_t n;
	const char *name = bare_key(p, &n);
	if (!n)
		return fail(p, "expected a table name of letters, digits, '_' or '-' after '['");
	skip_blank(p);
	if (p->s < p->end && *p->s == '.')
		return fail(p, "dotted table names ([a.b]) are not supported");
	if (p->s == p->end || *p->s != ']')
		return fail(p, "expected ']' after the table name");
	p->s++;
	char *t = xstrndup(name, n);
	for (size_t off = 0; off < *seen_len; off += strlen(*seen + off) + 1)
		if (!strcmp(*seen + off, t)) {
			int rc = fail(p, "table [%s] appears twice", t);
			free(t);
			return rc;
		}
	char *s = realloc(*seen, *seen_len + n + 1);
	if (!s)
		abort();
	memcpy(s + *seen_len, t, n + 1);
	*seen = s;
	*seen_len += n + 1;
	free(*table);
	*table = t;
	return end_of_line(p);
}

static int key_value(struct parser *p, const char *table)
{
	size_t n;
	const char *k = bare_key(p, &n);
	if (!n)
		return fail(p, *p->s == '"' || *p->s == '\''
		                   ? "quoted keys are not supported"
		                   : "expected 'key = value', a [table] or a # comment");
	char *key = xstrndup(k, n);
	p->key = key;
	skip_blank(p);
	int rc = 0;
	struct toml_entry e = {.line = p->line};
	if (p->s < p->end && *p->s == '.')
		rc = fail(p, "dotted keys are not supported");
	else if (p->s == p->end || *p->s != '=')
		rc = fail(p, "expected '=' after the key");
	else if (find(p->doc, table, key)) {
		const struct toml_entry *first = find(p->doc, table, key);
		rc = fail(p, "defined twice (first on line %u)", first->line);
	}
	if (!rc) {
		p->s++;
		skip_blank(p);
		rc = value(p, &e);
	}
	if (!rc)
		rc = end_of_line(p);
	p->key = NULL;
	e.table = xstrndup(table, strlen(table));
	e.key = key;
	struct toml_entry *v = realloc(p->doc->v, (p->doc->n + 1) * sizeof *v);
	if (!v)
		abort();
	p->doc->v = v;
	p->doc->v[p->doc->n++] = e; /* kept on failure too, so that release frees it */
	return rc;
}

int toml_parse(const char *text, size_t len, struct toml_doc *doc, unsigned *err_line, char *err,
               size_t errlen)
{
	memset(doc, 0, sizeof *doc);
	*err_line = 0;
	err[0] = 0;
	struct parser p = {.s = text,
	                   .end = text + len,
	                   .line = 1,
	                   .doc = doc,
	                   .err_line = err_line,
	                   .err = err,
	                   .errlen = errlen};
	if (memchr(text, 0, len)) {
		p.line = 1;
		for (const char *c = text; *c; c++)
			p.line += *c == '\n';
		fail(&p, "a NUL byte: this is not a text file");
		return -EINVAL;
	}
	if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) /* a UTF-8 byte order mark */
		p.s += 3;
	char *table = xstrndup("", 0), *seen = NULL;
	size_t seen_len = 0;
	int rc = 0;
	while (!rc && p.s < p.end) {
		skip_blank(&p);
		if (at_newline(&p))
			continue;
		p.table = table;
		if (*p.s == '#')
			rc = end_of_line(&p);
		else if (*p.s == '[')
			rc = table_header(&p, &seen, &seen_len, &table);
		else
			rc = key_value(&p, table);
	}
	free(table);
	free(seen);
	if (rc)
		toml_doc_release(doc);
	return rc;
}

void toml_doc_release(struct toml_doc *doc)
{
	for (size_t i = 0; i < doc->n; i++) {
		struct toml_entry *e = &doc->v[i];
		free(e->table);
		free(e->key);
		free(e->str);
		for (size_t k = 0; k < e->n_items; k++)
			free(e->items[k]);
		free(e->items);
	}
	free(doc->v);
	memset(doc, 0, sizeof *doc);
}
