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
# The counter phase greenops remembers per GPU stays in the scratch folder, never the user's.
mkdir -m 700 "$SCRATCH/run"
export XDG_RUNTIME_DIR="$SCRATCH/run"
# No configuration file of the user's: an empty configuration folder (tests/e2e/config.sh
# writes its own files there or names them with GREENOPS_CONFIG).
unset GREENOPS_CONFIG
export XDG_CONFIG_HOME="$SCRATCH/config"

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
# On a busy machine a child's `sleep 2` lasts longer than 2 s: expected figures come from what
# the fake was told and when, not from the nominal durations.
# script_energy SCRIPT GPU IDLE_W DURATION_S: joules a span of DURATION_S draws on fake GPU
# GPU whose power follows SCRIPT's power lines ("<ns> GPU WATTS") from the first to the last,
# at IDLE_W outside them (the last line returns to IDLE_W).
script_energy() {
	awk -v g="$2" -v idle="$3" -v dur="$4" '$2 == g && $3 ~ /^[0-9.]+$/ {
		if (n++) e += w * ($1 - t) / 1e9; else t0 = $1
		t = $1; w = $3 }
	END { printf "%.6f\n", e + idle * (dur - (t - t0) / 1e9) }' "$1"
}
# window_s JSON N: the length of window N in a result
window_s() { awk -v a="$(jget "$1" "windows.$2.start_s")" -v b="$(jget "$1" "windows.$2.end_s")" 'BEGIN { print b - a }'; }
# now_ns: CLOCK_REALTIME in ns, as the fake NVML's script uses
now_ns() { date +%s%N; }
done_testing() { echo "1..$_n"; [ "$_failed" -eq 0 ]; }
