#!/usr/bin/env python3
"""CPU time of each NVML call greenops makes, on the machine's first GPU (pynvml).

    python3 bench/nvml_call_cost.py [N]      (N calls each, default 50)

Prints, per call, the CPU time (user + system of this process) and the wall time per call:
what a sampler pays each time it reads. nvmlInit's cost is that of one call.
"""
import sys
import time

import pynvml

N = int(sys.argv[1]) if len(sys.argv) > 1 else 50


def cost(fn, n):
    c0, w0 = time.process_time(), time.perf_counter()
    for _ in range(n):
        fn()
    return (time.process_time() - c0) / n, (time.perf_counter() - w0) / n


rows = []
c, w = cost(pynvml.nvmlInit, 1)
rows.append(("nvmlInit", c, w, 1))
h = pynvml.nvmlDeviceGetHandleByIndex(0)
F = getattr(pynvml, "NVML_FI_DEV_POWER_INSTANT", 186)
calls = [
    ("nvmlDeviceGetHandleByIndex", lambda: pynvml.nvmlDeviceGetHandleByIndex(0)),
    ("nvmlDeviceGetName", lambda: pynvml.nvmlDeviceGetName(h)),
    ("nvmlDeviceGetUUID", lambda: pynvml.nvmlDeviceGetUUID(h)),
    ("nvmlDeviceGetTotalEnergyConsumption", lambda: pynvml.nvmlDeviceGetTotalEnergyConsumption(h)),
    ("nvmlDeviceGetFieldValues(186 instant)", lambda: pynvml.nvmlDeviceGetFieldValues(h, [F])),
    ("nvmlDeviceGetPowerUsage (1 s average)", lambda: pynvml.nvmlDeviceGetPowerUsage(h)),
    ("nvmlDeviceGetEnforcedPowerLimit", lambda: pynvml.nvmlDeviceGetEnforcedPowerLimit(h)),
    ("nvmlDeviceGetComputeRunningProcesses", lambda: pynvml.nvmlDeviceGetComputeRunningProcesses(h)),
    ("nvmlDeviceGetGraphicsRunningProcesses", lambda: pynvml.nvmlDeviceGetGraphicsRunningProcesses(h)),
    ("nvmlDeviceGetUtilizationRates", lambda: pynvml.nvmlDeviceGetUtilizationRates(h)),
    ("nvmlDeviceGetProcessUtilization", lambda: pynvml.nvmlDeviceGetProcessUtilization(h, 0)),
]
for name, fn in calls:
    n = 10 if "Energy" in name else N
    try:
        c, w = cost(fn, n)
        rows.append((name, c, w, n))
    except (pynvml.NVMLError, AttributeError) as e:
        rows.append((name + f" ({e})", float("nan"), float("nan"), 0))
pynvml.nvmlShutdown()
print(f"{'call':45s} {'CPU us':>10s} {'wall us':>10s} {'calls':>6s}")
for name, c, w, n in rows:
    print(f"{name:45s} {c * 1e6:10.1f} {w * 1e6:10.1f} {n:6d}")
