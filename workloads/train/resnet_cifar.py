"""Trains a torchvision ResNet on synthetic CIFAR-shaped data (3x32x32, 10 classes) and marks
every epoch and every batch as a greenops window, with samples as units.

    greenops run -- python3 workloads/train/resnet_cifar.py --epochs 3 --batch 256

The data are random tensors generated on the GPU (no download): the energy figures are those
of the computation, not of a data pipeline. Windows are closed after torch.cuda.synchronize(),
so they cover when the kernels ran, not when they were queued.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bindings", "python"))
import greenops  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--model", default="resnet18")
ap.add_argument("--epochs", type=int, default=3)
ap.add_argument("--batch", type=int, default=256)
ap.add_argument("--samples", type=int, default=50000, help="samples per epoch")
ap.add_argument("--batch-windows", action="store_true", help="also mark every batch")
a = ap.parse_args()

dev = torch.device("cuda")
torch.manual_seed(0)
model = getattr(torchvision.models, a.model)(weights=None, num_classes=10).to(dev).to(memory_format=torch.channels_last)
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
loss_fn = torch.nn.CrossEntropyLoss()
n_batches = a.samples // a.batch
data = [torch.randn(a.batch, 3, 32, 32, device=dev).contiguous(memory_format=torch.channels_last) for _ in range(min(n_batches, 16))]
labels = [torch.randint(0, 10, (a.batch,), device=dev) for _ in range(len(data))]
greenops.tag("model", a.model)
greenops.tag("batch", a.batch)
sync = torch.cuda.synchronize
torch.cuda.synchronize()
for epoch in range(a.epochs):
    t0 = time.monotonic()
    with greenops.window("epoch", units=n_batches * a.batch, sync=sync):
        for i in range(n_batches):
            xb, yb = data[i % len(data)], labels[i % len(labels)]
            if a.batch_windows:
                greenops.begin("batch")
            with torch.autocast("cuda", dtype=torch.bfloat16):
                loss = loss_fn(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if a.batch_windows:
                sync()
                greenops.units(a.batch, "batch")
                greenops.end("batch")
    dt = time.monotonic() - t0
    print(f"epoch {epoch}: {n_batches * a.batch} samples in {dt:.2f} s ({n_batches * a.batch / dt:.0f}/s), "
          f"loss {loss.item():.3f}", file=sys.stderr)
greenops.units(a.epochs * n_batches * a.batch)
