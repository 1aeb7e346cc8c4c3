/* CSV fields (see csv.h). */
#include "cli/csv.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

void csv_text(FILE *f, const char *s)
{
	if (!s)
		return;
	if (!s[strcspn(s, ",\"\r\n")] && s[0] != ' ' && (!*s || s[strlen(s) - 1] != ' ')) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

void csv_real(FILE *f, double v)
{
	if (isnan(v))
		return;
	if (isinf(v)) {
		fputs(v > 0 ? "Inf" : "-Inf", f);
		return;
	}
	char buf[40];
	snprintf(buf, sizeof buf, "%.15g", v);
	fputs(buf, f);
	if (!buf[strspn(buf, "-0123456789")]) /* no '.' and no exponent: "10" -> "10.0" */
		fputs(".0", f);
}

void csv_int(FILE *f, int64_t v, int64_t min_valid)
{
	if (v >= min_valid)
		fprintf(f, "%" PRId64, v);
}
