#!/usr/bin/env bash
# The fault table: every sensor fault the fakes can inject, run through `greenops run`, and the
# same invariants checked for each (docs/RELIABILITY.md lists the rows):
#   - the command's exit status comes back (each run ends `exit 3`);
#   - the run is stored in the database;
#   - a domain is either measured (a non-zero figure) or not measured (null, method none):
#     never 0 J for nothing;
#   - the method is one the row allows: `counter` only where the counter was truly read;
#   - a measured figure is within its stated uncertainty of the fake's true energy.
# Faults come from the fake RAPL writer (tests/fakes/fake_rapl_writer.c; powercap has no power
# reading, so a stretch its counter does not cover cannot be bridged) and the fake NVML
# (tests/fakes/fake_nvml.c; instant power keeps coming, so stretches are bridged).
source "$(dirname "$0")/lib.sh"
source "$TESTS_DIR/fakes/fake_sysfs.sh"
source "$TESTS_DIR/e2e/fake_nvml.sh"
WRITER="$BUILD_ABS/tests/fake-rapl-writer"
unset GREENOPS_CPU_TDP
wpid=
trap '[ -n "$wpid" ] && kill "$wpid" 2>/dev/null; rm -rf "$SCRATCH"' EXIT

# judge NAME JSON RC DOMAIN TRUE_W ALLOWED_METHODS: the invariants for one row. TRUE_W is the
# fake's constant power; the true energy is TRUE_W x the span the domain was measured over
# (the run's duration, or up to a lost device's end: energy / average power).
judge() {
	local name=$1 json=$2 rc=$3 dom=$4 watts=$5 allowed=$6 runs_before=$7
	eq "$name: exit status of the command comes back" "$rc" 3
	if [ ! -s "$json" ]; then
		not_ok "$name: run wrote its JSON"
		return
	fi
	local runs_after
	runs_after=$("$GREENOPS" runs --limit 0 --json - 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
	eq "$name: run stored in the database" "$runs_after" $((runs_before + 1))
	python3 - "$json" "$dom" "$watts" "$allowed" >"$SCRATCH/judge.out" <<'EOF'
import json, math, sys
d = json.load(open(sys.argv[1])); name = sys.argv[2]; watts = float(sys.argv[3])
allowed = sys.argv[4].split(",")
m = [x for x in d["domains"] if x["name"] == name]
if not m:
    print("missing domain"); sys.exit()
x = m[0]; e = x["energy_j"]; u = x["uncertainty_j"]; method = x["method"]
# The fake RAPL writer publishes P x t every 2 ms, late by however long a busy machine holds it
# up; real RAPL is never late. 50 ms of its power at each edge covers that, and no more.
slack = 2 * 0.05 * watts if x["source"] == "powercap" else 0
print("method", method)
print("allowed", "yes" if method in allowed else "no (%s not in %s)" % (method, allowed))
if method == "none":
    print("zero", "ok" if e is None else "a figure (%r) for nothing measured" % e)
    print("within", "ok")
else:
    print("zero", "ok" if e is not None and e != 0 else "0 J or null while labelled %s" % method)
    span = d["duration_s"]
    if x.get("avg_power_w") and e:
        span = min(span, e / x["avg_power_w"])
    truth = watts * span
    ok = e is not None and u is not None and abs(e - truth) <= u + slack
    print("within", "ok" if ok else "%.2f J +- %s J against %.2f J true (%s)" % (e, u, truth, method))
print("total", "ok" if not (d["energy_j"] == 0) else "total of 0 J")
for w in x.get("warnings", []):
    print("warning", w)
EOF
	local line
	for k in allowed zero within total; do
		line=$(awk -v k="$k" '$1 == k { $1 = ""; sub(/^ /, ""); print; exit }' "$SCRATCH/judge.out")
		case $k in
		allowed) [ "${line%% *}" = yes ] && ok "$name: method $(awk '$1 == "method" { print $2 }' "$SCRATCH/judge.out") allowed ($allowed)" ||
			not_ok "$name: method allowed" "$line" "$(cat "$SCRATCH/judge.out")" ;;
		*) [ "$line" = ok ] && ok "$name: $k" || not_ok "$name: $k" "$line" "$(cat "$SCRATCH/judge.out")" ;;
		esac
	done
}

runs_now() { "$GREENOPS" runs --limit 0 --json - 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }

