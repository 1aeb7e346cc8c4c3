#!/usr/bin/env python3
"""Stands in for workloads/pytorch/cnn.py where there is no PyTorch (tests only): the same
flags (its own parser), the same windows, tags and units through the Python binding, ONNX
exports written by onnx_gen, and an out-of-memory failure with PyTorch's message above a
size. Each architecture has its own throughput, so energy per sample differs by architecture:
    fake_cnn.py ARGS...   (FAKE_CNN_ONNX_GEN: the onnx_gen program; FAKE_CNN_OOM: batch*size^2
    above which it runs out of memory, default 1024*224*224)"""
import os
import subprocess
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "workloads", "pytorch"))
import cnn  # noqa: E402  (the real script's parser; it imports torch only to run)
import greenops  # noqa: E402  (put on the path by cnn)

# samples per second of each architecture in this fake (at 32x32; / (size/32)^2 above)
SPEED = {"resnet18": 40000, "resnet50": 12000, "mobilenet_v2": 30000, "vgg11": 20000}

a = cnn.parse_args()
if a.export_onnx:
    os.makedirs(a.export_onnx, exist_ok=True)
    for arch in a.arch.split(","):
        kind = "resnet18" if arch == "resnet18" else "cnn"
        subprocess.run([os.environ["FAKE_CNN_ONNX_GEN"], kind, os.path.join(a.export_onnx, f"{arch}_{a.size}.onnx")],
                       check=True, stdout=subprocess.DEVNULL)
    sys.exit(0)
if a.batch * a.size * a.size > float(os.environ.get("FAKE_CNN_OOM", 1024 * 224 * 224)):
    print("Traceback (most recent call last):\ntorch.OutOfMemoryError: CUDA out of memory. Tried to allocate 9.00 GiB",
          file=sys.stderr)
    sys.exit(1)
speed = SPEED.get(a.arch, 25000) / (a.size / 32) ** 2
for key, val in (("arch", a.arch), ("batch", a.batch), ("size", a.size), ("data", "synthetic")):
    greenops.tag(key, val)
total = 0
if "train" in a.phases:
    steps = a.steps or max(1, round(a.seconds * speed / a.batch))
    greenops.begin("train")
    for _ in range(a.epochs):
        with greenops.window("epoch", units=steps * a.batch):
            time.sleep(steps * a.batch / speed)
    greenops.units(a.epochs * steps * a.batch, "train")
    greenops.end("train")
    total = a.epochs * steps * a.batch
if "infer" in a.phases:
    steps = a.infer_steps or max(1, round(a.infer_seconds * 3 * speed / a.batch))
    with greenops.window("infer", units=steps * a.batch):
        time.sleep(steps * a.batch / (3 * speed))
    total = total or steps * a.batch
greenops.units(total)
