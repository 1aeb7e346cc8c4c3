"""Compares greenops's windows with the energy counter's own difference over each window (read
by bench/gpu_windows.py at its edges), and with the methods other tools use, computed from the
same run's power samples:
  instant    field 186 sampled every 100 ms, integrated (PowerJoular, nvidia-smi loops)
  avg1s      nvmlDeviceGetPowerUsage (a 1 s average) every 100 ms, integrated (nvidia-smi
             power.draw, DCGM's default)
  poll15s    nvmlDeviceGetPowerUsage every 15 s (and at the end) times the time since the
             previous poll (CodeCarbon's default)

    python3 bench/windows_report.py check G1.json C1.json [G2.json C2.json ...]
    python3 bench/windows_report.py methods G.json C.json [--svg plot.svg] [--md table.md]

`check` prints one row per window and run, and exits 1 unless every window of 1 s or more
is within 0.5% (or 2 J) of the counter and inside its stated uncertainty.
"""
import json
import math
import sys


def load(g_path, c_path):
    g = json.load(open(g_path))
    c = json.load(open(c_path))
    gw = {}
    for w in g["windows"]:
        d = next(x for x in w["domains"] if x["name"] == "gpu0")
        gw[w["name"]] = (d, w)
    return g, c, gw


def integrate(samples, col, t0, t1, every_ns):
    """Trapezoid over the samples taken every `every_ns` (subsampled from 10 ms)."""
    pts, last = [], None
    for s in samples:
        if last is None or s[0] - last >= every_ns:
            pts.append((s[0], s[col]))
            last = s[0]

    def p_at(t):
        lo, hi = 0, len(pts) - 1
        if t <= pts[0][0]:
            return pts[0][1]
        if t >= pts[-1][0]:
            return pts[-1][1]
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if pts[mid][0] <= t:
                lo = mid
            else:
                hi = mid
        a, b = pts[lo], pts[hi]
        return a[1] + (b[1] - a[1]) * (t - a[0]) / (b[0] - a[0])
    xs = [t0] + [p[0] for p in pts if t0 < p[0] < t1] + [t1]
    return sum((xs[i + 1] - xs[i]) / 1e9 * (p_at(xs[i]) + p_at(xs[i + 1])) / 2
               for i in range(len(xs) - 1))


def poll15(samples, t0, t1):
    """CodeCarbon: the 1 s average read every 15 s, times the 15 s before it."""
    def avg_at(t):
        best = samples[0]
        for s in samples:
            if s[0] <= t:
                best = s
            else:
                break
        return best[2]
    e, prev = 0.0, t0
    t = t0 + 15_000_000_000
    while t < t1:
        e += avg_at(t) * (t - prev) / 1e9
        prev, t = t, t + 15_000_000_000
    return e + avg_at(t1) * (t1 - prev) / 1e9


def check(pairs):
    ok = True
    print("| run | window | length s | counter J | greenops J | error | stated ± J | within 0.5% or 2 J | inside ± |")
    print("|---|---|---|---|---|---|---|---|---|")
    for run, (g_path, c_path) in enumerate(pairs, 1):
        g, c, gw = load(g_path, c_path)
        for name, w in c["windows"].items():
            d, win = gw[name]
            ref = w["counter_j"]
            err = d["energy_j"] - ref
            length = (w["end_ns"] - w["begin_ns"]) / 1e9
            close = abs(err) <= max(0.005 * abs(ref), 2.0)
            inside = abs(err) <= d["uncertainty_j"]
            if length >= 1 and not (close and inside):
                ok = False
            print(f"| {run} | {name} | {length:.2f} | {ref:.1f} | {d['energy_j']:.1f} | "
                  f"{100 * err / ref:+.2f}% ({err:+.1f} J) | {d['uncertainty_j']:.1f} | "
                  f"{'yes' if close else 'NO'} | {'yes' if inside else 'NO'} |")
        span = next(x for x in g["domains"] if x["name"] == "gpu0")
        print(f"| {run} | (span, greenops's own figure) | {g['duration_s']:.2f} | | {span['energy_j']:.1f} | "
              f"| {span['uncertainty_j']:.1f} | | |")
    print("all windows of 1 s or more within 0.5% (or 2 J) and inside their uncertainty:",
          "yes" if ok else "NO")
    return 0 if ok else 1


METHODS = [("greenops", "greenops default"), ("instant", "instant power, 100 ms, integrated"),
           ("avg1s", "1 s average, 100 ms, integrated"), ("poll15s", "1 s average every 15 s x time")]


