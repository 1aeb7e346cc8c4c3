#!/usr/bin/env bash
# greenops idle against the fake NVML: it waits for compute processes to go and for power to
# settle, names what is not quiet when it gives up, stores the baseline per host and device,
# and `greenops run --idle stored` subtracts it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fake_nvml.sh"

fake_nvml_setup
# A frozen /proc/stat: the build machine's own load must not decide these tests.
export GREENOPS_PROC_ROOT="$SCRATCH/proc"
mkdir -p "$GREENOPS_PROC_ROOT"
echo "cpu  1000 0 500 100000 20 0 0 0 0 0" >"$GREENOPS_PROC_ROOT/stat"
DB="$SCRATCH/idle.db"
# settled_after JSON: seconds from the script's last event to the start of the measurement
# (measured_at_ns): what idle waited out, whatever the machine's load delayed before it ran.
settled_after() { awk -v m="$(jget "$1" measured_at_ns)" -v t="$(tail -n 1 "$FAKE_NVML_SCRIPT" | cut -d' ' -f1)" \
	'BEGIN { printf "%.3f\n", (m - t) / 1e9 }'; }
# at_least NAME ACTUAL MIN
at_least() { if awk -v a="$2" -v m="$3" 'BEGIN { exit !(a == a + 0 && a >= m) }'; then ok "$1 ($2 >= $3)"; else not_ok "$1" "got $2, expected at least $3"; fi; }
sql() { python3 -c 'import sqlite3, sys
for row in sqlite3.connect(sys.argv[1]).execute(sys.argv[2]):
    print("|".join("" if v is None else str(v) for v in row))' "$@"; }

# 1. A compute process holds the GPU for 1.5 s: idle waits, then measures 60 W.
fakegpu 0 procs 1
fakegpu 0 procs 0 +1500
"$GREENOPS" idle --db "$DB" --sources nvml --duration 2 --settle 1 --json "$SCRATCH/idle1.json" \
	>"$SCRATCH/idle1.out" 2>"$SCRATCH/idle1.err"
eq "idle exits 0 once quiet" "$?" 0
contains "it said what it waited for" "$SCRATCH/idle1.err" 'waiting for quiet: gpu0: 1 compute process$'
# The check that ends the wait sees no process: the measurement starts after the process went.
at_least "it waited for the process to go (s after it went)" "$(settled_after "$SCRATCH/idle1.json")" 0
near "idle power of the fake GPU (W)" "$(jget "$SCRATCH/idle1.json" domains.0.mean_w)" 60 0.5
near "spread of a steady 60 W (W)" "$(jget "$SCRATCH/idle1.json" domains.0.spread_w)" 0 0.1
eq "stored flag" "$(jget "$SCRATCH/idle1.json" stored)" True
contains "the table names the domain and device" "$SCRATCH/idle1.out" '^  gpu0 +nvml +(59\.9[0-9]|60\.0[0-9]) W +0\.00 W +[0-9]+  Fake GPU GPU-'
eq "one baseline stored, for the device" "$(sql "$DB" "SELECT d.domain, d.source, round(b.mean_w), round(b.duration_s, 1) FROM baselines b JOIN devices d ON d.id = b.device_id")" "gpu0|nvml|60.0|2.0"

# 2. A process that stays: a clear message naming it, and nothing stored.
fakegpu 0 procs 2
"$GREENOPS" idle --db "$DB" --sources nvml --duration 1 --timeout 1.5 2>"$SCRATCH/idle2.err"
eq "idle gives up after --timeout" "$?" 1
contains "... naming what is busy" "$SCRATCH/idle2.err" 'did not become quiet within 1\.5 s: gpu0: 2 compute processes$'
eq "... and stores nothing" "$(sql "$DB" "SELECT COUNT(*) FROM baselines")" 1
fakegpu 0 procs 0

# 3. Power still falling after a load: waits until it has settled.
fakegpu 0 300
fakegpu 0 250 +300
fakegpu 0 200 +600
fakegpu 0 150 +900
fakegpu 0 100 +1200
fakegpu 0 60 +1500
"$GREENOPS" idle --no-db --sources nvml --duration 1 --settle 1 --json "$SCRATCH/idle3.json" 2>"$SCRATCH/idle3.err" >/dev/null
eq "idle waits out a power step" "$?" 0
contains "... saying power is not settled" "$SCRATCH/idle3.err" 'gpu0 power not settled \(spread [0-9.]+ W over 1 s, at most [0-9.]+ W\)'
# Settled: --settle (1 s) of readings after the last step, less a 100 ms sample or two.
at_least "... until the step plus the settle time (s after the step)" "$(settled_after "$SCRATCH/idle3.json")" 0.8
near "... then measures the idle power (W)" "$(jget "$SCRATCH/idle3.json" domains.0.mean_w)" 60 0.5
eq "--no-db stores nothing" "$(sql "$DB" "SELECT COUNT(*) FROM baselines")" 1
# --json - takes standard output for the JSON alone; the table goes to standard error.
"$GREENOPS" idle --no-db --sources nvml --duration 0.5 --force --json - >"$SCRATCH/idle4.json" 2>"$SCRATCH/idle4.err"
check "--json - writes nothing but the JSON to standard output" python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$SCRATCH/idle4.json"
contains "... and the table to standard error" "$SCRATCH/idle4.err" '^ +gpu0 +nvml'

# 4. A busy CPU (a /proc/stat that moves at 90% busy) keeps it waiting.
(
	b=0 t=0
	while :; do
		b=$((b + 90)) t=$((t + 100))
		echo "cpu  $b 0 0 $((t - b)) 0 0 0 0 0 0" >"$GREENOPS_PROC_ROOT/stat.new"
		mv "$GREENOPS_PROC_ROOT/stat.new" "$GREENOPS_PROC_ROOT/stat"
		sleep 0.05
	done
) &
ticker=$!
"$GREENOPS" idle --no-db --sources nvml --duration 1 --timeout 2 2>"$SCRATCH/idle4.err"
eq "a busy CPU is not quiet" "$?" 1
contains "... and the message says how busy" "$SCRATCH/idle4.err" 'within 2 s: CPU 9[0-9]% busy \(quiet is below 10%\)$'
"$GREENOPS" idle --no-db --sources nvml --duration 1 --timeout 2 --settle 0.5 --max-cpu 95 >/dev/null 2>&1
eq "--max-cpu raises the limit" "$?" 0
kill "$ticker"
wait "$ticker" 2>/dev/null
echo "cpu  1000 0 500 100000 20 0 0 0 0 0" >"$GREENOPS_PROC_ROOT/stat"

# 5. Busy in the middle of the measurement: measured again once quiet. (The busy spell is
# timed from here; the 6 s measurement leaves a loaded machine 2.5 s to start it.)
fakegpu 0 procs 1 +3000
fakegpu 0 procs 0 +4000
"$GREENOPS" idle --db "$DB" --sources nvml --duration 6 --settle 0.5 --timeout 30 --json "$SCRATCH/idle5.json" \
	>/dev/null 2>"$SCRATCH/idle5.err"
eq "idle recovers from a busy spell" "$?" 0
contains "... saying the measurement was interrupted" "$SCRATCH/idle5.err" 'turned busy during the measurement \(gpu0: 1 compute process\): waiting again'
at_least "... and measured after it (s after it went)" "$(settled_after "$SCRATCH/idle5.json")" 0
eq "the newest baseline is stored beside the first" "$(sql "$DB" "SELECT COUNT(*) FROM baselines")" 2

check "bad --duration is a usage error" eval '! "$GREENOPS" idle --duration -1 2>/dev/null'
check "--db and --no-db together are refused" eval '! "$GREENOPS" idle --db x --no-db 2>/dev/null'

# 6. The stored baseline in use: a 2 s child at 200 W over a 60 W idle is ~280 J dynamic (140 W
# over the step's real length, which a busy machine stretches).
: >"$FAKE_NVML_SCRIPT"
export -f fakegpu
"$GREENOPS" run --db "$DB" --sources nvml --idle stored --json "$SCRATCH/run.json" -q -- \
	bash -c 'fakegpu 0 200; sleep 2; fakegpu 0 60' 2>"$SCRATCH/run.err"
eq "run --idle stored exits with the child's status" "$?" 0
eq "the run says its baseline was stored" "$(jget "$SCRATCH/run.json" idle_source 2>&1)" stored
near "gpu0's idle power is the stored 60 W" "$(jget "$SCRATCH/run.json" domains.0.idle_power_w 2>&1)" 60 0.5
d=$(jget "$SCRATCH/run.json" duration_s)
want=$(awk -v e="$(script_energy "$FAKE_NVML_SCRIPT" 0 60 "$d")" -v d="$d" 'BEGIN { print e - 60 * d }')
near "dynamic energy of ~2 s at 200 W over 60 W idle (J)" "$(jget "$SCRATCH/run.json" dynamic_energy_j 2>&1)" "$want" 15
done_testing
