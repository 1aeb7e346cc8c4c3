/* The data `greenops analyze` works on: named columns of text cells, read from a CSV file
 * (RFC 4180) or handed in row by row (the results database), each row remembering where it
 * came from (a line, a run) so that a bad value is reported with its place. Columns are
 * turned into numbers only when asked for, so text columns are fine until used. */
#ifndef GOPS_ANALYSIS_TABLE_H
#define GOPS_ANALYSIS_TABLE_H

#include <stddef.h>

struct an_table {
	char *source;         /* file or database path, for messages */
	const char *row_word; /* "line" or "run": what row_ref counts */
	size_t n_cols, n_rows, cap_rows;
	char **names;
	char **cells;       /* n_rows x n_cols, row-major; NULL: no value */
	long long *row_ref; /* line number (the record's first) or run id of each row */
	char err[512];
};

/* Sets up an empty table (no allocation besides the source name). */
void an_table_init(struct an_table *t, const char *source, const char *row_word);
void an_table_release(struct an_table *t);

/* Column names, once, before any row. -EINVAL on an empty or repeated name. */
int an_table_set_header(struct an_table *t, size_t n, const char *const *names);
/* Appends a row of n values (NULL: missing); n must match the header. */
int an_table_add_row(struct an_table *t, long long ref, size_t n, const char *const *values);

/* Reads a whole CSV file: a header line, then records with as many fields. Blank lines are
 * skipped; quoted fields may hold commas, doubled quotes and line breaks. Errors name the
 * file and line: unterminated quote, stray quote, wrong field count, unreadable file. */
int an_table_read_csv(struct an_table *t, const char *path);
/* The same over a buffer (tests); `source` names it in messages. */
int an_table_parse_csv(struct an_table *t, const char *buf, size_t len);

/* Column index by name, or by "tag.NAME" (the database's tag columns); -ENOENT with a
 * message listing the columns. */
int an_table_find(struct an_table *t, const char *name, size_t *col);
/* Keeps the rows whose column `name` equals value (as text, or as numbers when both are);
 * returns the number of rows dropped, or -ENOENT. */
int an_table_where(struct an_table *t, const char *name, const char *value);

/* Parses a cell: 0 with *v set (NAN for a missing value: empty, NA, NaN, null, None),
 * -EINVAL when it is not a finite number. */
int an_parse_number(const char *s, double *v);
/* Column col as numbers (out has n_rows places; NAN where missing). -EINVAL at the first
 * value that is not a number, with the place in t->err. */
int an_table_column(struct an_table *t, size_t col, double *out);

/* The complete pairs of two columns already turned into numbers: rows where both x and y
 * are present go to xs/ys (n_rows places each). Returns how many; *dropped gets the rest. */
size_t an_pairs(const double *x, const double *y, size_t n_rows, double *xs, double *ys, size_t *dropped);

#endif
