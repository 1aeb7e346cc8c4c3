#!/usr/bin/env python3
"""Trains and runs inference of a torchvision CNN on CIFAR-10-shaped data (3 channels, 10
classes, 32x32 or upscaled to --size) and marks the measured phases as greenops windows:

    greenops run -- python3 workloads/pytorch/cnn.py --arch resnet18 --batch 256 --seconds 2
    python3 workloads/pytorch/cnn.py --arch resnet18,vgg11 --export-onnx /tmp/greenops-onnx

Windows (through bindings/python/greenops.py, each with its samples as units and
torch.cuda.synchronize() at its edges, so they cover when the kernels ran): `epoch` for each
training epoch, `train` around all of them, `infer` around the inference batches, and with
--batch-windows `batch` for every training batch. Warm-up steps (CUDA context, kernel loading,
allocator growth) run before any window. The run's own units are the training samples (the
inference samples when only inference runs), so `greenops run`'s energy per unit includes the
start-up of Python and CUDA; the windows are the figures of the work itself.

Data: the CIFAR-10 files from --data (or $CIFAR10_DIR, or a few usual places) when present,
in either the binary (data_batch_1.bin) or the Python (data_batch_1) format, else random
tensors of the same shape; the run is tagged data=cifar10 or data=synthetic and says which.
The samples are loaded onto the GPU once (a pool of a few batches, upscaled there once for
--size > 32) and cycled, so the figures are those of the model, not of a data pipeline.

With --export-onnx DIR nothing is trained: each architecture of --arch (comma-separated) is
written as DIR/ARCH_SIZE.onnx (batch 1, eval mode) for `greenops macs` and sweeps' `model:`.
A run out of GPU memory exits 3 with a line that says "CUDA out of memory" and the batch.
"""
import argparse
import glob
import json
import os
import pickle
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bindings", "python"))
import greenops  # noqa: E402

CIFAR_PLACES = ["~/.cache/cifar10", "~/data/cifar10", "~/data", "/data/cifar10", "/data", "./data",
                "/datasets/cifar10"]
PRECISIONS = ["fp32", "tf32", "bf16", "fp16"]


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", default="resnet18", help="torchvision model name (comma-separated with --export-onnx)")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--precision", choices=PRECISIONS, default="bf16",
                    help="fp32, tf32 (fp32 with TF32 matmuls), bf16 or fp16 autocast (default bf16)")
    ap.add_argument("--size", type=int, default=32, help="input height and width (CIFAR-10: 32)")
    ap.add_argument("--epochs", type=int, default=1, help="training epochs, each a window")
    ap.add_argument("--steps", type=int, default=0, help="batches per epoch (0: from --seconds)")
    ap.add_argument("--seconds", type=float, default=2.0,
                    help="without --steps: batches per epoch chosen from the warm-up to last this long")
    ap.add_argument("--infer-steps", type=int, default=0, help="inference batches (0: from --infer-seconds)")
    ap.add_argument("--infer-seconds", type=float, default=1.0)
    ap.add_argument("--mode", default="train,infer", help="train, infer or both (default train,infer)")
    ap.add_argument("--warmup", type=int, default=3, help="unmeasured steps of each phase first")
    ap.add_argument("--batch-windows", action="store_true", help="also mark every training batch")
    ap.add_argument("--data", help="folder with the CIFAR-10 files (default: $CIFAR10_DIR, then usual places)")
    ap.add_argument("--synthetic", action="store_true", help="random tensors even when CIFAR-10 is present")
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--cudnn-benchmark", action="store_true", help="let cuDNN time its algorithms first")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="write the run's figures (throughput, steps, memory) here")
    ap.add_argument("--export-onnx", metavar="DIR", help="export --arch to DIR/ARCH_SIZE.onnx and exit")
    a = ap.parse_args(argv)
    for name in ("batch", "size", "epochs", "classes"):
        if getattr(a, name) < 1:
            ap.error(f"--{name} must be at least 1")
    if a.steps < 0 or a.infer_steps < 0 or a.warmup < 0 or a.seconds <= 0 or a.infer_seconds <= 0:
        ap.error("--steps, --infer-steps and --warmup must be >= 0, --seconds and --infer-seconds > 0")
    a.phases = [p for p in a.mode.split(",") if p]
    if not a.phases or any(p not in ("train", "infer") for p in a.phases):
        ap.error(f"--mode '{a.mode}': train, infer or train,infer")
    return a


