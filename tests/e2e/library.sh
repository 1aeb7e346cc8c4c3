#!/usr/bin/env bash
# The library's edge is its header: libgreenops.so exports only the gops_* functions that
# include/greenops/greenops.h declares, and a program that only measures links with
# `pkg-config --libs greenops` and needs no HTTP, statistics or protobuf library.
. "$(dirname "$0")/lib.sh"
HDR="$TESTS_DIR/../include/greenops/greenops.h"
SO="$BUILD_ABS/libgreenops.so"

check "the shared library is built" test -f "$SO"
nm -D --defined-only "$SO" | awk '$2 ~ /^[TDRBVW]$/ { print $3 }' | sort -u >"$SCRATCH/exported"
grep -oE '^GOPS_EXPORT [^(]*\b(gops_[a-z0-9_]+)\(' "$HDR" | grep -oE 'gops_[a-z0-9_]+\($' | tr -d '(' | sort -u \
	>"$SCRATCH/declared"
n=$(wc -l <"$SCRATCH/exported")
eq "every exported symbol is a gops_* function of greenops.h ($n exported)" \
	"$(comm -23 "$SCRATCH/exported" "$SCRATCH/declared" | tr '\n' ' ')" ""
eq "every function of greenops.h is exported" "$(comm -13 "$SCRATCH/exported" "$SCRATCH/declared" | tr '\n' ' ')" ""

# A program that only measures, built the way a user builds one (uninstalled .pc variant).
cat >"$SCRATCH/measure.c" <<'C'
#include <greenops/greenops.h>
#include <stdio.h>
int main(void)
{
	struct gops_options o;
	gops_options_init(&o);
	o.sources = "estimate";
	gops_monitor *m;
	if (gops_monitor_new(&m, &o) < 0) {
		fprintf(stderr, "%s\n", gops_monitor_error(m));
		return 1;
	}
	int r = gops_monitor_start(m);
	if (r == 0)
		r = gops_monitor_stop(m);
	const struct gops_result *res = gops_monitor_result(m);
	printf("domains %zu\n", res ? res->n_domains : 0);
	gops_monitor_free(m);
	return r < 0;
}
C
export PKG_CONFIG_PATH="$BUILD_ABS"
flags=$(pkg-config --cflags --libs greenops 2>"$SCRATCH/pc.err")
eq "pkg-config knows greenops in the build tree" "$?" 0
san=
# A sanitized build's library needs the program built with the same runtime.
readelf -d "$SO" | grep -q 'NEEDED.*libasan' && san="-fsanitize=address,undefined"
${CC:-cc} -std=c11 $san -o "$SCRATCH/measure" "$SCRATCH/measure.c" $flags 2>"$SCRATCH/cc.err"
eq "a gops_monitor_* program compiles and links with pkg-config's flags" "$?" 0
readelf -d "$SCRATCH/measure" | awk '/NEEDED/ { print $NF }' >"$SCRATCH/needed"
contains "it needs libgreenops.so.0" "$SCRATCH/needed" 'libgreenops\.so\.0'
LD_LIBRARY_PATH="$BUILD_ABS" ldd "$SCRATCH/measure" >"$SCRATCH/ldd" 2>&1
cat "$SCRATCH/needed" >>"$SCRATCH/ldd"
eq "no HTTP, statistics or protobuf library is pulled in" \
	"$(grep -oE 'lib(curl|gsl|gslcblas|microhttpd|protobuf-c|sqlite3|yaml)[^ ]*' "$SCRATCH/ldd" | sort -u | tr '\n' ' ')" ""
LD_LIBRARY_PATH="$BUILD_ABS" "$SCRATCH/measure" >"$SCRATCH/run.out" 2>"$SCRATCH/run.err"
eq "it runs against the shared library" "$?" 0
contains "... and measures" "$SCRATCH/run.out" '^domains [0-9]+$'
done_testing
