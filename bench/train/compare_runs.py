#!/usr/bin/env python3
"""Compares cuis-train runs (CSV logs): for each sampler, the final training
loss and test error, and the training time each needs to reach uniform
sampling's final training loss (linear interpolation between evaluations);
optionally a PNG plot of training loss and test error against training time
(or against steps with --x step). Several logs of one sampler (seeds) are
averaged point by point in the table and drawn individually in the plot."""
import argparse
import csv
import os
import re
import sys
from collections import defaultdict


def read(path):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise SystemExit(f"{path}: empty log")
    return rows


def first_reach(rows, target, x):
    prev = None
    for r in rows:
        loss, t = float(r["train_loss"]), float(r[x])
        if loss <= target:
            if prev is None or prev[1] == loss:
                return t
            t0, l0 = prev
            return t0 + (t - t0) * (l0 - target) / (l0 - loss)
        prev = (t, loss)
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("logs", nargs="+")
    ap.add_argument("--x", choices=["wall_s", "step"], default="wall_s")
    ap.add_argument("--plot")
    ap.add_argument("--title", default="")
    ap.add_argument("--by-file", action="store_true",
                    help="group runs by file name less a trailing -SEED (e.g. loss-k0.5-1.csv) instead of by sampler")
    args = ap.parse_args()
    runs = defaultdict(list)
    for path in args.logs:
        rows = read(path)
        key = rows[-1]["sampler"]
        if args.by_file:
            key = re.sub(r"-\d+$", "", os.path.basename(path)[:-4] if path.endswith(".csv") else os.path.basename(path))
        runs[key].append(rows)
    if "uniform" not in runs:
        raise SystemExit("compare_runs: a uniform run is needed as the reference")
    mean = lambda v: sum(v) / len(v)
    # The loss every uniform run has reached by its end (the worst seed's final loss).
    target = max(float(r[-1]["train_loss"]) for r in runs["uniform"])
    unit = "s" if args.x == "wall_s" else " steps"
    print(f"| sampler | runs | final train loss | final test error | {args.x} to reach uniform's final train loss "
          f"({target:.4f}) | speed-up |")
    print("|---|---|---|---|---|---|")
    base = None
    for sampler in ["uniform"] + sorted(k for k in runs if k != "uniform"):
        rs = runs[sampler]
        reach = [first_reach(r, target, args.x) for r in rs]
        ok = [t for t in reach if t is not None]
        t = mean(ok) if len(ok) == len(reach) else None
        if sampler == "uniform":
            base = t
        speed = f"{base / t:.2f}x" if t and base else "-"
        print(f"| {sampler} | {len(rs)} | {mean([float(r[-1]['train_loss']) for r in rs]):.4f} | "
              f"{100 * mean([float(r[-1]['test_error']) for r in rs]):.2f}% | "
              f"{f'{t:.1f}{unit}' if t is not None else 'not reached'} | {speed} |")
    if args.plot:
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("compare_runs: matplotlib is not installed; no plot", file=sys.stderr)
            return 0
        fig, ax = plt.subplots(1, 2, figsize=(11, 4))
        colors = {k: ("tab:gray" if k == "uniform" else f"C{i}") for i, k in enumerate(sorted(runs))}
        for sampler, rs in runs.items():
            for i, r in enumerate(rs):
                x = [float(v[args.x]) for v in r]
                kw = dict(color=colors.get(sampler), alpha=0.8, label=sampler if i == 0 else None)
                ax[0].plot(x, [float(v["train_loss"]) for v in r], **kw)
                ax[1].plot(x, [100 * float(v["test_error"]) for v in r], **kw)
        label = "training time (s)" if args.x == "wall_s" else "steps"
        ax[0].set(xlabel=label, ylabel="training loss (whole training set)", yscale="log")
        ax[1].set(xlabel=label, ylabel="test error (%)")
        for a in ax:
            a.grid(alpha=0.3)
            a.legend()
        fig.suptitle(args.title)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=110)
        print(f"plot: {args.plot}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
