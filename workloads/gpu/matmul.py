"""A steady GPU load: bf16 matrix products for a given time, on every visible GPU's first.

    python3 workloads/gpu/matmul.py --seconds 20 [--size 8192] [--duty 1.0]

--duty below 1 makes bursts: each 100 ms period computes for duty x 100 ms, then idles.
Marks a greenops window "matmul" (with one unit per product) when run under greenops.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bindings", "python"))
import greenops  # noqa: E402
import torch  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--seconds", type=float, default=20)
ap.add_argument("--size", type=int, default=8192)
ap.add_argument("--duty", type=float, default=1.0)
a = ap.parse_args()

dev = torch.device("cuda")
x = torch.randn(a.size, a.size, device=dev, dtype=torch.bfloat16)
y = torch.randn(a.size, a.size, device=dev, dtype=torch.bfloat16)
torch.cuda.synchronize()
n = 0
with greenops.window("matmul", sync=torch.cuda.synchronize):
    t_end = time.monotonic() + a.seconds
    while time.monotonic() < t_end:
        if a.duty >= 1:
            for _ in range(10):
                z = x @ y
            n += 10
            torch.cuda.synchronize()
        else:
            p0 = time.monotonic()
            while time.monotonic() - p0 < 0.1 * a.duty:
                z = x @ y
                n += 1
                torch.cuda.synchronize()
            time.sleep(max(0.0, 0.1 - (time.monotonic() - p0)))
    greenops.units(n, "matmul")
print(f"matmul: {n} products of {a.size}x{a.size} bf16 in {a.seconds:.1f} s "
      f"({2 * a.size**3 * n / a.seconds / 1e12:.0f} TFLOP/s)", file=sys.stderr)