def methods(g_path, c_path, svg=None, md=None):
    g, c, gw = load(g_path, c_path)
    rows = []
    for name, w in c["windows"].items():
        d, _ = gw[name]
        t0, t1, ref = w["begin_ns"], w["end_ns"], w["counter_j"]
        p = c["power"]
        est = {"greenops": d["energy_j"],
               "instant": integrate(p, 1, t0, t1, 100_000_000),
               "avg1s": integrate(p, 2, t0, t1, 100_000_000),
               "poll15s": poll15(p, t0, t1)}
        load_kind = "burst_30_70" if name.startswith("burst") else "steady"
        rows.append((load_kind, (t1 - t0) / 1e9, name, ref, est, d["uncertainty_j"]))
    # group by load and nominal length: mean absolute error over the windows of that length
    groups = {}
    for kind, length, name, ref, est, unc in rows:
        nominal = min([60, 30, 10, 3, 1, 0.3, 0.1], key=lambda x: abs(x - length))
        groups.setdefault((kind, nominal), []).append((ref, est, unc))
    out = ["| load | window | n | counter J (mean) | " + " | ".join(m[1] for m in METHODS) + " |",
           "|---|---|---|---|" + "---|" * len(METHODS)]
    series = {}
    for (kind, nominal), v in sorted(groups.items(), key=lambda x: (x[0][0], -x[0][1])):
        cells = []
        for m, _ in METHODS:
            errs = [100 * (e[m] - ref) / ref for ref, e, _ in v]
            worst = max(errs, key=abs)
            cells.append(f"{worst:+.2f}%")
            series.setdefault((kind, m), []).append((nominal, abs(worst)))
        out.append(f"| {kind} | {nominal:g} s | {len(v)} | {sum(r for r, _, _ in v) / len(v):.1f} | "
                   + " | ".join(cells) + " |")
    text = "\n".join(out)
    print(text)
    if md:
        open(md, "w").write(text + "\n")
    if svg:
        plot(series, svg)


def plot(series, path):
    """Error against the counter by window length, log-log, one line per method and load."""
    W, H, L, B = 720, 420, 70, 50
    xs = [0.1, 60]
    ys = [0.01, 100]

    def X(v):
        return L + (math.log10(v) - math.log10(xs[0])) / (math.log10(xs[1]) - math.log10(xs[0])) * (W - L - 180)

    def Y(v):
        v = min(max(v, ys[0]), ys[1])
        return H - B - (math.log10(v) - math.log10(ys[0])) / (math.log10(ys[1]) - math.log10(ys[0])) * (H - B - 20)
    colors = {"greenops": "#1b7837", "instant": "#d95f02", "avg1s": "#7570b3", "poll15s": "#e7298a"}
    s = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="11">',
         f'<rect width="{W}" height="{H}" fill="white"/>']
    for v in [0.1, 0.3, 1, 3, 10, 30, 60]:
        s.append(f'<line x1="{X(v):.1f}" y1="20" x2="{X(v):.1f}" y2="{H - B}" stroke="#ddd"/>'
                 f'<text x="{X(v):.1f}" y="{H - B + 15}" text-anchor="middle">{v:g}</text>')
    for v in [0.01, 0.1, 0.5, 1, 10, 100]:
        s.append(f'<line x1="{L}" y1="{Y(v):.1f}" x2="{W - 180}" y2="{Y(v):.1f}" stroke="#ddd"/>'
                 f'<text x="{L - 5}" y="{Y(v) + 4:.1f}" text-anchor="end">{v:g}%</text>')
    s.append(f'<text x="{(W - 180 + L) / 2}" y="{H - 10}" text-anchor="middle">window length (s)</text>')
    s.append(f'<text x="15" y="{(H - B) / 2}" transform="rotate(-90 15 {(H - B) / 2})" text-anchor="middle">'
             'worst |error| against the counter</text>')
    ly = 30
    for (kind, m), pts in sorted(series.items()):
        pts = sorted(pts)
        dash = "" if kind == "steady" else ' stroke-dasharray="5,3"'
        d = " ".join(f"{'M' if i == 0 else 'L'}{X(x):.1f},{Y(y):.1f}" for i, (x, y) in enumerate(pts))
        s.append(f'<path d="{d}" fill="none" stroke="{colors[m]}" stroke-width="2"{dash}/>')
        s.append(f'<line x1="{W - 170}" y1="{ly}" x2="{W - 145}" y2="{ly}" stroke="{colors[m]}" stroke-width="2"{dash}/>'
                 f'<text x="{W - 140}" y="{ly + 4}">{m}, {kind}</text>')
        ly += 16
    s.append("</svg>")
    open(path, "w").write("\n".join(s) + "\n")


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "check" and len(sys.argv) % 2 == 0:
        sys.exit(check(list(zip(sys.argv[2::2], sys.argv[3::2]))))
    if len(sys.argv) >= 4 and sys.argv[1] == "methods":
        args = sys.argv[2:]
        svg = args[args.index("--svg") + 1] if "--svg" in args else None
        md = args[args.index("--md") + 1] if "--md" in args else None
        methods(args[0], args[1], svg, md)
        sys.exit(0)
    print(__doc__, file=sys.stderr)
    sys.exit(2)
