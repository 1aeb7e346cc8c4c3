#!/usr/bin/env bash
# Sensors end to end through `greenops run`: a fake powercap tree whose package counter wraps
# every 2 s at 50 W (DRAM likewise; a core sub-zone inside the package) must measure
# P x duration within 2% with the core shown but not summed; and a machine with no sensor at
# all gets an estimated CPU domain with non-zero energy and a summary that says so.
source "$(dirname "$0")/lib.sh"
source "$TESTS_DIR/fakes/fake_sysfs.sh"
WRITER="$BUILD_ABS/tests/fake-rapl-writer"
export GREENOPS_NVML_LIBRARY=/nonexistent/libnvidia-ml.so.1
unset GREENOPS_CPU_TDP

# dom FILE NAME FIELD: a field of the named domain in a run's JSON ("missing" if absent)
dom() {
	python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
m=[x for x in d["domains"] if x["name"]==sys.argv[2]]
v=m[0].get(sys.argv[3],"missing") if m else "missing"
print("null" if v is None else v)' "$1" "$2" "$3"
}
count_named() {
	python3 -c 'import json,sys
print(sum(1 for x in json.load(open(sys.argv[1]))["domains"] if x["name"]==sys.argv[2]))' "$1" "$2"
}

# --- a wrapping fake RAPL: 100 J range at 50 W wraps every 2 s ---
# (Two wraps in the 4 s run. A reader held up for a whole wrap period cannot tell one wrap
# from two and rightly refuses the counter; 2 s is longer than a loaded test machine holds
# up the sampler or the fake's writer.)
root=$SCRATCH/sys
fake_rapl_zone "$root" intel-rapl:0 package-0 100000000 60000000 1
fake_rapl_zone "$root" intel-rapl:0:0 core 100000000 0 1
fake_rapl_zone "$root" intel-rapl:0:1 dram 40000000 25000000 1
fake_rapl_zone "$root" intel-rapl-mmio:0 package-0 100000000 0 1
"$WRITER" "$root" intel-rapl:0=50 intel-rapl:0:0=30 intel-rapl:0:1=20 --ready "$SCRATCH/ready" \
	--log "$SCRATCH/writes" &
wpid=$!
trap 'kill $wpid 2>/dev/null; rm -rf "$SCRATCH"' EXIT
check "fake RAPL writer ready" wait_for_file "$SCRATCH/ready"

t0=$(now_ns)
GREENOPS_SYSFS_ROOT=$root "$GREENOPS" run --no-db --json "$SCRATCH/out.json" --sources powercap -- sleep 4 \
	2>"$SCRATCH/run.err"
eq "run over the fake tree exits 0" "$?" 0
wall=$(awk -v a="$t0" -v b="$(now_ns)" 'BEGIN { print (b - a) / 1e9 }')
kill "$wpid"
wait "$wpid" 2>/dev/null
if [ -s "$SCRATCH/out.json" ]; then
	dur=$(jget "$SCRATCH/out.json" duration_s)
	# At least the 4 s slept, at most the whole command as timed from here (a busy machine
	# stretches the start and the exit).
	awk -v d="$dur" -v w="$wall" 'BEGIN { exit !(d >= 4 && d <= w) }' &&
		ok "duration of 'sleep 4' ($dur s, command $wall s)" ||
		not_ok "duration of 'sleep 4'" "got $dur s, expected 4 s to $wall s"
	# The counters are only as fresh as the writer's last round: a busy machine that holds the
	# writer up leaves each edge's reading up to its longest gap between rounds behind (its log
	# says how long that was), on top of the 2%.
	gap=$(python3 -c 'import sys
t=[int(x) for x in open(sys.argv[1]) if x.strip()]
print(max([(b - a) / 1e9 for a, b in zip(t, t[1:])] or [0]))' "$SCRATCH/writes")
	tol() { awk -v p="$1" -v d="$dur" -v g="$gap" 'BEGIN{print 0.02*p*d + 2*p*g}'; }
	pkg=$(dom "$SCRATCH/out.json" package-0 energy_j)
	near "package-0 = 50 W x duration within 2% (writer's longest gap $gap s)" "$pkg" \
		"$(awk -v d="$dur" 'BEGIN{print 50*d}')" "$(tol 50)"
	dram=$(dom "$SCRATCH/out.json" dram-0 energy_j)
	near "dram-0 = 20 W x duration within 2%" "$dram" "$(awk -v d="$dur" 'BEGIN{print 20*d}')" "$(tol 20)"
	core=$(dom "$SCRATCH/out.json" core-0 energy_j)
	near "core-0 = 30 W x duration within 2%" "$core" "$(awk -v d="$dur" 'BEGIN{print 30*d}')" "$(tol 30)"
	eq "core-0 shown but not summed" "$(dom "$SCRATCH/out.json" core-0 summed)" False
	eq "package-0 summed" "$(dom "$SCRATCH/out.json" package-0 summed)" True
	eq "package-0 measured by its counter" "$(dom "$SCRATCH/out.json" package-0 method)" counter
	total=$(jget "$SCRATCH/out.json" energy_j)
	near "total = package + DRAM (core inside the package)" "$total" \
		"$(awk -v d="$dur" 'BEGIN{print 70*d}')" "$(tol 70)"
	eq "the mmio duplicate is not a second package-0" "$(count_named "$SCRATCH/out.json" package-0)" 1
else
	not_ok "run wrote its JSON" "$(cat "$SCRATCH/run.err")"
fi

# --- no sensor at all: the estimator stands in, and says so ---
empty=$SCRATCH/empty
mkdir -p "$empty"
GREENOPS_SYSFS_ROOT=$empty "$GREENOPS" run --no-db --json "$SCRATCH/est.json" -- \
	sh -c 'i=0; while [ $i -lt 300000 ]; do i=$((i + 1)); done' 2>"$SCRATCH/est.err"
eq "run with no sensor exits 0" "$?" 0
if [ -s "$SCRATCH/est.json" ]; then
	eq "cpu-estimate is estimated" "$(dom "$SCRATCH/est.json" cpu-estimate method)" estimated
	e=$(dom "$SCRATCH/est.json" cpu-estimate energy_j)
	check "cpu-estimate has non-zero energy ($e J)" awk -v e="$e" 'BEGIN { exit !(e == e + 0 && e > 0) }'
	eq "ram-estimate is estimated" "$(dom "$SCRATCH/est.json" ram-estimate method)" estimated
	eq "no RAPL domain appears" "$(dom "$SCRATCH/est.json" package-0 name)" missing
else
	not_ok "estimated run wrote its JSON" "$(cat "$SCRATCH/est.err")"
fi
contains "the summary says the CPU is estimated" "$SCRATCH/est.err" '[Ee]stimat'

# --cpu-tdp sets the model's full-load power: a busy CPU draws between 21% and 100% of it.
GREENOPS_SYSFS_ROOT=$empty "$GREENOPS" run --no-db --cpu-tdp 100 --json "$SCRATCH/tdp.json" -- \
	sh -c 'i=0; while [ $i -lt 300000 ]; do i=$((i + 1)); done' 2>"$SCRATCH/tdp.err"
if [ -s "$SCRATCH/tdp.json" ]; then
	p=$(dom "$SCRATCH/tdp.json" cpu-estimate avg_power_w)
	check "--cpu-tdp 100 gives 21..100 W ($p W)" awk -v p="$p" 'BEGIN { exit !(p == p + 0 && p >= 20.9 && p <= 100.1) }'
else
	not_ok "--cpu-tdp run wrote its JSON" "$(cat "$SCRATCH/tdp.err")"
fi

done_testing
