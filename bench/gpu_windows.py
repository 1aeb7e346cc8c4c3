"""The child of bench/windows_check.sh: GPU load phases marked as greenops windows, each edge
placed where this process has just seen NVML's energy counter update, with the counter's own
value there, so every window can be compared with the counter's difference over it.

    greenops run --json G.json -- python3 bench/gpu_windows.py --plan windows --out C.json

--plan windows: steady matmul 6 s, bursts of 10 ms every 100 ms (10 s), 30/70 ms (10 s), idle
  5 s, bursts of 200 ms every 500 ms (8 s), 1 s steady, 1 s idle, 2 s steady: one window each.
--plan methods: 61 s steady with windows of 0.1 s to 60 s, then 31 s of 30/70 ms bursts with
  windows of 0.1 s to 30 s (for the comparison of methods in bench/windows_report.py).
Instant power (field 186) and the 1 s average (nvmlDeviceGetPowerUsage) are sampled every
10 ms beside, for the methods other tools use. Standard library, ctypes and PyTorch only.
"""
import argparse
import ctypes
import json
import multiprocessing as mp
import os
import socket
import sys
import threading
import time


class FieldValue(ctypes.Structure):  # nvmlFieldValue_t, 40 bytes
    _fields_ = [("fieldId", ctypes.c_uint), ("scopeId", ctypes.c_uint),
                ("timestamp", ctypes.c_longlong), ("latencyUsec", ctypes.c_longlong),
                ("valueType", ctypes.c_int), ("nvmlReturn", ctypes.c_int),
                ("value", ctypes.c_ulonglong)]


class Nvml:
    def __init__(self, index=0):
        # GREENOPS_NVML_LIBRARY: the fake NVML of the tests, for a dry run without a GPU
        self.lib = ctypes.CDLL(os.environ.get("GREENOPS_NVML_LIBRARY") or "libnvidia-ml.so.1")
        assert self.lib.nvmlInit_v2() == 0
        self.h = ctypes.c_void_p()
        assert self.lib.nvmlDeviceGetHandleByIndex_v2(index, ctypes.byref(self.h)) == 0

    def energy_mj(self):
        v = ctypes.c_ulonglong()
        assert self.lib.nvmlDeviceGetTotalEnergyConsumption(self.h, ctypes.byref(v)) == 0
        return v.value

    def instant_w(self):
        f = FieldValue(fieldId=186, scopeId=0)
        self.lib.nvmlDeviceGetFieldValues(self.h, 1, ctypes.byref(f))
        return (f.value & 0xFFFFFFFF) / 1000.0 if f.nvmlReturn == 0 else float("nan")

    def average_w(self):
        mw = ctypes.c_uint()
        self.lib.nvmlDeviceGetPowerUsage(self.h, ctypes.byref(mw))
        return mw.value / 1000.0


def load_main(conn, size):
    """The GPU load, in its own process: runs the last phase it was told until the next."""
    if size == 0:  # dry run: no GPU, no load
        def busy(seconds):
            time.sleep(seconds)
    else:
        import torch
        x = torch.randn(size, size, device="cuda", dtype=torch.bfloat16)
        y = torch.randn(size, size, device="cuda", dtype=torch.bfloat16)

        def busy(seconds):
            t_end = time.monotonic() + seconds
            while time.monotonic() < t_end:
                x @ y
                torch.cuda.synchronize()

    busy(0.5)
    conn.send("ready")
    phase = ("idle", 0, 0)
    while True:
        if conn.poll():
            phase = conn.recv()
            if phase is None:
                return
        kind, on_ms, off_ms = phase
        if kind == "steady":
            busy(0.02)
        elif kind == "idle":
            time.sleep(0.01)
        else:
            p0 = time.monotonic()
            busy(on_ms / 1000)
            rest = p0 + (on_ms + off_ms) / 1000 - time.monotonic()
            if rest > 0:
                time.sleep(rest)


PLANS = {
    # (window name, phase, seconds)
    "windows": [("steady", ("steady", 0, 0), 6), ("burst_10_90", ("burst", 10, 90), 10),
                ("burst_30_70", ("burst", 30, 70), 10), ("idle", ("idle", 0, 0), 5),
                ("burst_200_300", ("burst", 200, 300), 8), ("steady_1s", ("steady", 0, 0), 1),
                ("idle_1s", ("idle", 0, 0), 1), ("steady_2s", ("steady", 0, 0), 2)],
}
# methods: nested windows of every length inside one long phase of each load
LENGTHS = [60, 30, 10, 3, 1, 0.3, 0.1]


