#!/usr/bin/env python3
"""Measures how `greenops export` grows over time: VmRSS and the median of 20 scrapes right after
it starts and again after SECONDS (docs/EXPORT.md, "Running for months"). Standard library only.

    python3 deploy/exporter_growth.py SECONDS -- GREENOPS export [ARGS...]
"""
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.request


def main():
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    secs = float(sys.argv[1])
    p = subprocess.Popen(sys.argv[3:] + ["--listen", "127.0.0.1:0"], stderr=subprocess.PIPE, text=True)
    addr = None
    for line in p.stderr:
        if "listening on " in line:
            addr = line.split("listening on ")[1].strip()
            break
    if not addr:
        print("the exporter did not start", file=sys.stderr)
        return 1

    def rss_mib():
        return int(re.search(r"VmRSS:\s+(\d+)", open(f"/proc/{p.pid}/status").read()).group(1)) / 1024

    def cpu_s():
        f = open(f"/proc/{p.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

    def scrape_ms():
        v = []
        for _ in range(20):
            t = time.perf_counter()
            urllib.request.urlopen(f"http://{addr}/metrics", timeout=5).read()
            v.append((time.perf_counter() - t) * 1e3)
        return statistics.median(v)

    s0, r0, c0, t0 = scrape_ms(), rss_mib(), cpu_s(), time.time()
    time.sleep(secs)
    s1, r1, c1, t1 = scrape_ms(), rss_mib(), cpu_s(), time.time()
    p.terminate()
    p.wait()
    print(f"start: RSS {r0:.1f} MiB, scrape {s0:.2f} ms; after {t1 - t0:.0f} s: RSS {r1:.1f} MiB, "
          f"scrape {s1:.2f} ms; CPU {100 * (c1 - c0) / (t1 - t0):.2f}% of a core")
    return 0


if __name__ == "__main__":
    sys.exit(main())
