#!/usr/bin/env python3
"""Exports torchvision classifiers to ONNX at 1x3x224x224 and compares what `greenops macs`
counts with torchvision's published figures and with two independent counts made here:
PyTorch's own FLOP counter (MACs = FLOPs / 2) and the floating-point initializers that the
onnx package sees. Needs torch, torchvision and onnx; no network (weights=None: counts do not
depend on weights). Run through workloads/onnx/export_and_count.sh."""
import argparse
import json
import os
import subprocess
import sys
import time

# torchvision's model pages (IMAGENET1K_V1 weights): "GFLOPS" there counts one multiply-add
# as one operation, so it is GMACs; num_params counts trainable parameters.
PUBLISHED = {
    "resnet18": (1.81e9, 11689512),
    "resnet50": (4.09e9, 25557032),
    "mobilenet_v2": (0.30e9, 3504872),
    "vgg16": (15.47e9, 138357544),
    "vit_b_16": (17.56e9, 86567656),
}


def torch_counts(torch, model, x):
    """Trainable parameters, batch-norm scale elements, and MACs by torch's FLOP counter."""
    params = sum(p.numel() for p in model.parameters())
    bn = sum(m.weight.numel() for m in model.modules()
             if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.weight is not None)
    macs = None
    try:
        from torch.utils.flop_counter import FlopCounterMode
        with torch.no_grad():
            counter = FlopCounterMode(display=False)
            with counter:
                model(x)
        macs = counter.get_total_flops() / 2
    except Exception as e:  # older torch: no FlopCounterMode
        print(f"  flop counter unavailable: {e}", file=sys.stderr)
    return params, bn, macs


def export(torch, model, x, path, dynamic_batch=False):
    kwargs = dict(input_names=["input"], output_names=["logits"], opset_version=17,
                  do_constant_folding=True)
    if dynamic_batch:
        kwargs["dynamic_axes"] = {"input": {0: "batch"}, "logits": {0: "batch"}}
    with torch.no_grad():
        try:
            torch.onnx.export(model, (x,), path, dynamo=False, **kwargs)
        except TypeError:  # torch without the dynamo switch: the TorchScript exporter anyway
            torch.onnx.export(model, (x,), path, **kwargs)


def onnx_counts(path):
    """Elements of floating-point initializers and Constant tensors, read by the onnx package."""
    import onnx
    m = onnx.load(path, load_external_data=False)
    floats = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE,
              onnx.TensorProto.BFLOAT16}

    def numel(t):
        n = 1
        for d in t.dims:
            n *= d
        return n

    init = sum(numel(t) for t in m.graph.initializer if t.data_type in floats)
    const = 0
    for node in m.graph.node:
        if node.op_type == "Constant":
            for a in node.attribute:
                if a.name == "value" and a.t.data_type in floats:
                    const += numel(a.t)
    opset = max((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), default=0)
    bn_nodes = sum(1 for node in m.graph.node if node.op_type == "BatchNormalization")
    return init, const, opset, bn_nodes


