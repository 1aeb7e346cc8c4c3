#!/bin/sh
# make demo: the study in a minute. Shows which energy sensors this machine has, then sweeps the
# embedded C CNN (two architectures of different MACs x three batch sizes, three repetitions,
# in random order), analyses the sweep and writes its report; ends with the report's path and
# the cheapest batch size.
set -eu
BUILD=${1:-build}
G="$BUILD/greenops"
DB="$BUILD/demo.db"
PLAN="$BUILD/demo-sweep.yaml"
REPORT="$BUILD/demo-report"
rm -f "$DB" "$DB-wal" "$DB-shm"

echo "== greenops list: the sensors on this machine"
"$G" list || true
echo

cat >"$PLAN" <<PLAN
# written by scripts/demo.sh
name: demo-cnn
command: ["$(cd "$BUILD" && pwd)/cnn-demo", --arch, "{arch}", --batch, "{batch}", --seconds, "1"]
parameters:
  arch: [small, wide]
  batch: [1, 8, 64]
repetitions: 3
units: windows
tags: {demo: cnn}
PLAN
echo "== greenops sweep $PLAN: 2 architectures x 3 batch sizes x 3 repetitions"
"$G" sweep "$PLAN" --db "$DB" | tee "$BUILD/demo-sweep.out"
id=$(sed -n 's/^sweep \([0-9]*\).*/\1/p' "$BUILD/demo-sweep.out")
echo
echo "== greenops analyze --sweep $id --db $DB"
"$G" analyze --sweep "$id" --db "$DB" --json "$BUILD/demo-analysis.json"
echo
echo "== greenops report --sweep $id --db $DB -o $REPORT"
report_ok=1
"$G" report --sweep "$id" --db "$DB" -o "$REPORT" >/dev/null || report_ok=0
echo
python3 - "$BUILD/demo-analysis.json" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
c = a["cheapest"]
def fmt(j):
    for scale, unit in ((1, "J"), (1e-3, "mJ"), (1e-6, "µJ"), (1e-9, "nJ")):
        if abs(j) >= scale:
            return f"{j / scale:.3g} {unit}"
    return f"{j:.3g} J"
if c is None:
    print("no configuration has a result")
else:
    p = c["params"]
    ci = f", 95% interval {fmt(c['ci_low_j'])} to {fmt(c['ci_high_j'])}" if c["ci_low_j"] is not None else ""
    print(f"cheapest batch size: {p['batch']:g} (arch {p['arch']}): {fmt(c['energy_per_unit_j'])} per sample{ci}")
if a["estimated"]:
    print("these figures are ESTIMATED: this machine has no energy sensor, so power comes from a model of CPU")
    print("load; they compare the configurations with each other, not with measured figures")
PY
echo "stored runs: $G runs --db $DB"
if [ "$report_ok" = 1 ]; then
	echo "report (open it in a browser; figures in $REPORT/figures): $REPORT/report.html"
else
	echo "no report: greenops report said why above (it needs the build's plotting libraries and node)"
fi
