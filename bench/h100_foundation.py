"""Checks `greenops run` on a real NVIDIA GPU against NVML's energy counter read directly.

    LD_LIBRARY_PATH=bench/carry python3 bench/h100_foundation.py --out DIR

1. a 20 s bf16 matrix-product load under `greenops run`; the energy counter is read here, outside
   greenops, right before greenops starts and right after it exits (waiting for a fresh counter
   update each time); the stretches outside greenops's span are charged at the power read here;
2. bursty loads (30% duty in 100 ms periods) to compare instant power integrated with the counter;
3. greenops's own CPU time while monitoring an idle GPU for 2 s and for 30 s.
Prints a table last. Uses nvidia-ml-py (pynvml), which the GPU machine has; changes no setting.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import pynvml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
GREENOPS = os.path.join(HERE, "carry", "greenops")
MATMUL = os.path.join(ROOT, "workloads", "gpu", "matmul.py")


def counter_edge(h):
    """Waits for the next counter update; returns (monotonic ns of the update, joules)."""
    e0 = pynvml.nvmlDeviceGetTotalEnergyConsumption(h)
    t_prev = time.monotonic_ns()
    while True:
        e = pynvml.nvmlDeviceGetTotalEnergyConsumption(h)
        t = time.monotonic_ns()
        if e != e0:
            return (t_prev + t) // 2, e / 1000.0
        t_prev = t
        time.sleep(0.001)


def instant_power(h):
    v = pynvml.nvmlDeviceGetFieldValues(h, [pynvml.NVML_FI_DEV_POWER_INSTANT])[0]
    return v.value.uiVal / 1000.0 if v.nvmlReturn == 0 else pynvml.nvmlDeviceGetPowerUsage(h) / 1000.0


def greenops_run(out, name, cmd, extra=()):
    js = os.path.join(out, f"{name}.json")
    args = [GREENOPS, "run", "--no-db", "--json", js, "--timeline", os.path.join(out, f"{name}.csv"), *extra, "--", *cmd]
    p = subprocess.run(args, stderr=subprocess.PIPE, text=True)
    with open(os.path.join(out, f"{name}.log"), "w") as f:
        f.write(p.stderr)
    if p.returncode != 0:
        print(p.stderr, file=sys.stderr)
        raise SystemExit(f"{name}: greenops exited {p.returncode}")
    with open(js) as f:
        return json.load(f)


def gpu0(res):
    return next(d for d in res["domains"] if d["name"].startswith("gpu"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.environ.get("OUT", "/tmp/greenops-bench"))
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--overhead-only", action="store_true")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    pynvml.nvmlInit()
    h = pynvml.nvmlDeviceGetHandleByIndex(0)
    name = pynvml.nvmlDeviceGetName(h)
    name = name.decode() if isinstance(name, bytes) else name
    drv = pynvml.nvmlSystemGetDriverVersion()
    drv = drv.decode() if isinstance(drv, bytes) else drv
    print(f"card: {name}, driver {drv}, power limit {pynvml.nvmlDeviceGetEnforcedPowerLimit(h) / 1000:.0f} W")
    rows = []

    if a.overhead_only:
        return overhead(a, rows)
    # 1. steady load against the counter read outside greenops
    t0, e0 = counter_edge(h)
    res = greenops_run(a.out, "matmul", ["python3", MATMUL, "--seconds", str(a.seconds)])
    t1, e1 = counter_edge(h)
    p_after = instant_power(h)
    g = gpu0(res)
    gap_before = (res["start_monotonic_ns"] - t0) / 1e9
    gap_after = (t1 - res["end_monotonic_ns"]) / 1e9
    # Outside greenops's span the GPU idles (before) or settles (after): charge both stretches at
    # the counter's own mean power over a quiet second measured below.
    ti0, ei0 = counter_edge(h)
    time.sleep(1.0)
    ti1, ei1 = counter_edge(h)
    idle_w = (ei1 - ei0) / ((ti1 - ti0) / 1e9)
    outside = e1 - e0
    corrected = outside - idle_w * (gap_before + gap_after)
    rows.append(("steady matmul: greenops gpu energy (J)", f"{g['energy_j']:.1f} ± {g['uncertainty_j']:.1f}"))
    rows.append(("NVML counter outside greenops (J)", f"{outside:.1f}"))
    rows.append(("  stretches outside greenops's span (s)", f"{gap_before:.3f} + {gap_after:.3f} at {idle_w:.1f} W"))
    rows.append(("  counter over greenops's span (J)", f"{corrected:.1f}"))
    rows.append(("  greenops vs counter", f"{100 * (g['energy_j'] - corrected) / corrected:+.3f}%"))
    rows.append(("greenops instant power integrated (J)", f"{g['integrated_energy_j']:.1f}"))
    rows.append(("  integrated vs greenops counter", f"{100 * (g['integrated_energy_j'] - g['energy_j']) / g['energy_j']:+.2f}%"))
    rows.append(("duration (s), avg/peak power (W)", f"{res['duration_s']:.2f}, {g['avg_power_w']:.1f}/{g['peak_power_w']:.1f}"))
    rows.append(("counter update period measured (ms)", f"{1000 * (g['update_period_s'] or 0):.1f}"))
    w = next((w for w in res["windows"] if w["name"] == "matmul"), None)
    if w:
        rows.append(("window 'matmul' (J, J/product)", f"{w['energy_j']:.1f}, {w['energy_per_unit_j']:.3f}"))
    rows.append(("greenops CPU during the matmul run (s)", f"{res['greenops_cpu_s']:.3f}"))
    rows.append(("power right after exit (W)", f"{p_after:.1f}"))

    # 2. bursts: instant power integrated vs counter
    for duty in (0.3,):
        b = greenops_run(a.out, f"burst{int(duty * 100)}", ["python3", MATMUL, "--seconds", "8", "--duty", str(duty)])
        gb = gpu0(b)
        rows.append((f"bursts {int(duty * 100)} ms/100 ms: counter vs integrated (J)",
                     f"{gb['energy_j']:.1f} vs {gb['integrated_energy_j']:.1f} "
                     f"({100 * (gb['integrated_energy_j'] - gb['energy_j']) / gb['energy_j']:+.1f}%)"))

    overhead(a, rows)


def overhead(a, rows):
    """greenops's own CPU while monitoring an idle GPU, fixed cost separated from per-second."""
    short = greenops_run(a.out, "idle2", ["sleep", "2"])
    long_ = greenops_run(a.out, "idle30", ["sleep", "30"])
    per_s = (long_["greenops_cpu_s"] - short["greenops_cpu_s"]) / (long_["duration_s"] - short["duration_s"])
    rows.append(("greenops CPU, 2 s / 30 s run (s)", f"{short['greenops_cpu_s']:.4f} / {long_['greenops_cpu_s']:.4f}"))
    rows.append(("greenops CPU per second monitored (30 s - 2 s)", f"{100 * per_s:.4f}% of a core"))
    rows.append(("  while the child ran (sampler only), 30 s", f"{100 * long_['greenops_cpu_share']:.4f}% of a core"))
    rows.append(("idle GPU power over 30 s (W)", f"{gpu0(long_)['avg_power_w']:.1f}"))
    slow = greenops_run(a.out, "idle30i1000", ["sleep", "30"], ["--interval", "1000"])
    per_s1 = (slow["greenops_cpu_s"] - short["greenops_cpu_s"]) / (slow["duration_s"] - short["duration_s"])
    rows.append(("  same at --interval 1000", f"{100 * per_s1:.4f}% / {100 * slow['greenops_cpu_share']:.4f}% of a core"))

    report(a, rows)


def report(a, rows):
    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump(dict(rows), f, indent=1)
    print()
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")


if __name__ == "__main__":
    main()
