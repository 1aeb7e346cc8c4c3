#!/usr/bin/env bash
# greenops's CPU while a Python training-loop stand-in marks 1,000 windows a second through
# bindings/python/greenops.py (one window per "batch", 32 units each) for 10 s, against the fake
# NVML. The span share excludes start-up and the final accounting, which is reported apart.
#   bench/windows_overhead.sh [BUILD] [RATE] [SECONDS]
set -eu
cd "$(dirname "$0")/.."
B=${1:-build}
RATE=${2:-1000}
SECS=${3:-10}
export GREENOPS_NVML_LIBRARY="$PWD/$B/tests/libfake-nvml.so"
"$B/greenops" run --no-db -q --json /tmp/greenops-windows.json -- python3 -c '
import sys, time
sys.path.insert(0, "bindings/python")
import greenops
rate, secs = float(sys.argv[1]), float(sys.argv[2])
t0 = time.monotonic(); n = 0
while time.monotonic() - t0 < secs:
    with greenops.window("batch", units=32):
        due = t0 + (n + 1) / rate
        while time.monotonic() < due:  # the "batch": busy until its slot ends
            pass
    n += 1
print(f"child: {n} windows in {time.monotonic() - t0:.2f} s", file=sys.stderr)
' "$RATE" "$SECS"
python3 - <<'PY'
import json
d = json.load(open("/tmp/greenops-windows.json"))
w = d["windows"]
tot = sum(x["energy_j"] for x in w)
print(f"{len(w)} windows over {d['duration_s']:.2f} s; greenops while the child ran: "
      f"{100 * d['greenops_cpu_share']:.3f}% of a core; whole run {d['greenops_cpu_s']:.3f} s CPU "
      f"(incl. start-up and accounting of every window)")
cover = sum(x["end_s"] - x["start_s"] for x in w)
print(f"windows: {tot:.2f} J over {cover:.3f} s of the span's {d['energy_j']:.2f} J over {d['duration_s']:.3f} s")
PY
