#!/usr/bin/env python3
"""Compares cuis-train runs (CSV logs): for each sampler, the final training
loss and test error, and the training time (or steps, with --x step) each needs
to reach uniform sampling's final training loss (linear interpolation between
evaluations; the target is the worst uniform seed's final loss). Several logs
of one sampler (seeds) are averaged in the table.

With --plot, a PNG of training loss and test error against training time (or
steps): for each sampler the mean over its seeds, interpolated onto a common
grid, with a band from the minimum to the maximum seed; a horizontal line at
uniform's final training loss and, on each curve, a marker where the sampler
first reaches it (the table's figure: the mean over seeds of each run's first
crossing). Needs matplotlib (and numpy); the table does not."""
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


def summarize(runs, x):
    """Per sampler: runs, mean final loss and error, mean time to reach the target, speed-up."""
    mean = lambda v: sum(v) / len(v)  # noqa: E731
    # The loss every uniform run has reached by its end (the worst seed's final loss).
    target = max(float(r[-1]["train_loss"]) for r in runs["uniform"])
    out, base = {}, None
    for sampler in ["uniform"] + sorted(k for k in runs if k != "uniform"):
        rs = runs[sampler]
        reach = [first_reach(r, target, x) for r in rs]
        ok = [t for t in reach if t is not None]
        t = mean(ok) if len(ok) == len(reach) else None
        if sampler == "uniform":
            base = t
        out[sampler] = dict(runs=len(rs), loss=mean([float(r[-1]["train_loss"]) for r in rs]),
                            error=mean([float(r[-1]["test_error"]) for r in rs]), reach=t,
                            speedup=base / t if t and base else None)
    return target, out


