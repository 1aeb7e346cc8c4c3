# Helpers for end-to-end tests: TAP output, assertions, a scratch folder, the fakes.
# Each test script sources this, calls `ok`/`not_ok` through the assertions, and ends with `done_testing`.
set -u
: "${BUILD:=build}"
: "${GREENOPS:=$(cd "$BUILD" && pwd)/greenops}"
: "${TESTS_DIR:=$(pwd)/tests}"
BUILD_ABS=$(cd "$BUILD" && pwd)
FAKE_NVML="$BUILD_ABS/tests/libfake-nvml.so"
_n=0
_failed=0
SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT
export GREENOPS_DB="$SCRATCH/results.db"

ok() { _n=$((_n + 1)); echo "ok $_n - $1"; }
not_ok() {
	_n=$((_n + 1)); _failed=$((_failed + 1)); echo "not ok $_n - $1"
	shift; for l in "$@"; do echo "#   $l"; done
}
# check NAME CMD...: passes when CMD succeeds
check() { local name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name" "command failed: $*"; fi; }
# near NAME ACTUAL EXPECTED TOL: |ACTUAL-EXPECTED| <= TOL
near() {
	if awk -v a="$2" -v e="$3" -v t="$4" 'BEGIN { d = a - e; if (d < 0) d = -d; exit !(a == a + 0 && d <= t) }'; then
		ok "$1 ($2 ~ $3 +- $4)"
	else
		not_ok "$1" "got $2, expected $3 +- $4"
	fi
}
# eq NAME ACTUAL EXPECTED
eq() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "got '$2', expected '$3'"; fi; }
# contains NAME FILE PATTERN (grep -E)
contains() { if grep -Eq -- "$3" "$2"; then ok "$1"; else not_ok "$1" "'$3' not in $2:" "$(head -c 2000 "$2")"; fi; }
# jq-less JSON reads through python3
jget() { python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    d = d[int(k)] if isinstance(d, list) else d[k]
print("null" if d is None else d)' "$1" "$2"; }
done_testing() { echo "1..$_n"; [ "$_failed" -eq 0 ]; }
