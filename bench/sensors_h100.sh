#!/usr/bin/env bash
# On the GPU machine: what `greenops list` finds there (the GPU through NVML, perf's
# energy-psys present but not moving, no powercap) and what a run measures (the GPU by its
# counter, the CPU and RAM estimated). Writes list.json, list.txt, run.json, run.txt to OUT.
#   LD_LIBRARY_PATH=bench/carry bash bench/sensors_h100.sh OUT
set -u
cd "$(dirname "$0")/.."
OUT=${1:?usage: bench/sensors_h100.sh OUT}
G=${GREENOPS:-bench/carry/greenops}
mkdir -p "$OUT"
"$G" list --json "$OUT/list.json" >"$OUT/list.txt" 2>&1
echo "greenops list: exit $?"
# Three seconds of one busy CPU thread, then three of a GPU matrix product when torch sees a GPU.
"$G" run --no-db --json "$OUT/run.json" -- python3 -c '
import time
t = time.time()
while time.time() - t < 3: pass
try:
    import torch
    if torch.cuda.is_available():
        a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
        t = time.time()
        while time.time() - t < 3: a @ a
        torch.cuda.synchronize()
except ImportError:
    pass
' >"$OUT/run.txt" 2>&1
echo "greenops run: exit $?"
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
lst = json.load(open(out + "/list.json"))
for s in lst["sources"]:
    doms = ", ".join("%s (%s, %s)" % (d["name"], d["kind"], d["reading"]) for d in s["domains"])
    print("list %-9s %-6s used=%-5s %s" % (s["name"], s["status"], s["used"], doms or s["error"]))
    for n in s["notes"]:
        print("     note: " + n)
print("list would sum: " + " ".join(lst["summed"]) + ("  (estimated)" if lst["estimated"] else ""))
run = json.load(open(out + "/run.json"))
print("run duration %.2f s, energy %.1f J" % (run["duration_s"], run["energy_j"] or float("nan")))
for d in run["domains"]:
    print("run %-13s %-8s %-10s %8.1f J  avg %6.1f W  summed=%s" % (
        d["name"], d["source"], d["method"], d["energy_j"] if d["energy_j"] is not None else float("nan"),
        d["avg_power_w"] if d["avg_power_w"] is not None else float("nan"), d.get("summed")))
    for w in d.get("warnings", []):
        print("     warning: " + w)
PY