def plot(runs, target, summary, x, path, title):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
        import numpy as np
    except ImportError:
        print("compare_runs: matplotlib is not installed; no plot", file=sys.stderr)
        return
    order = ["uniform"] + sorted(k for k in runs if k != "uniform")
    palette = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink",
               "tab:olive", "tab:cyan"]
    colors = {k: ("black" if k == "uniform" else palette[(i - 1) % len(palette)]) for i, k in enumerate(order)}
    unit = "s" if x == "wall_s" else " steps"
    xlabel = "training time (s, evaluations not counted)" if x == "wall_s" else "steps (mini-batches of training)"

    # Each sampler's seeds interpolated onto one grid, up to the shortest run's end
    # (time-budgeted runs stop a little apart; equal-steps runs share their evaluation steps).
    curves = {}
    for s in order:
        xs = [np.array([float(v[x]) for v in r]) for r in runs[s]]
        grid = np.linspace(0.0, min(v[-1] for v in xs), 400)
        on = lambda col: np.array([np.interp(grid, xv, [float(v[col]) for v in r])  # noqa: E731
                                   for xv, r in zip(xs, runs[s])])
        curves[s] = dict(grid=grid, loss=on("train_loss"), error=100.0 * on("test_error"),
                         evals=int(np.median([len(v) for v in xs])))

    rows = (len(order) + 2 + 2) // 3  # legend rows: a sampler each, the target line and the marker, 3 a row
    fig, (ax_loss, ax_err) = plt.subplots(1, 2, figsize=(13, 5.0 + 0.25 * rows))
    for s in order:
        c, col = curves[s], colors[s]
        seeds = summary[s]["runs"]
        speed = summary[s]["speedup"]
        label = f"{s} ({seeds} seed{'s' if seeds > 1 else ''})"
        if s != "uniform":
            label += f": {speed:.2f}x sooner" if speed else ": does not reach it"
        lw = 2.4 if s == "uniform" else 1.8
        for ax, key in ((ax_loss, "loss"), (ax_err, "error")):
            v = c[key]
            ax.plot(c["grid"], v.mean(axis=0), color=col, lw=lw, label=label, zorder=3)
            if len(v) > 1:
                ax.fill_between(c["grid"], v.min(axis=0), v.max(axis=0), color=col, alpha=0.15, lw=0, zorder=2)
        if summary[s]["reach"] is not None:
            ax_loss.plot([summary[s]["reach"]], [target], marker="o", ms=8, mfc=col, mec="white", mew=1.5,
                         zorder=5, ls="none")
    ax_loss.axhline(target, color="black", ls="--", lw=1, zorder=4,
                    label=f"uniform's final training loss ({target:.4f}, worst seed)")
    ax_loss.plot([], [], marker="o", ms=8, mfc="gray", mec="white", ls="none",
                 label=f"first reached (mean over seeds); Nx sooner: uniform's {'time' if x == 'wall_s' else 'steps'}"
                       " / the sampler's")

    # The y range starts from the highest mean curve a tenth into the run: the
    # first steps, where every curve falls from about ln(10), would flatten the
    # part worth comparing.
    def top(key, frac):
        vals = []
        for c in curves.values():
            i = np.searchsorted(c["grid"], frac * c["grid"][-1])
            vals.append(c[key].mean(axis=0)[i:].max())
        return max(vals)
    lo_loss = min(c["loss"].min() for c in curves.values())
    ax_loss.set_yscale("log")
    ax_loss.set_ylim(lo_loss * 0.95, top("loss", 0.1) * 1.05)
    fine = top("loss", 0.1) / lo_loss < 3  # a narrow range: more labelled ticks
    subs = (1, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.8, 2, 2.25, 2.5, 2.75, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9) if fine else \
        (1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8)
    ax_loss.yaxis.set_major_locator(LogLocator(base=10, subs=subs))
    ax_loss.yaxis.set_minor_formatter(NullFormatter())
    ax_loss.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    lo_err = min(c["error"].min() for c in curves.values())
    ax_err.set_ylim(max(0.0, lo_err - 0.5), top("error", 0.1) + 0.5)

    ax_loss.set(xlabel=xlabel, ylabel="training loss (cross-entropy, nats; log scale)",
                title="training loss over the whole training set")
    ax_err.set(xlabel=xlabel, ylabel="test error (%)", title="test error")
    for ax in (ax_loss, ax_err):
        ax.grid(alpha=0.3, which="both")
        ax.set_xlim(0, max(c["grid"][-1] for c in curves.values()))
    # One legend under both panels, read row by row (matplotlib fills it column by column).
    handles, labels = ax_loss.get_legend_handles_labels()
    blank = matplotlib.lines.Line2D([], [], ls="none")
    handles += [blank] * (rows * 3 - len(handles))
    labels += [""] * (rows * 3 - len(labels))
    by_col = [r * 3 + c for c in range(3) for r in range(rows)]
    fig.legend([handles[i] for i in by_col], [labels[i] for i in by_col], loc="lower center", ncol=3, fontsize=9,
               frameon=False)
    evals = sorted({c["evals"] for c in curves.values()})
    several = any(len(v) > 1 for v in runs.values())
    fig.suptitle((title + "\n" if title else "") +
                 ("lines: mean over seeds; bands: min to max over seeds; " if several else "one run per sampler; ") +
                 f"{evals[0] if len(evals) == 1 else f'{evals[0]}-{evals[-1]}'} evaluations per run", fontsize=11)
    fig.tight_layout(rect=(0, 0.055 * rows * 5.0 / (5.0 + 0.25 * rows), 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"plot: {path}", file=sys.stderr)


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
    target, summary = summarize(runs, args.x)
    unit = "s" if args.x == "wall_s" else " steps"
    print(f"| sampler | runs | final train loss | final test error | {args.x} to reach uniform's final train loss "
          f"({target:.4f}) | speed-up |")
    print("|---|---|---|---|---|---|")
    for sampler, s in summary.items():
        t = s["reach"]
        reach = f"{t:.1f}{unit}" if t is not None else "not reached"
        speed = f"{s['speedup']:.2f}x" if s["speedup"] else "-"
        print(f"| {sampler} | {s['runs']} | {s['loss']:.4f} | {100 * s['error']:.2f}% | {reach} | {speed} |")
    if args.plot:
        plot(runs, target, summary, args.x, args.plot, args.title)
    return 0


if __name__ == "__main__":
    sys.exit(main())
