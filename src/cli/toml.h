/* The small part of TOML (toml.io, v1.0) that the configuration file uses, read strictly:
 * `key = value` lines under optional `[table]` headers, `#` comments, and values that are
 * strings (basic "..." with escapes, literal '...'), decimal integers and floats, booleans, or
 * arrays of strings (which may span lines). Anything else TOML allows (dotted or quoted keys,
 * inline tables, arrays of tables, dates, multi-line strings, hexadecimal, inf and nan) is
 * refused with a message, as are the duplicate keys and tables TOML itself forbids. */
#ifndef GOPS_CLI_TOML_H
#define GOPS_CLI_TOML_H

#include <stdbool.h>
#include <stddef.h>

enum toml_type { TOML_STRING, TOML_NUMBER, TOML_BOOL, TOML_ARRAY };

struct toml_entry {
	char *table; /* "" at the top level */
	char *key;
	unsigned line; /* where the key is, from 1 */
	enum toml_type type;
	char *str;    /* TOML_STRING */
	double num;   /* TOML_NUMBER */
	bool integer; /* TOML_NUMBER written without a fraction or an exponent */
	bool boolean; /* TOML_BOOL */
	char **items; /* TOML_ARRAY: strings */
	size_t n_items;
};

struct toml_doc {
	struct toml_entry *v; /* in the order of the text */
	size_t n;
};

/* Parses LEN bytes of TEXT into DOC. Returns 0, or -EINVAL with *err_line the line at fault
 * and ERR one line saying what is wrong there, naming the key where there is one (DOC is then
 * empty). */
int toml_parse(const char *text, size_t len, struct toml_doc *doc, unsigned *err_line, char *err,
               size_t errlen);
void toml_doc_release(struct toml_doc *doc);

#endif
