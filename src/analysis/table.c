/* The analysis table: CSV reading (RFC 4180, strict about quotes and field counts so that a
 * malformed line is reported, not guessed at), rows from the database, filtering, and the
 * conversion of a column to numbers with the place of the first bad value. */
#include "analysis/table.h"
#include "base/util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void set_err(struct an_table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(struct an_table *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t->err, sizeof t->err, fmt, ap);
	va_end(ap);
}

void an_table_init(struct an_table *t, const char *source, const char *row_word)
{
	memset(t, 0, sizeof *t);
	t->source = gops_xstrdup(source);
	t->row_word = row_word;
}

void an_table_release(struct an_table *t)
{
	for (size_t i = 0; i < t->n_cols; i++)
		free(t->names[i]);
	for (size_t i = 0; i < t->n_rows * t->n_cols; i++)
		free(t->cells[i]);
	free(t->names);
	free(t->cells);
	free(t->row_ref);
	free(t->source);
	memset(t, 0, sizeof *t);
}

int an_table_set_header(struct an_table *t, size_t n, const char *const *names)
{
	if (t->n_cols) {
		set_err(t, "'%s': the header was already given", t->source);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (!names[i] || !*names[i]) {
			set_err(t, "'%s' header: column %zu has no name", t->source, i + 1);
			return -EINVAL;
		}
		for (size_t k = 0; k < i; k++)
			if (!strcmp(names[k], names[i])) {
				set_err(t, "'%s' header: column '%s' appears twice (columns %zu and %zu)",
				        t->source, names[i], k + 1, i + 1);
				return -EINVAL;
			}
	}
	t->names = calloc(n ? n : 1, sizeof *t->names);
	if (!t->names)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		t->names[i] = gops_xstrdup(names[i]);
	t->n_cols = n;
	return 0;
}

int an_table_add_row(struct an_table *t, long long ref, size_t n, const char *const *values)
{
	if (n != t->n_cols) {
		set_err(t, "'%s' %s %lld: %zu field%s, the header has %zu", t->source, t->row_word, ref, n,
		        n == 1 ? "" : "s", t->n_cols);
		return -EINVAL;
	}
	if (t->n_rows == t->cap_rows) {
		size_t cap = t->cap_rows ? t->cap_rows * 2 : 64;
		char **cells = realloc(t->cells, cap * (t->n_cols ? t->n_cols : 1) * sizeof *cells);
		if (!cells)
			return -ENOMEM;
		t->cells = cells;
		long long *refs = realloc(t->row_ref, cap * sizeof *refs);
		if (!refs)
			return -ENOMEM;
		t->row_ref = refs;
		t->cap_rows = cap;
	}
	char **row = t->cells + t->n_rows * t->n_cols;
	for (size_t i = 0; i < n; i++)
		row[i] = values[i] ? gops_xstrdup(values[i]) : NULL;
	t->row_ref[t->n_rows++] = ref;
	return 0;
}

/* --- CSV ----------------------------------------------------------------------------- */

/* The fields of one record, each a NUL-terminated string in one growing buffer. */
struct record {
	char *buf;
	size_t len, cap;
	size_t *starts;
	size_t n, cap_fields;
};

static void rec_putc(struct record *r, char c)
{
	if (r->len == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 256;
		r->buf = realloc(r->buf, r->cap);
		if (!r->buf)
			abort();
	}
	r->buf[r->len++] = c;
}

static void rec_new_field(struct record *r)
{
	if (r->n == r->cap_fields) {
		r->cap_fields = r->cap_fields ? r->cap_fields * 2 : 16;
		r->starts = realloc(r->starts, r->cap_fields * sizeof *r->starts);
		if (!r->starts)
			abort();
	}
	r->starts[r->n++] = r->len;
}

/* Parses the record starting at buf[*pos] (line *line); leaves *pos after its line end and
 * *line at the next record's line. Returns 1 for a record, 0 at the end, -EINVAL. */
