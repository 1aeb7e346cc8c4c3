#!/usr/bin/env bash
# Runs every test program (cmocka, TAP output) and every end-to-end script (TAP too),
# three at a time, printing each one's result as it ends, and ends with the summary line
# "N passed, N failed".
set -u
BUILD=${1:-build}
export BUILD GREENOPS=$(cd "$BUILD" && pwd)/greenops TESTS_DIR=$(pwd)/tests
export CMOCKA_MESSAGE_OUTPUT=TAP
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
# No test reads the user's configuration file (docs/CONFIG.md): an empty configuration folder
# (tests/e2e/lib.sh gives each script its own).
unset GREENOPS_CONFIG
mkdir "$logs/config"
export XDG_CONFIG_HOME="$logs/config"
# The tests call python3 hundreds of times: take the system's interpreter when there is one,
# not a version manager's shim, which costs seconds a call on a busy machine.
if [ -x /usr/bin/python3 ]; then
	mkdir "$logs/bin"
	ln -s /usr/bin/python3 "$logs/bin/python3"
	PATH="$logs/bin:$PATH"
	export PATH
fi

list=$(mktemp)
for t in "$BUILD"/tests/test_*; do [ -x "$t" ] && echo "$t"; done >"$list"
# lib*.sh are sourced by the tests, not tests themselves.
for t in tests/e2e/*.sh; do case $(basename "$t") in lib*.sh) ;; *) [ -f "$t" ] && echo "$t" ;; esac; done >>"$list"

# Runs one test and prints its result as soon as it ends (under a lock, so that a failing
# test's log is not interleaved with another's line); the counts go to NAME.count.
run_one() {
	name=$(basename "$1")
	# greenops remembers each GPU's counter phase in the runtime folder: each test has its
	# own, so fakes of different phase running side by side never read each other's.
	mkdir -m 700 "$2/$name.run"
	export XDG_RUNTIME_DIR="$2/$name.run"
	log="$2/$name.log"
	case "$1" in
	*.sh) timeout 600 bash "$1" >"$log" 2>&1 </dev/null ;;
	*) timeout 600 "$1" >"$log" 2>&1 </dev/null ;;
	esac
	rc=$?
	p=$(grep -c '^ok ' "$log")
	f=$(grep -c '^not ok ' "$log")
	{
		flock 9
		if [ "$f" -eq 0 ] && [ "$rc" -ne 0 ]; then f=1; echo "not ok - $name exited with $rc"; fi
		if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then f=1; echo "not ok - $name ran no test"; fi
		if [ "$f" -gt 0 ]; then
			echo "--- $name: $f failed"
			cat "$log"
		else
			echo "$name: $p passed"
		fi
	} 9>>"$2/.lock"
	echo "$p $f" >"$2/$name.count"
}
jobs=${TEST_JOBS:-3}
# Each test's standard input is /dev/null (run_one): one that reads it (srun forwards it to the
# job) would otherwise eat the rest of the list this loop reads.
# The tests that judge timing to within a few ms or 1% (serve-bench's TTFT, TPOT and ITL
# against the mock's; window edges against the fake counter's updates) run afterwards, one at
# a time, so the suite's own other tests do not load the machine under them.
serial=" serve_bench.sh serve_bench_h2.sh test_windows "
while read -r t; do
	case "$serial" in *" $(basename "$t") "*) continue ;; esac
	[ "$(jobs -rp | wc -l)" -ge "$jobs" ] && wait -n
	run_one "$t" "$logs" &
done <"$list"
wait
while read -r t; do
	case "$serial" in *" $(basename "$t") "*) run_one "$t" "$logs" ;; esac
done <"$list"

passed=0 failed=0
while read -r t; do
	name=$(basename "$t")
	if [ ! -f "$logs/$name.count" ]; then
		echo "--- $name: 1 failed"
		echo "not ok - $name did not run (no exit status recorded)"
		failed=$((failed + 1))
		continue
	fi
	read -r p f <"$logs/$name.count"
	passed=$((passed + p))
	failed=$((failed + f))
done <"$list"
rm -f "$list"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
