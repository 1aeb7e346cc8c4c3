#!/bin/sh
# make demo: shows which energy sensors this machine has, then measures the embedded CNN
# workload at three batch sizes and prints energy per sample for each.
set -eu
BUILD=${1:-build}
G="$BUILD/greenops"
export GREENOPS_DB="${GREENOPS_DB:-$BUILD/demo.db}"
echo "== greenops list: the sensors on this machine"
"$G" list || true
echo
for b in 1 8 32; do
	echo "== greenops run -- cnn-demo --batch $b --seconds 3"
	"$G" run --tag demo=cnn --tag batch=$b --json "$BUILD/demo-b$b.json" --plot "$BUILD/demo-b$b.svg" \
		-- "$BUILD/cnn-demo" --batch $b --seconds 3
done
echo "== energy per sample by batch size (from $BUILD/demo-b*.json)"
printf '%8s %12s %14s %10s\n' batch samples "J/sample" method
for b in 1 8 32; do
	python3 - "$BUILD/demo-b$b.json" "$b" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
m = ",".join(sorted({x["method"] for x in d["domains"] if x["summed"]})) or "none"
per = d["energy_per_unit_j"]
print(f'{sys.argv[2]:>8} {d["units"] or 0:>12.0f} {("%.4g" % per) if per is not None else "n/a":>14} {m:>10}')
PY
done
echo
echo "power over time of each run, batches shaded: $BUILD/demo-b1.svg, $BUILD/demo-b8.svg, $BUILD/demo-b32.svg"
echo "stored runs: $G runs   (database: $GREENOPS_DB)"
