#!/usr/bin/env bash
# `greenops list` on fake trees: what each source found (domains, ranges, measured update
# periods), what it did not and why (counters stuck at zero, mmio duplicates, permission
# denied, malformed files, a PMU the kernel lacks), which domains a run would sum, and the
# estimator on a machine with no sensor. Also its usage errors.
source "$(dirname "$0")/lib.sh"
source "$TESTS_DIR/fakes/fake_sysfs.sh"
WRITER="$BUILD_ABS/tests/fake-rapl-writer"
export GREENOPS_NVML_LIBRARY=/nonexistent/libnvidia-ml.so.1
unset GREENOPS_CPU_TDP

# py FILE EXPR: evaluates a Python expression over the JSON object `d`
py() { python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
src={s["name"]: s for s in d["sources"]}
dom={x["name"]: x for s in d["sources"] for x in s["domains"]}
notes=" | ".join(n for s in d["sources"] for n in s["notes"])
print(eval(sys.argv[2]))' "$1" "$2"; }

# --- two packages, DRAM, a core, an mmio duplicate, a psys stuck at 0, a malformed zone ---
root=$SCRATCH/sys
fake_rapl_zone "$root" intel-rapl:0 package-0 262143328850 125000000 1
fake_rapl_zone "$root" intel-rapl:0:0 core 262143328850 0 1
fake_rapl_zone "$root" intel-rapl:0:1 dram 65712999613 0 1
fake_rapl_zone "$root" intel-rapl:1 package-1 262143328850 0 1
fake_rapl_zone "$root" intel-rapl:2 psys 262143328850 0 0
fake_rapl_zone "$root" intel-rapl:3 package-3 262143328850 0 1
echo "12abc" >"$root/class/powercap/intel-rapl:3/energy_uj"
fake_rapl_zone "$root" intel-rapl-mmio:0 package-0 262143328850 0 1
# A perf PMU description the kernel does not have (type 4242).
mkdir -p "$root/bus/event_source/devices/power/events"
echo 4242 >"$root/bus/event_source/devices/power/type"
echo 0 >"$root/bus/event_source/devices/power/cpumask"
echo event=0x02 >"$root/bus/event_source/devices/power/events/energy-pkg"
echo 2.3283064365386962890625e-10 >"$root/bus/event_source/devices/power/events/energy-pkg.scale"
"$WRITER" "$root" intel-rapl:0=40 intel-rapl:0:0=25 intel-rapl:0:1=8 intel-rapl:1=30 \
	--period-ms 4 --ready "$SCRATCH/ready" --log "$SCRATCH/writes" &
wpid=$!
trap 'kill $wpid 2>/dev/null; rm -rf "$SCRATCH"' EXIT
check "fake RAPL writer ready" wait_for_file "$SCRATCH/ready"

t_list=$(now_ns)
GREENOPS_SYSFS_ROOT=$root "$GREENOPS" list --json "$SCRATCH/list.json" >"$SCRATCH/list.out" 2>"$SCRATCH/list.err"
eq "list exits 0" "$?" 0
t_listed=$(now_ns)
kill "$wpid"
wait "$wpid" 2>/dev/null
j=$SCRATCH/list.json
eq "powercap found" "$(py "$j" 'src["powercap"]["status"]')" found
eq "powercap domains" "$(py "$j" '" ".join(x["name"] for x in src["powercap"]["domains"])')" \
	"package-0 core-0 dram-0 package-1"
eq "a run would sum packages and DRAM, not the core" "$(py "$j" '" ".join(d["summed"])')" \
	"package-0 dram-0 package-1"
eq "core-0 is inside package-0" "$(py "$j" 'dom["core-0"]["parent"]')" package-0
eq "package-0 is a counter" "$(py "$j" 'dom["package-0"]["reading"]')" counter
near "package-0 range in joules" "$(py "$j" 'dom["package-0"]["counter_range_j"]')" 262143.33 0.01
near "package-0 max power from its limit" "$(py "$j" 'dom["package-0"]["max_power_w"]')" 125 0.001
eq "package-1 states no limit: none is reported" "$(py "$j" 'dom["package-1"]["max_power_w"]')" None
if grep -q 'package-1.*up to' "$SCRATCH/list.out"; then
	not_ok "package-1 is not labelled with an invented limit" "$(grep 'package-1' "$SCRATCH/list.out")"
else
	ok "package-1 is not labelled with an invented limit"
fi
# The writer means to update every 4 ms; on a busy machine it falls behind and catches up in
# bursts. The measured period is the mean time between the changes list saw: not below half
# the writer's own mean interval while list ran, not above twice its longest gap then (a
# change seen late by a probe that was itself waiting for the CPU).
read -r w_mean w_gap <<<"$(awk -v a="$t_list" -v b="$t_listed" '$1 >= a && $1 <= b {
	if (n++) { d = $1 - t; if (d > g) g = d } else f = $1; t = $1 }
	END { if (n > 1) printf "%.6f %.6f\n", (t - f) / (n - 1) / 1e9, g / 1e9; else print "nan nan" }' "$SCRATCH/writes")"
