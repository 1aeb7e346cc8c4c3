#!/usr/bin/env bash
# The estimated split of a shared GPU on real hardware: a neighbour process computes bursts on
# GPU 0 (duty NEIGHBOUR_DUTY, default 0.3) while `greenops run` measures a steady matmul there;
# then the same matmul alone. Prints each run's measured energy and its attribution object.
#   LD_LIBRARY_PATH=bench/carry/w GREENOPS=bench/carry/w/greenops bash bench/shared_gpu_check.sh OUT [SECONDS]
set -u
cd "$(dirname "$0")/.."
OUT=${1:?usage: bench/shared_gpu_check.sh OUT [SECONDS]}
S=${2:-12}
G=${GREENOPS:-build/greenops}
mkdir -p "$OUT"
python3 workloads/gpu/matmul.py --seconds $((S + 8)) --duty "${NEIGHBOUR_DUTY:-0.3}" >"$OUT/neighbour.log" 2>&1 &
NPID=$!
# The neighbour is on the GPU once NVML lists it (a real signal; at most 30 s).
for _ in $(seq 300); do
	nvidia-smi --query-compute-apps=pid --format=csv,noheader 2>/dev/null | grep -qw "$NPID" && break
	sleep 0.1
done
"$G" run --no-db --sources nvml --json "$OUT/shared.json" -- python3 workloads/gpu/matmul.py --seconds "$S" \
	>"$OUT/shared.txt" 2>&1
wait "$NPID"
"$G" run --no-db --sources nvml --json "$OUT/alone.json" -- python3 workloads/gpu/matmul.py --seconds "$S" \
	>"$OUT/alone.txt" 2>&1
python3 - "$OUT" <<'PY'
import json, sys
for name in ("shared", "alone"):
    d = json.load(open(f"{sys.argv[1]}/{name}.json"))
    g = next(x for x in d["domains"] if x["name"] == "gpu0")
    a = g.get("attribution")
    print(f"{name}: gpu0 {g['energy_j']:.0f} J measured over {d.get('duration_s', float('nan')):.1f} s")
    if a:
        print(f"  attribution ({a['method']}, {a['basis']}): command {a['command_j']:.0f} J, others {a['others_j']:.0f} J, "
              f"unattributed {a['unattributed_j']:.0f} J, missing {a['missing_s']:.1f} s, "
              f"{a['other_processes']} other process(es)")
    else:
        print("  no attribution (the GPU was not shared)")
PY
grep -E 'shared with|estimated' "$OUT/shared.txt" | head -3