static int parse_record(struct an_table *t, const char *buf, size_t len, size_t *pos, long long *line,
                        struct record *r)
{
	size_t i = *pos;
	r->len = r->n = 0;
	if (i >= len)
		return 0;
	rec_new_field(r);
	for (;;) {
		if (i < len && buf[i] == '"') {
			long long open_line = *line;
			for (i++;; i++) {
				if (i >= len) {
					set_err(t, "'%s' line %lld: the quoted field opened here never ends",
					        t->source, open_line);
					return -EINVAL;
				}
				if (buf[i] == '"') {
					if (i + 1 < len && buf[i + 1] == '"') {
						rec_putc(r, '"');
						i++;
						continue;
					}
					i++;
					break;
				}
				if (buf[i] == '\n')
					(*line)++;
				rec_putc(r, buf[i]);
			}
			if (i < len && buf[i] != ',' && buf[i] != '\n' && buf[i] != '\r') {
				set_err(t, "'%s' line %lld, field %zu: text after the closing quote",
				        t->source, *line, r->n);
				return -EINVAL;
			}
		} else {
			while (i < len && buf[i] != ',' && buf[i] != '\n' && buf[i] != '\r') {
				if (buf[i] == '"') {
					set_err(t,
					        "'%s' line %lld, field %zu: a quote inside an unquoted field",
					        t->source, *line, r->n);
					return -EINVAL;
				}
				if (buf[i] == 0) {
					set_err(t, "'%s' line %lld: a NUL byte (not a text file?)", t->source,
					        *line);
					return -EINVAL;
				}
				rec_putc(r, buf[i++]);
			}
		}
		rec_putc(r, 0);
		if (i < len && buf[i] == ',') {
			i++;
			rec_new_field(r);
			continue;
		}
		break;
	}
	if (i < len && buf[i] == '\r')
		i++;
	if (i < len && buf[i] == '\n')
		i++;
	(*line)++;
	*pos = i;
	return 1;
}

static bool blank_record(const struct record *r)
{
	return r->n == 1 && r->buf[r->starts[0]] == 0;
}

int an_table_parse_csv(struct an_table *t, const char *buf, size_t len)
{
	struct record r = {0};
	const char **fields = NULL;
	size_t pos = 0;
	long long line = 1;
	int rc = 0;
	bool header = false;
	if (len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3))
		pos = 3;
	for (;;) {
		long long at = line;
		/* A field that is only a quoted empty string is not a blank line. */
		bool quoted = pos < len && buf[pos] == '"';
		rc = parse_record(t, buf, len, &pos, &line, &r);
		if (rc <= 0)
			break;
		if (blank_record(&r) && !quoted)
			continue;
		fields = realloc(fields, r.n * sizeof *fields);
		if (!fields)
			abort();
		for (size_t k = 0; k < r.n; k++)
			fields[k] = r.buf + r.starts[k];
		if (!header) {
			rc = an_table_set_header(t, r.n, fields);
			header = true;
		} else {
			rc = an_table_add_row(t, at, r.n, fields);
		}
		if (rc < 0)
			break;
	}
	if (rc == 0 && !header) {
		set_err(t, "'%s' is empty: it needs a header line naming the columns", t->source);
		rc = -EINVAL;
	}
	free(fields);
	free(r.buf);
	free(r.starts);
	return rc < 0 ? rc : 0;
}

int an_table_read_csv(struct an_table *t, const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		int e = errno;
		set_err(t, "cannot read '%s': %s", path, strerror(e));
		return -e;
	}
	size_t len = 0, cap = 1 << 16;
	char *buf = malloc(cap);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	for (;;) {
		if (len == cap) {
			cap *= 2;
			char *b = realloc(buf, cap);
			if (!b) {
				free(buf);
				fclose(f);
				return -ENOMEM;
			}
			buf = b;
		}
		size_t got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		int e = errno ? errno : EIO;
		set_err(t, "cannot read '%s': %s", path, strerror(e));
		free(buf);
		fclose(f);
		return -e;
	}
	fclose(f);
	int rc = an_table_parse_csv(t, buf, len);
	free(buf);
	return rc;
}

/* --- columns ------------------------------------------------------------------------- */

