"""Logs NVML's energy counter of GPU 0 from outside greenops: reads it back to back and
records every update with the middle of the two reads around it (CLOCK_MONOTONIC ns), until
stdin closes. The reference for spans in bench/windows_check.sh.

    python3 bench/counter_log.py OUT.json < fifo
    python3 bench/counter_log.py --energy OUT.json T0_NS T1_NS   # counter J between two times
"""
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from gpu_windows import Nvml  # noqa: E402


def energy_between(updates, t0, t1):
    """Counter joules between t0 and t1, linear between updates."""
    def at(t):
        for (ta, va), (tb, vb) in zip(updates, updates[1:]):
            if ta <= t <= tb:
                return va + (vb - va) * (t - ta) / (tb - ta)
        raise ValueError(f"time {t} outside the log")
    return (at(t1) - at(t0)) / 1000.0


def main():
    if sys.argv[1] == "--energy":
        updates = json.load(open(sys.argv[2]))
        print(f"{energy_between(updates, int(sys.argv[3]), int(sys.argv[4])):.3f}")
        return
    nv = Nvml()
    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    updates = []
    s = time.monotonic_ns()
    v0 = nv.energy_mj()
    mid_prev = (s + time.monotonic_ns()) // 2
    while not done.is_set():
        s = time.monotonic_ns()
        v = nv.energy_mj()
        mid = (s + time.monotonic_ns()) // 2
        if v != v0:
            updates.append(((mid_prev + mid) // 2, v))
            v0 = v
        mid_prev = mid
    json.dump(updates, open(sys.argv[1], "w"))


if __name__ == "__main__":
    main()
