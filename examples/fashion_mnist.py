#!/usr/bin/env python3
"""Uniform vs. importance sampling on Fashion-MNIST: one MLP trained twice from
the same initialisation, once on uniformly drawn batches and once on batches
drawn by `cuis.torch.ImportanceSampler` (in proportion to each sample's last
loss, weights (1 / (N p_i))^k with k = 0.5, after a short uniform warm-up), for
the same number of steps (or the same training time with --seconds).

Data: the Debian package fashion-mnist's IDX files (gzipped), read with gzip and
NumPy, no torchvision: /usr/share/datasets/fashion-mnist/*.gz (--data-dir).
--synthetic uses random class-dependent data instead (for a machine without them).

    python examples/fashion_mnist.py                    # 3000 steps each, --device auto
    python examples/fashion_mnist.py --seconds 20       # 20 s of training each
    python examples/fashion_mnist.py --steps 50 --eval-size 2000   # a quick check

Prints, per method: steps, training time, the mean training loss on a fixed
subset of the training set, and the test error.
"""

from __future__ import annotations

import argparse
import gzip
import pathlib
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

import cuis.torch as ct

DEFAULT_DIR = pathlib.Path("/usr/share/datasets/fashion-mnist")
FILES = {
    "train_x": "train-images-idx3-ubyte.gz",
    "train_y": "train-labels-idx1-ubyte.gz",
    "test_x": "t10k-images-idx3-ubyte.gz",
    "test_y": "t10k-labels-idx1-ubyte.gz",
}


def read_idx(path: pathlib.Path) -> np.ndarray:
    """An IDX file (gzipped): magic 0x0000 08 NDIM (uint8 data), NDIM big-endian uint32 sizes, the data."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if raw[:2] != b"\0\0" or raw[2] != 0x08:
        raise ValueError(f"{path}: not a uint8 IDX file (magic {raw[:4].hex()})")
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">u4", count=ndim, offset=4).astype(np.int64)
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: {data.size} bytes of data for shape {tuple(dims)}")
    return data.reshape(tuple(dims))


def load_fashion_mnist(data_dir: pathlib.Path):
    missing = [name for name in FILES.values() if not (data_dir / name).is_file()]
    if missing:
        return None, missing
    arrays = {key: read_idx(data_dir / name) for key, name in FILES.items()}

    def images(a):
        return torch.from_numpy(a.reshape(len(a), -1).astype(np.float32) / 255.0)

    return (images(arrays["train_x"]), torch.from_numpy(arrays["train_y"].astype(np.int64)),
            images(arrays["test_x"]), torch.from_numpy(arrays["test_y"].astype(np.int64))), []


def synthetic(n_train=60000, n_test=10000, seed=0):
    """Ten Gaussian classes in 784 dimensions, some easy and some hard (overlapping)."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(10, 784, generator=g) * torch.linspace(0.02, 0.12, 10).reshape(10, 1)

    def draw(n):
        y = torch.randint(0, 10, (n,), generator=g)
        return centres[y] + torch.randn(n, 784, generator=g) * 0.5, y

    return (*draw(n_train), *draw(n_test))


def mlp(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128),
                               torch.nn.ReLU(), torch.nn.Linear(128, 10))


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.no_grad()
def evaluate(model, x, y, chunk=8192):
    loss, wrong = 0.0, 0
    for i in range(0, len(x), chunk):
        logits = model(x[i:i + chunk])
        loss += F.cross_entropy(logits, y[i:i + chunk], reduction="sum").item()
        wrong += (logits.argmax(1) != y[i:i + chunk]).sum().item()
    return loss / len(x), wrong / len(x)


def train(method, data, args, device):
    x, y, x_test, y_test, eval_idx = data
    n = len(x)
    model = mlp(args.seed).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    gen = torch.Generator(device=device).manual_seed(args.seed + 1)
    sampler = None
    if method == "importance":
        sampler = ct.ImportanceSampler(n, args.batch_size, k=args.k, device=device, seed=args.seed + 1,
                                       warmup=args.warmup)
    steps = 0
    sync(device)
    start = time.perf_counter()
    while True:
        if args.seconds is not None:
            if steps % 10 == 0:
                sync(device)
                if time.perf_counter() - start >= args.seconds:
                    break
        elif steps >= args.steps:
            break
        if sampler is None:
            idx = torch.randint(0, n, (args.batch_size,), device=device, generator=gen)
            w = None
        else:
            idx, w = sampler.sample()  # on the device, no host sync
        losses = F.cross_entropy(model(x[idx]), y[idx], reduction="none")
        loss = losses.mean() if w is None else (w * losses).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if sampler is not None:
            sampler.update(idx, losses)  # the last loss of each sample drawn
        steps += 1
    sync(device)
    elapsed = time.perf_counter() - start
    model.eval()
    train_loss, _ = evaluate(model, x[eval_idx], y[eval_idx])
    _, test_err = evaluate(model, x_test, y_test)
    return {"method": method, "steps": steps, "time": elapsed, "train_loss": train_loss, "test_err": test_err}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data-dir", type=pathlib.Path, default=DEFAULT_DIR, help="the four IDX .gz files")
    p.add_argument("--synthetic", action="store_true", help="synthetic data when the data set is missing")
    p.add_argument("--device", default="auto", help="auto (cuda if available, else cpu), cpu, cuda, cuda:1...")
    p.add_argument("--steps", type=int, default=3000, help="training steps of each method")
    p.add_argument("--seconds", type=float, default=None, help="train each method this long instead of --steps")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--k", type=float, default=0.5, help="importance weight exponent")
    p.add_argument("--warmup", type=int, default=200, help="uniform steps before importance sampling")
    p.add_argument("--eval-size", type=int, default=10000, help="the fixed training subset the loss is measured on")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device)
    tensors, missing = load_fashion_mnist(args.data_dir)
    source = str(args.data_dir)
    if tensors is None:
        if not args.synthetic:
            print(f"fashion_mnist.py: Fashion-MNIST not found in {args.data_dir} (missing {', '.join(missing)}).\n"
                  "  Debian/Ubuntu: apt-get install fashion-mnist; or --data-dir DIR with the four IDX .gz files;\n"
                  "  or --synthetic for synthetic data.", file=sys.stderr)
            return 2
        tensors, source = synthetic(seed=args.seed), "synthetic data"
    x, y, x_test, y_test = (t.to(device) for t in tensors)
    mean, std = x.mean(), x.std()
    x, x_test = (x - mean) / std, (x_test - mean) / std
    g = torch.Generator().manual_seed(12345)
    eval_idx = torch.randperm(len(x), generator=g)[:min(args.eval_size, len(x))].to(device)
    budget = f"{args.seconds:g} s" if args.seconds is not None else f"{args.steps} steps"
    print(f"data: {source} ({len(x)} train, {len(x_test)} test); device {device}; batch {args.batch_size}; "
          f"{budget} each; k = {args.k}, warm-up {args.warmup} steps")
    data = (x, y, x_test, y_test, eval_idx)
    results = [train(m, data, args, device) for m in ("uniform", "importance")]
    print(f"{'method':<12}{'steps':>8}{'time (s)':>10}{'train loss':>12}{'test error':>12}")
    for r in results:
        print(f"{r['method']:<12}{r['steps']:>8}{r['time']:>10.2f}{r['train_loss']:>12.4f}{r['test_err']:>12.2%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