def greenops(binary, path, extra=()):
    """Runs greenops macs --json -; returns (json, wall seconds, stderr)."""
    t0 = time.monotonic()
    p = subprocess.Popen([binary, "macs", path, "--json", "-", *extra], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    out, err = p.communicate()
    wall = time.monotonic() - t0
    if p.returncode != 0:
        raise RuntimeError(f"greenops macs {path} exited {p.returncode}: {err.decode().strip()}")
    return json.loads(out), wall, err.decode().strip()


def pct(a, b):
    return 100.0 * (a - b) / b if a is not None and b else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--greenops", default="bench/carry/greenops")
    ap.add_argument("--out", default="/tmp/greenops-onnx", help="where the .onnx files go")
    ap.add_argument("--json", help="write every figure here as JSON")
    ap.add_argument("--models", default=",".join(PUBLISHED))
    args = ap.parse_args()

    import torch
    import torchvision
    fastpath = getattr(getattr(torch.backends, "mha", None), "set_fastpath_enabled", None)
    if fastpath:
        fastpath(False)  # the fused attention kernel has no ONNX export: take the composite path
    os.makedirs(args.out, exist_ok=True)
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}")
    x = torch.randn(1, 3, 224, 224)
    rows = []
    failed = []
    for name in args.models.split(","):
        pub_macs, pub_params = PUBLISHED[name]
        try:
            model = getattr(torchvision.models, name)(weights=None).eval()
            t_params, bn, fc_macs = torch_counts(torch, model, x)
            path = os.path.join(args.out, f"{name}.onnx")
            export(torch, model, x, path)
            init, const, opset, bn_nodes = onnx_counts(path)
            g, wall, err = greenops(args.greenops, path)
        except Exception as e:
            print(f"  {name}: FAILED: {e}", flush=True)
            failed.append(name)
            continue
        rows.append(dict(model=name, opset=opset, file_mb=os.path.getsize(path) / 1e6,
                         greenops_macs=g["macs"], greenops_params=g["params"],
                         greenops_constant_params=g["constant_params"],
                         macs_per_param=g["macs_per_param"], other_flops=g["other_flops"],
                         complete=g["complete"], warnings=g["warnings"], read_s=wall,
                         published_macs=pub_macs, published_params=pub_params,
                         flop_counter_macs=fc_macs, torch_params=t_params, bn_channels=bn,
                         onnx_init_params=init, onnx_const_params=const, onnx_bn_nodes=bn_nodes))
        print(f"  {name}: exported ({rows[-1]['file_mb']:.1f} MB), counted in {wall:.3f} s"
              + (f"; warnings: {err}" if err else ""), flush=True)

    # The symbolic-batch path: the same ResNet-18 exported with a dynamic batch, counted at 8.
    g8 = g1 = None
    try:
        dyn = os.path.join(args.out, "resnet18_dynamic.onnx")
        model = torchvision.models.resnet18(weights=None).eval()
        export(torch, model, x, dyn, dynamic_batch=True)
        g8, _, _ = greenops(args.greenops, dyn, ["--batch", "8"])
        g1, _, warn1 = greenops(args.greenops, dyn)
    except Exception as e:
        print(f"  resnet18 with a dynamic batch: FAILED: {e}", flush=True)
        failed.append("resnet18_dynamic")
    base = next((r for r in rows if r["model"] == "resnet18"), None)

    print()
    print(f"{'model':<13} {'GMACs':>8} {'published':>9} {'diff':>7} {'torch fc':>9} {'diff':>7}"
          f" {'params':>12} {'published':>12} {'diff':>7} {'onnx init':>12} {'BN C':>6}"
          f" {'MACs/p':>7} {'complete':>8} {'read s':>7}")
    for r in rows:
        print(f"{r['model']:<13} {r['greenops_macs'] / 1e9:8.3f} {r['published_macs'] / 1e9:9.2f}"
              f" {pct(r['greenops_macs'], r['published_macs']):+6.2f}%"
              f" {(r['flop_counter_macs'] or 0) / 1e9:9.3f}"
              f" {pct(r['greenops_macs'], r['flop_counter_macs']):+6.2f}%"
              f" {r['greenops_params']:12,d} {r['published_params']:12,d}"
              f" {pct(r['greenops_params'], r['published_params']):+6.2f}%"
              f" {r['onnx_init_params'] + r['onnx_const_params']:12,d} {r['bn_channels']:6d}"
              f" {r['macs_per_param'] or float('nan'):7.1f} {str(r['complete']):>8} {r['read_s']:7.3f}")
    print()
    print("GMACs: greenops macs; published: torchvision's GFLOPS (multiply-adds); torch fc: torch's")
    print("FlopCounterMode / 2. params: greenops (floating-point initializers + Constant tensors);")
    print("onnx init: the same, counted by the onnx package; BN C: batch-norm channels in PyTorch.")
    print("Export in eval mode folds each BatchNorm into its Conv: BN's scale and shift (2 C)")
    print("become a conv bias (C) and its running mean and variance disappear, so ONNX holds C")
    print("fewer parameters per BN layer than PyTorch counts. Where BatchNormalization nodes are")
    print("left, their running statistics are initializers too: 2 C more than PyTorch counts.")
    for r in rows:
        if r["bn_channels"]:
            folded = r["onnx_bn_nodes"] == 0
            exp = r["published_params"] + (-1 if folded else 2) * r["bn_channels"]
            print(f"  {r['model']}: {'folded' if folded else str(r['onnx_bn_nodes']) + ' BN nodes left'}:"
                  f" expected {exp:,d}; greenops {r['greenops_params']:,d}"
                  f" ({r['greenops_params'] - exp:+,d}; Constant tensors {r['greenops_constant_params']:,d})")
    if base and g8 and g1:
        print(f"dynamic batch: resnet18 --batch 8 gives {g8['macs']:,d} MACs = "
              f"{g8['macs'] / base['greenops_macs']:.3f} x batch 1; without --batch: {g1['macs']:,d}"
              f" ({'warned' if 'symbolic' in warn1 else 'no warning'})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"torch": torch.__version__, "torchvision": torchvision.__version__,
                       "models": rows, "failed": failed,
                       "dynamic_batch8_macs": g8 and g8["macs"],
                       "dynamic_batch1_macs": g1 and g1["macs"]}, f, indent=2)
    bad = failed + [r["model"] for r in rows
                    if not r["complete"] or abs(pct(r["greenops_macs"], r["published_macs"])) > 1.0]
    if bad:
        print(f"failed, incomplete or outside 1% of the published MACs: {', '.join(bad)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