/* Levenshtein distance, for "did you mean"; names are short. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64)
		return (size_t)-1;
	size_t row[65];
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t v = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < v)
				v = up + 1;
			if (row[j - 1] + 1 < v)
				v = row[j - 1] + 1;
			row[j] = v;
			diag = up;
		}
	}
	return row[lb];
}

static bool is_run_column(const struct an_table *t, const char *name)
{
	for (size_t i = 0; i < t->n_cols; i++)
		if (strncmp(t->names[i], "tag.", 4) && !strcmp(t->names[i], name))
			return true;
	return false;
}

int an_table_find(struct an_table *t, const char *name, size_t *col)
{
	for (size_t i = 0; i < t->n_cols; i++)
		if (!strcmp(t->names[i], name)) {
			*col = i;
			return 0;
		}
	for (size_t i = 0; i < t->n_cols; i++)
		if (!strncmp(t->names[i], "tag.", 4) && !strcmp(t->names[i] + 4, name)) {
			*col = i;
			return 0;
		}
	/* Tags first (the columns a user names and mistypes most), then the nearest name. */
	char list[360] = "";
	size_t used = 0, best = 0, best_d = (size_t)-1;
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < t->n_cols; i++) {
			bool tag = !strncmp(t->names[i], "tag.", 4);
			if (tag != (pass == 0))
				continue;
			/* A tag by its short name, as it is looked up, unless a column of the run has
			 * that name too (the column wins the lookup, so the tag needs its prefix). */
			const char *shown = t->names[i];
			if (tag && !is_run_column(t, t->names[i] + 4))
				shown += 4;
			size_t d = edit_distance(name, shown);
			if (d < best_d)
				best_d = d, best = i;
			if (used < sizeof list - 1) {
				int w = snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "",
				                 shown);
				used += w > 0 ? (size_t)w : 0;
			}
		}
	if (used >= sizeof list - 1)
		memcpy(list + sizeof list - 5, "...", 4);
	const char *near = NULL;
	if (t->n_cols && best_d <= (strlen(name) >= 4 ? 2 : 1))
		near = !strncmp(t->names[best], "tag.", 4) && !is_run_column(t, t->names[best] + 4)
		           ? t->names[best] + 4
		           : t->names[best];
	if (near)
		set_err(t, "'%s' has no column '%s'; did you mean '%s'? (columns: %s)", t->source, name, near,
		        list);
	else
		set_err(t, "'%s' has no column '%s' (columns: %s)", t->source, name,
		        t->n_cols ? list : "none");
	return -ENOENT;
}

int an_parse_number(const char *s, double *v)
{
	*v = NAN;
	if (!s)
		return 0;
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n == 0)
		return 0;
	static const char *const missing[] = {"na", "n/a", "nan", "-nan", "null", "none"};
	for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++)
		if (n == strlen(missing[i]) && !strncasecmp(s, missing[i], n))
			return 0;
	char tmp[128];
	if (n >= sizeof tmp)
		return -EINVAL;
	memcpy(tmp, s, n);
	tmp[n] = 0;
	char *end;
	errno = 0;
	double d = strtod(tmp, &end);
	if (end == tmp || *end || !isfinite(d) || (errno == ERANGE && fabs(d) > 1))
		return -EINVAL;
	*v = d;
	return 0;
}

int an_table_column(struct an_table *t, size_t col, double *out)
{
	for (size_t r = 0; r < t->n_rows; r++) {
		const char *s = t->cells[r * t->n_cols + col];
		if (an_parse_number(s, &out[r]) < 0) {
			set_err(t, "'%s' %s %lld, column '%s': '%.60s' is not a finite number", t->source,
			        t->row_word, t->row_ref[r], t->names[col], s);
			return -EINVAL;
		}
	}
	return 0;
}

static bool cell_equals(const char *cell, const char *value)
{
	if (!cell)
		return false;
	if (!strcmp(cell, value))
		return true;
	double a, b;
	return an_parse_number(cell, &a) == 0 && an_parse_number(value, &b) == 0 && !isnan(a) && a == b;
}

int an_table_where(struct an_table *t, const char *name, const char *value)
{
	size_t col;
	int r = an_table_find(t, name, &col);
	if (r < 0)
		return r;
	size_t kept = 0, nc = t->n_cols;
	for (size_t i = 0; i < t->n_rows; i++) {
		char **row = t->cells + i * nc;
		if (!cell_equals(row[col], value)) {
			for (size_t k = 0; k < nc; k++)
				free(row[k]);
			continue;
		}
		if (kept != i) {
			memmove(t->cells + kept * nc, row, nc * sizeof *row);
			t->row_ref[kept] = t->row_ref[i];
		}
		kept++;
	}
	int dropped = (int)(t->n_rows - kept);
	t->n_rows = kept;
	return dropped;
}

size_t an_pairs(const double *x, const double *y, size_t n_rows, double *xs, double *ys, size_t *dropped)
{
	size_t n = 0;
	for (size_t i = 0; i < n_rows; i++) {
		if (isnan(x[i]) || isnan(y[i]))
			continue;
		xs[n] = x[i];
		ys[n++] = y[i];
	}
	*dropped = n_rows - n;
	return n;
}