# --- RAPL rows: one package zone at 50 W under a 200 W limit; a 1 kJ range (no wrap in a row)
# unless said ---
# rapl_row NAME SECONDS ALLOWED [RANGE_UJ MAX_UW WATTS] -- WRITER_FAULTS...
rapl_row() {
	local name=$1 secs=$2 allowed=$3 range=1000000000 maxuw=200000000 watts=50
	shift 3
	if [ "$1" != -- ]; then range=$1 maxuw=$2 watts=$3; shift 3; fi
	shift
	local root=$SCRATCH/sys-$name
	fake_rapl_zone "$root" intel-rapl:0 package-0 "$range" "$maxuw" 123456
	rm -f "$SCRATCH/ready"
	if [ "${1:-}" = static ]; then
		wpid=
	else
		"$WRITER" "$root" intel-rapl:0="$watts" --ready "$SCRATCH/ready" --trigger "$SCRATCH/go-$name" "$@" &
		wpid=$!
		wait_for_file "$SCRATCH/ready" || not_ok "$name: writer ready"
	fi
	local before rc
	before=$(runs_now)
	GREENOPS_SYSFS_ROOT=$root GREENOPS_NVML_LIBRARY=/nonexistent/libnvidia-ml.so.1 \
		"$GREENOPS" run --sources powercap --json "$SCRATCH/rapl-$name.json" -- \
		sh -c "touch '$SCRATCH/go-$name'; sleep $secs; exit 3" 2>"$SCRATCH/rapl-$name.err"
	rc=$?
	[ -n "$wpid" ] && kill "$wpid" 2>/dev/null && wait "$wpid" 2>/dev/null
	wpid=
	judge "rapl $name" "$SCRATCH/rapl-$name.json" "$rc" package-0 "$watts" "$allowed" "$before"
}

rapl_row clean 1.5 counter --
rapl_row stuck-short 0.5 none -- static
rapl_row reset 2 none -- --reset-at 1
rapl_row multi-wrap 1.5 none 2000000 10000000 75 --
rapl_row frozen 2 none -- --freeze-at 1
rapl_row frozen-thaw 2.5 none -- --freeze-at 0.8 --thaw-at 1.6
rapl_row unreadable 2 none -- --unreadable-at 1
rapl_row unreadable-back 2.5 counter -- --unreadable-at 0.8 --readable-at 1.4
rapl_row error-burst 2 counter -- --garbage-at 0.8 --garbage-for 0.4
rapl_row lost 2 none -- --lost-at 1

# --- NVML rows: one GPU at a steady 300 W; the fault is scripted MS after the row starts ---
nvml_row() {
	local name=$1 secs=$2 allowed=$3
	shift 3
	fake_nvml_setup
	export FAKE_NVML_IDLE_W=300
	[ -n "${ROW_STALL:-}" ] && export FAKE_NVML_ENERGY_STALL=$ROW_STALL
	# The command itself scripts the faults, so they fall inside the run however slowly it starts.
	local faults=$SCRATCH/faults-$name.sh
	echo 'now=$(date +%s%N)' >"$faults"
	while [ $# -ge 2 ]; do
		case $1 in
		before) fakegpu 0 "$2" ;; # before the run starts
		*) echo "echo \"\$((now + $1 * 1000000)) 0 $2\" >>'$FAKE_NVML_SCRIPT'" >>"$faults" ;;
		esac
		shift 2
	done
	local before rc
	before=$(runs_now)
	GREENOPS_SYSFS_ROOT=$SCRATCH/empty "$GREENOPS" run --sources nvml --json "$SCRATCH/nvml-$name.json" -- \
		sh -c ". '$faults'; sleep $secs; exit 3" 2>"$SCRATCH/nvml-$name.err"
	rc=$?
	judge "nvml $name" "$SCRATCH/nvml-$name.json" "$rc" gpu0 300 "$allowed" "$before"
}
mkdir -p "$SCRATCH/empty"

# nvml_row NAME SECONDS ALLOWED [MS EVENT]...: EVENT MS milliseconds into the run ('before EVENT':
# before greenops starts)
nvml_row clean 1.5 counter
nvml_row stuck-short 0.5 integrated before freeze
nvml_row reset 2 integrated,counter+integrated 1000 reset
nvml_row frozen 2.5 integrated,counter+integrated 700 freeze
nvml_row frozen-thaw 3 integrated,counter+integrated 600 freeze 1800 thaw
nvml_row noperm 2 integrated,counter+integrated 800 noperm
nvml_row error-burst 2 counter 500 errors 900 ok
# Not faults: instant power that aliases a bursty load, reading twice (or a third of) the true
# draw, while the counter and NVML's 1 s average follow the truth. The counter stays the measure.
nvml_row aliased-high 2.5 counter before "instant 600"
nvml_row aliased-low 2.5 counter before "instant 100"
# Not a fault either: reads held up by a busy machine (every third counter read 60 ms longer,
# its value from the start or the end of it). The span keeps to the counter, within what it
# states.
ROW_STALL=3:60 nvml_row stalled-reads 2.5 counter
contains "nvml aliased-high: the warning says instant power and the counter disagree" \
	"$SCRATCH/nvml-aliased-high.json" 'instant power and the energy counter disagree.*energy follows the counter'
nvml_row lost 2 integrated,counter+integrated 1000 lost
contains "nvml lost: the warning says when the GPU was lost" "$SCRATCH/nvml-lost.json" 'measured only up to [0-9.]+ s after the start, when the device was lost'
contains "nvml noperm: the warning says from when and how it was filled" "$SCRATCH/nvml-noperm.json" \
	'counter not used from [0-9.]+ s to [0-9.]+ s after the start: it could not be read .*bridged with integrated instant power'
contains "rapl reset: the warning says the span is not measured" "$SCRATCH/rapl-reset.json" 'went backwards.*not measured'
contains "rapl multi-wrap: the warning names the missed wraps" "$SCRATCH/rapl-multi-wrap.json" 'wraps were missed'

done_testing
