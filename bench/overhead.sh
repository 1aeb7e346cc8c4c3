#!/usr/bin/env bash
# greenops's own cost: start-up of `greenops run --no-db -- true` (median of 100), and the
# sampler's CPU share while a child runs (greenops_cpu_share from the JSON), here against the
# fake NVML with its energy call made to burn 3.9 ms of CPU like a slow driver's.
#   bench/overhead.sh [BUILD]
set -eu
cd "$(dirname "$0")/.."
B=${1:-build}
python3 - "$B" <<'PY'
import json, os, statistics, subprocess, sys, time
b = sys.argv[1]
g = os.path.join(b, "greenops")
ts = []
for _ in range(100):
    t = time.perf_counter()
    subprocess.run([g, "run", "--no-db", "-q", "--", "true"], check=True)
    ts.append(time.perf_counter() - t)
ts.sort()
print(f"start-up, greenops run --no-db -- true: median {1000 * statistics.median(ts):.1f} ms, "
      f"p90 {1000 * ts[89]:.1f} ms (100 runs)")
env = dict(os.environ, GREENOPS_NVML_LIBRARY=os.path.join(b, "tests", "libfake-nvml.so"),
           FAKE_NVML_ENERGY_COST_US="3900")
for interval in ("100", "10"):
    out = subprocess.run([g, "run", "--no-db", "-q", "--interval", interval, "--json", "-", "--", "sleep", "20"],
                         env=env, check=True, capture_output=True, text=True).stdout
    d = json.loads(out)
    print(f"fake NVML (3.9 ms counter reads) + estimator, --interval {interval}: sampler "
          f"{100 * d['greenops_cpu_share']:.4f}% of a core over {d['duration_s']:.1f} s; "
          f"whole run {d['greenops_cpu_s']:.3f} s CPU")
PY
