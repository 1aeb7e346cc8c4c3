/* Writing CSV (RFC 4180) the one way every table greenops writes uses: export-csv, run
 * --timeline and serve-bench --requests. A missing value is an empty field, never 0; a real
 * number is written as SQLite gives it back (15 significant digits, "10.0" for a whole
 * number), so that a file written during a run and one exported from the database agree. */
#ifndef GOPS_CLI_CSV_H
#define GOPS_CLI_CSV_H

#include <stdint.h>
#include <stdio.h>

/* S quoted where it needs to be (comma, quote, line break, edge spaces); NULL: empty. */
void csv_text(FILE *f, const char *s);
/* V as SQLite's text of a REAL; NAN: empty. */
void csv_real(FILE *f, double v);
/* V; below MIN_VALID (a "not known" marker such as -1): empty. */
void csv_int(FILE *f, int64_t v, int64_t min_valid);

#endif
