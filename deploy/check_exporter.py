#!/usr/bin/env python3
"""Checks `greenops export` on a node: starts it on a free port, scrapes it every --every seconds
for --seconds, optionally loads GPU 0 with a bf16 matmul for the middle third, and prints per
domain the served power, the energy counter's rate, the oldest reading served, and the
exporter's own CPU and memory. Standard library only (torch only for --load).

    python3 deploy/check_exporter.py [--greenops PATH] [--libs DIR] [--seconds 60] [--load]
                                     [-- EXPORT ARGS...]

--libs DIR puts DIR on the exporter's LD_LIBRARY_PATH only (bench/carry), not on Python's.
"""
import argparse
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request

SERIES = re.compile(r'^(greenops_[a-z_]+)\{domain="([^"]*)",source="([^"]*)",kind="([^"]*)",method="([^"]*)"[^}]*\} (\S+)$')


def parse(text):
    out = {}
    for line in text.splitlines():
        m = SERIES.match(line)
        if m:
            name, dom, src, kind, method, v = m.groups()
            out.setdefault((dom, src, kind, method), {})[name] = float(v)
        elif line.startswith("greenops_exporter_rotations_total"):
            out["rotations"] = float(line.split()[-1])
    return out


def proc_stat(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    rss = int(re.search(r"VmRSS:\s+(\d+)", open(f"/proc/{pid}/status").read()).group(1)) / 1024
    return cpu, rss


def gpu_load(torch, a, stop):
    while not stop.is_set():
        for _ in range(20):
            a @ a
        torch.cuda.synchronize()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--greenops", default=os.environ.get("GREENOPS", "build/greenops"))
    ap.add_argument("--libs", help="directory of the exporter's shared libraries")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--every", type=float, default=0.5)
    ap.add_argument("--load", action="store_true", help="load GPU 0 (torch) for the middle third")
    ap.add_argument("export_args", nargs="*")
    a = ap.parse_args()

    if a.load:  # CUDA starts before the exporter, so its start-up is not in the figures
        import torch
        mat = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
        torch.cuda.synchronize()
    env = dict(os.environ)
    if a.libs:
        env["LD_LIBRARY_PATH"] = a.libs + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    p = subprocess.Popen([a.greenops, "export", "--listen", "127.0.0.1:0", *a.export_args],
                         stderr=subprocess.PIPE, text=True, env=env)
    addr = None
    t_start = time.time()
    for line in p.stderr:
        sys.stderr.write(line)
        if "listening on " in line:
            addr = line.split("listening on ")[1].strip()
            break
    if not addr:
        print("the exporter did not start", file=sys.stderr)
        return 1
    print(f"ready {time.time() - t_start:.2f} s after start, at {addr}")
    threading.Thread(target=lambda: [sys.stderr.write(l) for l in p.stderr], daemon=True).start()

    stop = threading.Event()
    loader = None
    samples = []  # (t, parsed, scrape seconds)
    cpu0, _ = proc_stat(p.pid)
    t0 = time.time()
    while time.time() - t0 < a.seconds:
        el = time.time() - t0
        if a.load and loader is None and el >= a.seconds / 3:
            loader = threading.Thread(target=gpu_load, args=(torch, mat, stop), daemon=True)
            loader.start()
        if a.load and loader is not None and el >= 2 * a.seconds / 3:
            stop.set()
        t = time.time()
        body = urllib.request.urlopen(f"http://{addr}/metrics", timeout=5).read().decode()
        samples.append(((t + time.time()) / 2, parse(body), time.time() - t))
        time.sleep(a.every)
    stop.set()
    cpu1, rss = proc_stat(p.pid)
    wall = time.time() - t0
    p.send_signal(signal.SIGTERM)
    rc = p.wait(timeout=30)

    first, last = samples[0], samples[-1]
    keys = [k for k in last[1] if k != "rotations"]
    print(f"{len(samples)} scrapes over {last[0] - first[0]:.1f} s; scrape time median "
          f"{sorted(s[2] for s in samples)[len(samples) // 2] * 1e3:.2f} ms; rotations {last[1].get('rotations', 0):.0f}")
    print(f"{'domain':<14} {'source':<9} {'method':<11} {'mean W':>8} {'dE/dt W':>8} {'max age s':>10} "
          f"{'age<=0.1':>9} {'up':>3} {'monotonic':>9}")
    for k in keys:
        dom, src, kind, method = k
        pw = [s[1][k].get("greenops_power_watts") for s in samples if k in s[1]]
        pw = [x for x in pw if x is not None]
        ages = [s[1][k].get("greenops_sample_age_seconds", float("nan")) for s in samples if k in s[1]]
        es = [(s[0], s[1][k].get("greenops_energy_joules_total")) for s in samples if k in s[1]]
        es = [e for e in es if e[1] is not None]
        rate = (es[-1][1] - es[0][1]) / (es[-1][0] - es[0][0]) if len(es) > 1 else float("nan")
        mono = all(b[1] >= a_[1] for a_, b in zip(es, es[1:]))
        fresh = sum(1 for x in ages if x <= 0.1) / max(1, len(ages))
        print(f"{dom:<14} {src:<9} {method:<11} {sum(pw) / max(1, len(pw)):>8.1f} {rate:>8.1f} "
              f"{max(ages):>10.3f} {fresh:>8.0%} {last[1][k].get('greenops_sensor_up', 0):>3.0f} {str(mono):>9}")
    print(f"exporter: {100 * (cpu1 - cpu0) / wall:.2f}% of a core, RSS {rss:.1f} MiB; exit {rc} after SIGTERM")
    return 0 if rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
