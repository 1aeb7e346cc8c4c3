/* libFuzzer entry point for the CSV reader of `greenops analyze --csv`: any bytes give a
 * table or one error line naming the source, never a crash, a leak or undefined behaviour;
 * a table that reads is also searched, filtered and read as numbers as analyze does.
 * Built and run by bench/fuzz.sh csv. */
#include "analysis/table.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct an_table t;
	an_table_init(&t, "fuzz.csv", "line");
	if (an_table_parse_csv(&t, (const char *)data, size) != 0) {
		if (strncmp(t.err, "fuzz.csv", 8) && strncmp(t.err, "'fuzz.csv'", 10))
			__builtin_trap(); /* an error names its input */
		if (strchr(t.err, '\n'))
			__builtin_trap(); /* in one line */
		an_table_release(&t);
		return 0;
	}
	if (t.n_cols) {
		double *v = malloc((t.n_rows + 1) * sizeof *v);
		size_t col;
		if (v && an_table_find(&t, t.names[0], &col) == 0)
			an_table_column(&t, col, v);
		free(v);
		if (t.n_rows && t.cells[0])
			an_table_where(&t, t.names[0], t.cells[0]);
	}
	an_table_release(&t);
	return 0;
}
