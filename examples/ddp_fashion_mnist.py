#!/usr/bin/env python3
"""Data-parallel (DDP) training on Fashion-MNIST with importance sampling across
ranks: `cuis.torch.distributed.DistributedImportanceSampler`, against uniform
draws from each rank's shard (what DistributedSampler gives), from the same
initialisation and for the same number of steps.

    torchrun --nproc_per_node 2 examples/ddp_fashion_mnist.py                  # gloo on CPUs
    torchrun --nproc_per_node 2 examples/ddp_fashion_mnist.py --device cuda    # NCCL, one GPU per rank
    torchrun --nproc_per_node 2 examples/ddp_fashion_mnist.py --mode global --steps 500

Every rank holds the data in memory and the loss table of its own shard only
(DistributedSampler's strided split: rank r holds samples r, r + R, ...). Each
step, every rank draws b samples (stratified mode: from its own shard, weight
R W_r / (N t_i)) or the ranks draw the R b samples of the step from the one
distribution over all N (global mode: each rank trains on the draws that land in
its shard, a number that varies; the rest of its capacity is padding, index -1
and weight 0), and exchanges 80 bytes per rank, plus 16 for the biased weights'
rescaling and 16 for the global mean loss that scores unseen samples.

The loss: each rank sums weight * loss over its draws and divides by b (the
per-rank batch, not its own count), because DDP averages gradients over ranks:
(1/R) sum_r (1/b) sum_j w_j grad_j = (1/(R b)) sum over the global batch, the
one-GPU estimate with batch R b.

Data: the Debian package fashion-mnist's IDX files (/usr/share/datasets/fashion-mnist,
--data-dir), read by examples/fashion_mnist.py's loader; --synthetic for random
class-dependent data where they are missing. Rank 0 prints, per method: steps,
training time, the mean training loss on a fixed subset of the training set and
the test error, and whether the ranks' parameters agree after training.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from fashion_mnist import DEFAULT_DIR, evaluate, load_fashion_mnist, mlp, synthetic, sync  # noqa: E402

import cuis.torch.distributed as cd  # noqa: E402


def train(method, data, args, device, rank, ranks):
    x, y, x_test, y_test, eval_idx = data
    n, b = len(x), args.batch_size
    model = mlp(args.seed).to(device)  # the same initialisation on every rank (DDP also broadcasts rank 0's)
    ddp = DDP(model, device_ids=[device.index] if device.type == "cuda" else None)
    opt = torch.optim.SGD(ddp.parameters(), lr=args.lr, momentum=0.9)
    sampler = None
    if method == "importance":
        sampler = cd.DistributedImportanceSampler(n, b, k=args.k, device=device, seed=args.seed + 1,
                                                  mode=args.mode, warmup=args.warmup, capacity=args.capacity)
    shard = torch.arange(rank, n, ranks, device=device)  # uniform: DistributedSampler's shard
    gen = torch.Generator(device=device).manual_seed(args.seed + 1 + rank)
    landed = 0
    sync(device)
    start = time.perf_counter()
    for _ in range(args.steps):
        if sampler is None:
            idx = shard[torch.randint(0, len(shard), (b,), device=device, generator=gen)]
            w = torch.ones(b, device=device)
        else:
            idx, w = sampler.sample()  # a collective; no host sync on GPUs
        safe = idx.clamp(min=0)  # global mode pads with -1, weight 0
        losses = F.cross_entropy(ddp(x[safe]), y[safe], reduction="none")
        loss = (w * losses).sum() / b  # / b, not / count: DDP averages the ranks' gradients
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if sampler is not None:
            sampler.update(idx, losses)
            landed += sampler.last_count  # a device tensor: summed without a sync
    sync(device)
    elapsed = time.perf_counter() - start
    if sampler is not None:
        sampler.check()  # raises the step's score error on every rank alike, if any
    landed = torch.as_tensor(landed, device=device).reshape(1).double()
    every = torch.empty(ranks, dtype=torch.float64, device=device)
    dist.all_gather_into_tensor(every, landed)
    # the ranks' parameters, identical after DDP's all-reduced steps
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()]).double()
    sums = torch.empty(ranks, dtype=torch.float64, device=device)
    dist.all_gather_into_tensor(sums, flat.sum().reshape(1))
    model.eval()
    train_loss, _ = evaluate(model, x[eval_idx], y[eval_idx])
    _, test_err = evaluate(model, x_test, y_test)
    return {"method": method, "steps": args.steps, "time": elapsed, "train_loss": train_loss, "test_err": test_err,
            "agree": bool(torch.all(sums == sums[0])), "landed": every.tolist()}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data-dir", type=pathlib.Path, default=DEFAULT_DIR, help="the four IDX .gz files")
    p.add_argument("--synthetic", action="store_true", help="synthetic data when the data set is missing")
    p.add_argument("--train-size", type=int, default=0, help="use the first N training samples (0: all)")
    p.add_argument("--device", default="auto", help="auto (cuda if available, else cpu), cpu or cuda "
                   "(cuda:LOCAL_RANK, NCCL)")
    p.add_argument("--steps", type=int, default=1500, help="training steps of each method")
    p.add_argument("--batch-size", type=int, default=64, help="b, the batch of each rank (global batch R b)")
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--k", type=float, default=0.5, help="importance weight exponent")
    p.add_argument("--mode", choices=("stratified", "global"), default="stratified")
    p.add_argument("--capacity", type=int, default=None, help="global mode: rows per rank and step (default R b)")
    p.add_argument("--warmup", type=int, default=100, help="uniform steps before importance sampling")
    p.add_argument("--eval-size", type=int, default=10000, help="the fixed training subset the loss is measured on")
    p.add_argument("--method", choices=("both", "uniform", "importance"), default="both")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads per rank (0: torch's default)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if "RANK" not in os.environ:
        print("ddp_fashion_mnist.py: start it with torchrun, e.g. torchrun --nproc_per_node 2 "
              "examples/ddp_fashion_mnist.py", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    local = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() if args.device == "auto" else args.device.startswith("cuda")
    device = torch.device("cuda", local) if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if use_cuda else "gloo")
    rank, ranks = dist.get_rank(), dist.get_world_size()
    try:
        tensors, missing = load_fashion_mnist(args.data_dir)
        source = str(args.data_dir)
        if tensors is None:
            if not args.synthetic:
                if rank == 0:
                    print(f"ddp_fashion_mnist.py: Fashion-MNIST not found in {args.data_dir} (missing "
                          f"{', '.join(missing)}); --synthetic for synthetic data.", file=sys.stderr)
                return 2
            n_train = args.train_size or 60000
            tensors, source = synthetic(n_train=n_train, n_test=min(10000, n_train), seed=args.seed), "synthetic data"
        x, y, x_test, y_test = tensors
        if args.train_size:
            x, y = x[:args.train_size], y[:args.train_size]
        x, y, x_test, y_test = (t.to(device) for t in (x, y, x_test, y_test))
        mean, std = x.mean(), x.std()
        x, x_test = (x - mean) / std, (x_test - mean) / std
        g = torch.Generator().manual_seed(12345)
        eval_idx = torch.randperm(len(x), generator=g)[:min(args.eval_size, len(x))].to(device)
        if rank == 0:
            print(f"data: {source} ({len(x)} train, {len(x_test)} test); {ranks} ranks on {device.type} "
                  f"({'nccl' if use_cuda else 'gloo'}); batch {args.batch_size} per rank ({ranks * args.batch_size} "
                  f"global); {args.steps} steps each; k = {args.k}, mode {args.mode}, warm-up {args.warmup} steps")
        methods = ("uniform", "importance") if args.method == "both" else (args.method,)
        data = (x, y, x_test, y_test, eval_idx)
        results = [train(m, data, args, device, rank, ranks) for m in methods]
        if rank == 0:
            print(f"{'method':<12}{'steps':>8}{'time (s)':>10}{'train loss':>12}{'test error':>12}  ranks agree")
            for r in results:
                print(f"{r['method']:<12}{r['steps']:>8}{r['time']:>10.2f}{r['train_loss']:>12.4f}"
                      f"{r['test_err']:>12.2%}  {'yes' if r['agree'] else 'NO'}")
            for r in results:
                if r["method"] == "importance":
                    per_rank = ", ".join(f"{v:.0f}" for v in r["landed"])
                    total = ranks * args.batch_size * args.steps
                    print(f"draws trained on per rank (importance): {per_rank} (of {total})")
        return 0 if all(r["agree"] for r in results) else 1
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