period=$(py "$j" 'dom["package-0"]["update_period_s"]')
check "update period measured ($period s; the writer's mean interval $w_mean s, longest gap $w_gap s)" \
	awk -v p="$period" -v m="$w_mean" -v g="$w_gap" 'BEGIN { exit !(p == p + 0 && p >= m / 2 && p <= 2 * g) }'
# A writer held up for 50 ms at one end of the half second moves its power by 10%, which a
# loaded test machine does; a unit or scale error moves it by far more.
near "power over the half second (40 W)" "$(py "$j" 'dom["package-0"]["power_w"]')" 40 6
eq "package-1 moving" "$(py "$j" 'dom["package-1"]["moving"]')" True
eq "psys left out" "$(py "$j" '"psys" in dom')" False
contains "psys present but not moving" <(py "$j" notes) "psys .*reads 0: present but not moving"
contains "mmio duplicate recognised" <(py "$j" notes) "intel-rapl-mmio:0.*duplicates"
contains "malformed energy_uj named" <(py "$j" notes) "intel-rapl:3/energy_uj': not a number"
contains "perf: the fake PMU's type is not in the kernel" <(py "$j" notes) "no PMU of type 4242|perf_event_paranoid"
eq "nvml absent" "$(py "$j" 'src["nvml"]["status"]')" absent
eq "estimator not used when RAPL is readable" "$(py "$j" 'src["estimate"]["used"]')" False
eq "nothing estimated" "$(py "$j" 'd["estimated"]')" False
contains "human list says what a run would sum" "$SCRATCH/list.out" "a run would sum: package-0 dram-0 package-1$"
contains "human list shows the core's parent" "$SCRATCH/list.out" "inside package-0"

# --- permission denied, seen by an ordinary user ---
if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
	proot=$SCRATCH/perm
	fake_rapl_zone "$proot" intel-rapl:0 package-0 262143328850 0 5
	fake_rapl_zone "$proot" intel-rapl:1 package-1 262143328850 0 5
	chmod 600 "$proot/class/powercap/intel-rapl:1/energy_uj"
	chmod 755 "$SCRATCH"
	GREENOPS_SYSFS_ROOT=$proot setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$GREENOPS" list --sources powercap >"$SCRATCH/perm.out" 2>&1
	eq "list as nobody exits 0" "$?" 0
	contains "denied counter named, with the fix" "$SCRATCH/perm.out" \
		"package-1 unavailable: cannot read '.*intel-rapl:1/energy_uj': permission denied.*sudo chmod o\+r"
	contains "readable package still listed" "$SCRATCH/perm.out" "^  package-0 "
else
	ok "permission test needs root and setpriv (skipped)"
fi

# --- no sensor at all, an AMD GPU through hwmon ---
bare=$SCRATCH/bare
mkdir -p "$bare/class/hwmon/hwmon0"
echo amdgpu >"$bare/class/hwmon/hwmon0/name"
echo 35000000 >"$bare/class/hwmon/hwmon0/power1_average"
echo PPT >"$bare/class/hwmon/hwmon0/power1_label"
GREENOPS_SYSFS_ROOT=$bare "$GREENOPS" list --json "$SCRATCH/bare.json" >"$SCRATCH/bare.out" 2>&1
eq "bare list exits 0" "$?" 0
j=$SCRATCH/bare.json
eq "amdgpu is gpu0" "$(py "$j" 'dom["gpu0"]["kind"]')" gpu
near "gpu0 power" "$(py "$j" 'dom["gpu0"]["power_w"]')" 35 0.001
eq "estimator used" "$(py "$j" 'src["estimate"]["used"]')" True
eq "a run would sum the GPU and the estimates" "$(py "$j" '" ".join(d["summed"])')" \
	"gpu0 cpu-estimate ram-estimate"
eq "the listing says it is estimated" "$(py "$j" 'd["estimated"]')" True
eq "cpu-estimate is a model" "$(py "$j" 'dom["cpu-estimate"]["reading"]')" model
contains "human list says ESTIMATED" "$SCRATCH/bare.out" "ESTIMATED"
contains "human list says why powercap found nothing" "$SCRATCH/bare.out" "powercap +nothing found: no powercap tree"

GREENOPS_SYSFS_ROOT=$bare "$GREENOPS" list --cpu-tdp 80 --json - >"$SCRATCH/tdp.json" 2>/dev/null
near "--cpu-tdp sets the estimate's full-load power" "$(py "$SCRATCH/tdp.json" 'dom["cpu-estimate"]["max_power_w"]')" 80 0.001

# --- usage errors ---
"$GREENOPS" list --sources powercap,bogus >"$SCRATCH/u1" 2>&1
eq "unknown source exits 2" "$?" 2
contains "unknown source named" "$SCRATCH/u1" "unknown source 'bogus'"
"$GREENOPS" list --json "$SCRATCH/no/such/dir/x.json" --sources estimate >"$SCRATCH/u2" 2>&1
eq "unwritable JSON fails" "$?" 1
contains "unwritable JSON named" "$SCRATCH/u2" "cannot write '.*no/such/dir/x.json'"
"$GREENOPS" list --cpu-tdp lots >"$SCRATCH/u3" 2>&1
eq "bad --cpu-tdp exits 2" "$?" 2
contains "bad --cpu-tdp named" "$SCRATCH/u3" "'lots'"

done_testing
