#!/usr/bin/env bash
# On the GPU machine: idle baseline, then ResNet-18 training on synthetic CIFAR-shaped data at
# three batch sizes, each epoch (and, at batch 256, each batch) marked from Python. Prints
# energy per epoch and per sample, gross and dynamic.
#   LD_LIBRARY_PATH=bench/carry bash bench/h100_train.sh OUTDIR
set -u
cd "$(dirname "$0")/.."
OUT=${1:?usage: bench/h100_train.sh OUTDIR}
G=${GREENOPS:-bench/carry/greenops}
export GREENOPS_DB="$OUT/greenops.db"
mkdir -p "$OUT"
"$G" idle --duration 10 --timeout 90 2>&1 | tee "$OUT/idle.txt"
for b in 64 256 1024; do
	extra=""
	[ "$b" = 256 ] && extra="--batch-windows"
	"$G" run --idle stored --tag bench=train --json "$OUT/train-b$b.json" -- \
		python3 workloads/train/resnet_cifar.py --epochs 3 --batch "$b" $extra 2>"$OUT/train-b$b.txt"
	echo "batch $b: exit $?"
done
"$G" runs --limit 5
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
print(f"\n{'batch':>6} {'epoch J':>10} {'dyn epoch J':>12} {'J/sample':>10} {'dyn J/sample':>13} {'samples/s':>10} {'batch windows':>14}")
for b in (64, 256, 1024):
    d = json.load(open(f"{out}/train-b{b}.json"))
    ep = [w for w in d["windows"] if w["name"] == "epoch"][1:]  # the first epoch warms up
    bw = [w for w in d["windows"] if w["name"] == "batch"]
    e = sum(w["energy_j"] for w in ep) / len(ep)
    dy = sum(w["dynamic_energy_j"] for w in ep) / len(ep) if all(w["dynamic_energy_j"] is not None for w in ep) else float("nan")
    u = sum(w["units"] for w in ep) / len(ep)
    dt = sum(w["end_s"] - w["start_s"] for w in ep) / len(ep)
    bws = f"{len(bw)}, {sum(w['energy_j'] for w in bw) / max(1, sum(w['units'] for w in bw)):.4f} J/s" if bw else "-"
    print(f"{b:>6} {e:>10.1f} {dy:>12.1f} {e / u:>10.4f} {dy / u:>13.4f} {u / dt:>10.0f} {bws:>14}")
PY