def find_cifar(arg):
    """The folder holding CIFAR-10's training batches and its format, or (None, None)."""
    places = [arg] if arg else ([os.environ["CIFAR10_DIR"]] if os.environ.get("CIFAR10_DIR") else []) + CIFAR_PLACES
    for p in places:
        p = os.path.expanduser(p)
        for sub in ("", "cifar-10-batches-bin", "cifar-10-batches-py"):
            d = os.path.join(p, sub)
            if glob.glob(os.path.join(d, "data_batch_*.bin")):
                return d, "bin"
            if os.path.isfile(os.path.join(d, "data_batch_1")):
                return d, "py"
    if arg:
        sys.exit(f"cnn.py: --data {arg}: no CIFAR-10 data_batch_N.bin or data_batch_N files there")
    return None, None


def load_cifar(folder, fmt, n, np):
    """Up to n training samples as uint8 (n, 3, 32, 32) and int64 labels."""
    xs, ys, have = [], [], 0
    if fmt == "bin":
        files = sorted(glob.glob(os.path.join(folder, "data_batch_*.bin")))
    else:
        files = sorted(f for f in glob.glob(os.path.join(folder, "data_batch_*")) if not f.endswith(".bin"))
    for f in files:
        if have >= n:
            break
        if fmt == "bin":
            raw = np.fromfile(f, dtype=np.uint8)
            if raw.size % 3073:
                sys.exit(f"cnn.py: {f}: {raw.size} bytes is not a whole number of 3073-byte CIFAR-10 records")
            raw = raw.reshape(-1, 3073)
            ys.append(raw[:, 0].astype(np.int64))
            xs.append(raw[:, 1:].reshape(-1, 3, 32, 32))
        else:
            with open(f, "rb") as fh:
                d = pickle.load(fh, encoding="bytes")
            xs.append(np.asarray(d[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            ys.append(np.asarray(d[b"labels"], dtype=np.int64))
        have += len(ys[-1])
    x, y = np.concatenate(xs)[:n], np.concatenate(ys)[:n]
    if len(y) < n:  # fewer samples than the pool: repeat them
        reps = -(-n // len(y))
        x, y = np.concatenate([x] * reps)[:n], np.concatenate([y] * reps)[:n]
    return x, y


def build(torch, torchvision, arch, classes):
    ctor = getattr(torchvision.models, arch, None)
    if ctor is None or not callable(ctor):
        sys.exit(f"cnn.py: --arch {arch}: not a torchvision model")
    return ctor(weights=None, num_classes=classes)


def onnx_pools(torch, model, x):
    """ONNX's exporter cannot write an adaptive average pool whose output size is not a factor
    of its input (VGG's 7x7 pool after the 1x1 feature map of a 32x32 input). On such a map the
    pool only repeats each value: the same outputs, written as an interpolation the exporter
    knows. Parameters and MACs are unchanged (the pool has neither)."""
    class Repeat(torch.nn.Module):
        def __init__(self, size):
            super().__init__()
            self.size = size

        def forward(self, t):
            return torch.nn.functional.interpolate(t, size=self.size, mode="nearest")

    seen = {}

    def hook(mod, inp, out):
        seen[mod] = inp[0].shape[-2:]
    pools = [m for m in model.modules() if isinstance(m, torch.nn.AdaptiveAvgPool2d)]
    handles = [m.register_forward_hook(hook) for m in pools]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    for name, mod in list(model.named_modules()):
        for child_name, child in list(mod.named_children()):
            if child in seen and tuple(seen[child]) == (1, 1):
                size = child.output_size if isinstance(child.output_size, tuple) else (child.output_size,) * 2
                if size != (1, 1):
                    setattr(mod, child_name, Repeat(size))


def onnx_write(torch, model, x, path, kw):
    try:
        torch.onnx.export(model, (x,), path, dynamo=False, **kw)
    except TypeError:  # a torch without the dynamo switch
        torch.onnx.export(model, (x,), path, **kw)


def export_onnx(a):
    import torch
    import torchvision
    os.makedirs(a.export_onnx, exist_ok=True)
    x = torch.randn(1, 3, a.size, a.size)
    for arch in a.arch.split(","):
        model = build(torch, torchvision, arch, a.classes).eval()
        path = os.path.join(a.export_onnx, f"{arch}_{a.size}.onnx")
        kw = dict(input_names=["input"], output_names=["logits"], opset_version=17, do_constant_folding=True)
        t0 = time.monotonic()
        with torch.no_grad():
            try:
                onnx_write(torch, model, x, path, kw)
            except Exception as e:  # the exporter's own error types differ across versions
                print(f"{arch}: {str(e).splitlines()[0][:120]}; exporting again with its 1x1 pools "
                      "written as repeats", file=sys.stderr, flush=True)
                onnx_pools(torch, model, x)
                onnx_write(torch, model, x, path, kw)
        params = sum(p.numel() for p in model.parameters())
        print(f"{path}: {params:,d} parameters, exported in {time.monotonic() - t0:.1f} s", flush=True)
    return 0


def main(argv=None):
    a = parse_args(argv)
    if a.export_onnx:
        return export_onnx(a)
    # The data folder is looked for first: a wrong --data is said before seconds of imports.
    a.cifar = (None, None) if a.synthetic else find_cifar(a.data)
    import torch
    try:
        return run(a)
    except torch.OutOfMemoryError as e:
        first = str(e).splitlines()[0] if str(e) else "out of memory"
        print(f"cnn.py: CUDA out of memory: {a.arch} at batch {a.batch}, {a.size}x{a.size}, {a.precision}: "
              f"{first}", file=sys.stderr, flush=True)
        greenops.flush()
        return 3


def run(a):
    import numpy as np
    import torch
    import torchvision

    if not torch.cuda.is_available():
        sys.exit("cnn.py: no CUDA device (this workload measures GPU training)")
    dev = torch.device("cuda")
    torch.manual_seed(a.seed)
    torch.backends.cudnn.benchmark = a.cudnn_benchmark
    torch.backends.cuda.matmul.allow_tf32 = a.precision == "tf32"
    torch.backends.cudnn.allow_tf32 = a.precision == "tf32"
    amp = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(a.precision)
    cl = torch.channels_last

    model = build(torch, torchvision, a.arch, a.classes).to(dev).to(memory_format=cl)
    params = sum(p.numel() for p in model.parameters())

    # The pool: a few batches on the GPU, at most about 2 GB of float32 inputs.
    per_sample = 3 * a.size * a.size * 4
    k = max(1, min(8, int(2e9 // (a.batch * per_sample))))
    n = k * a.batch
    folder, fmt = a.cifar
    if folder:
        x8, y = load_cifar(folder, fmt, n, np)
        mean = torch.tensor([0.4914, 0.4822, 0.4465], device=dev).view(1, 3, 1, 1)
        std = torch.tensor([0.2470, 0.2435, 0.2616], device=dev).view(1, 3, 1, 1)
        xs = ((torch.from_numpy(x8).to(dev).float() / 255.0) - mean) / std
        ys = torch.from_numpy(y).to(dev)
        data = "cifar10"
    else:
        xs = torch.randn(n, 3, 32, 32, device=dev)
        ys = torch.randint(0, a.classes, (n,), device=dev)
        data = "synthetic"
    if a.size != 32:
        xs = torch.nn.functional.interpolate(xs, size=(a.size, a.size), mode="bilinear", align_corners=False)
    xs = xs.contiguous(memory_format=cl)
    batches = [(xs[i * a.batch:(i + 1) * a.batch], ys[i * a.batch:(i + 1) * a.batch]) for i in range(k)]
    print(f"cnn.py: {a.arch} ({params:,d} parameters), batch {a.batch}, {a.size}x{a.size}, {a.precision}, "
          f"data {data}" + (f" from {folder}" if folder else " (no CIFAR-10 files found)")
          + f", {torch.cuda.get_device_name(0)}", file=sys.stderr, flush=True)
    for key, val in (("arch", a.arch), ("batch", a.batch), ("precision", a.precision), ("size", a.size),
                     ("data", data), ("torch_params", params)):
        greenops.tag(key, val)

    sync = torch.cuda.synchronize
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    scaler = torch.amp.GradScaler("cuda") if a.precision == "fp16" else None

    def train_step(i):
        xb, yb = batches[i % k]
        with torch.autocast("cuda", dtype=amp, enabled=amp is not None):
            loss = loss_fn(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        if scaler:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()
        return loss

    def infer_step(i):
        with torch.autocast("cuda", dtype=amp, enabled=amp is not None):
            return model(batches[i % k][0])

    def calibrate(step, fixed, seconds):
        """Warm-up steps, then the number of steps that lasts `seconds` (or `fixed`)."""
        for i in range(a.warmup):
            step(i)
        sync()
        if fixed:
            return fixed
        t0 = time.monotonic()
        step(0)
        step(1)
        sync()
        return max(1, round(seconds / max((time.monotonic() - t0) / 2, 1e-6)))

    out = dict(arch=a.arch, batch=a.batch, precision=a.precision, size=a.size, data=data, params=params,
               device=torch.cuda.get_device_name(0), torch=torch.__version__, torchvision=torchvision.__version__)
    run_units = 0
    if "train" in a.phases:
        model.train()
        steps = calibrate(train_step, a.steps, a.seconds)
        per_epoch = steps * a.batch
        t0 = time.monotonic()
        greenops.begin("train", sync)
        for epoch in range(a.epochs):
            te = time.monotonic()
            with greenops.window("epoch", units=per_epoch, sync=sync):
                for i in range(steps):
                    if a.batch_windows:
                        greenops.begin("batch")
                    loss = train_step(i)
                    if a.batch_windows:
                        sync()
                        greenops.units(a.batch, "batch")
                        greenops.end("batch")
            dt = time.monotonic() - te
            print(f"epoch {epoch}: {per_epoch} samples in {dt:.2f} s ({per_epoch / dt:.0f}/s), "
                  f"loss {loss.item():.3f}", file=sys.stderr, flush=True)
        greenops.units(a.epochs * per_epoch, "train")
        greenops.end("train", sync)
        dt = time.monotonic() - t0
        run_units = a.epochs * per_epoch
        out.update(train_steps_per_epoch=steps, train_samples=run_units, train_s=dt,
                   train_samples_per_s=run_units / dt)
    if "infer" in a.phases:
        model.eval()
        with torch.inference_mode():
            steps = calibrate(infer_step, a.infer_steps, a.infer_seconds)
            t0 = time.monotonic()
            with greenops.window("infer", units=steps * a.batch, sync=sync):
                for i in range(steps):
                    infer_step(i)
            dt = time.monotonic() - t0
        print(f"infer: {steps * a.batch} samples in {dt:.2f} s ({steps * a.batch / dt:.0f}/s)",
              file=sys.stderr, flush=True)
        out.update(infer_steps=steps, infer_samples=steps * a.batch, infer_s=dt,
                   infer_samples_per_s=steps * a.batch / dt)
        if not run_units:
            run_units = steps * a.batch
    greenops.units(run_units)
    out["max_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