def methods_edges(prefix, longest):
    """(offset s, [(begin|end, name)]) inside a phase: the longest window and one of 30 s (or
    10 s) from 0, the shorter ones one after another from 0.5 s inside them, short ones three
    times."""
    ev = {}

    def add(t, what, name):
        ev.setdefault(round(t, 3), []).append((what, name))
    add(0, "begin", f"{prefix}_{longest:g}s"), add(longest, "end", f"{prefix}_{longest:g}s")
    for mid in (30, 10):
        if longest > mid:
            add(0, "begin", f"{prefix}_{mid}s"), add(mid, "end", f"{prefix}_{mid}s")
            break
    t = 0.5
    for length, reps in [(10, 1), (3, 2), (1, 3), (0.3, 3), (0.1, 3)]:
        if length >= longest:
            continue
        for r in range(reps):
            name = f"{prefix}_{length:g}s_{r + 1}"
            add(t, "begin", name), add(t + length, "end", name)
            t += length + 0.25
    return sorted(ev.items())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--plan", choices=["windows", "methods"], default="windows")
    ap.add_argument("--out", required=True)
    ap.add_argument("--size", type=int, default=8192, help="matrix side; 0: no load (dry run)")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="windows plan: phases longer than 2 s last this times as long")
    ap.add_argument("--longest", default="60,30",
                    help="methods plan: the longest window on the steady and the bursty load (s)")
    a = ap.parse_args()

    nv = Nvml()
    ctl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ctl.connect(os.environ["GREENOPS_CONTROL"])

    samples, stop = [], threading.Event()

    def sample():
        while not stop.is_set():
            samples.append((time.monotonic_ns(), nv.instant_w(), nv.average_w()))
            time.sleep(0.01)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()

    ctx = mp.get_context("spawn")
    here, there = ctx.Pipe()
    load = ctx.Process(target=load_main, args=(there, a.size), daemon=True)
    load.start()
    assert here.recv() == "ready"
    here.send(("idle", 0, 0))
    time.sleep(1.0)

    edges = []

    def edge(lines):
        """Waits for the counter's next update; the edge is the middle of the two reads
        around it."""
        s = time.monotonic_ns()
        v0 = nv.energy_mj()
        mid_prev = (s + time.monotonic_ns()) // 2
        while True:
            s = time.monotonic_ns()
            v = nv.energy_mj()
            mid = (s + time.monotonic_ns()) // 2
            if v != v0:
                break
            mid_prev = mid
        t = (mid_prev + mid) // 2
        ctl.sendall("".join(f"{what} {name} {t}\n" for what, name in lines).encode())
        edges.append({"t_ns": t, "counter_mj": v, "lines": lines})

    if a.plan == "windows":
        plan = PLANS["windows"]
        prev = None
        for name, phase, secs in plan:
            if secs > 2:
                secs = max(2.0, secs * a.scale)
            lines = ([("end", prev)] if prev else []) + [("begin", name)]
            edge(lines)
            here.send(phase)
            time.sleep(secs)
            prev = name
        edge([("end", prev)])
    else:
        longest_steady, longest_burst = (float(x) for x in a.longest.split(","))
        for prefix, phase, longest in [("steady", ("steady", 0, 0), longest_steady),
                                       ("burst_30_70", ("burst", 30, 70), longest_burst)]:
            here.send(phase)
            time.sleep(1.0)
            t0 = time.monotonic()
            for off, lines in methods_edges(prefix, longest):
                delay = t0 + off - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                edge(lines)
        here.send(("idle", 0, 0))
    here.send(None)
    load.join(5)
    time.sleep(0.3)
    stop.set()
    sampler.join()

    windows = {}
    for e in edges:
        for what, name in e["lines"]:
            w = windows.setdefault(name, {})
            w[what + "_ns"] = e["t_ns"]
            w[what + "_mj"] = e["counter_mj"]
    for w in windows.values():
        w["counter_j"] = (w["end_mj"] - w["begin_mj"]) / 1000.0
    with open(a.out, "w") as f:
        json.dump({"plan": a.plan, "windows": windows, "edges": edges, "power": samples}, f)
    print(f"gpu_windows: {len(windows)} windows, {len(samples)} power samples", file=sys.stderr)


if __name__ == "__main__":
    main()
