#!/usr/bin/env python3
"""The predictor study's table and plot, from bench/train/predictor_study.sh's
output folder: per variant, the mean over seeds of the final training loss,
its change against uniform and the share of the loss sampler's gain it
keeps, the test error, the steps to reach uniform's final training loss, the
step cost against uniform (timed alone), and the rank correlation of the
scores with the true losses (Spearman, over the whole training set) at a few
evaluations. Writes OUT/table.md and, with matplotlib, OUT/plot.png."""
import csv
import glob
import os
import re
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_runs import first_reach  # noqa: E402


def rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def mean(v):
    return sum(v) / len(v) if v else float("nan")


def main():
    out = sys.argv[1]
    runs = defaultdict(list)
    for path in sorted(glob.glob(os.path.join(out, "*-[0-9]*.csv"))):
        m = re.match(r"(.+)-(\d+)\.csv$", os.path.basename(path))
        if m and not m.group(1).startswith("time-"):
            runs[m.group(1)].append(rows(path))
    if "uniform" not in runs:
        raise SystemExit(f"{out}: no uniform runs")
    cost = {}
    for path in glob.glob(os.path.join(out, "time-*.csv")):
        r = rows(path)[-1]
        cost[os.path.basename(path)[5:-4]] = float(r["wall_s"]) / float(r["step"])
    final = {v: mean([float(r[-1]["train_loss"]) for r in rs]) for v, rs in runs.items()}
    target = max(float(r[-1]["train_loss"]) for r in runs["uniform"])
    base, best = final["uniform"], final.get("loss-k0.5")
    steps_u = mean([first_reach(r, target, "step") for r in runs["uniform"]])
    probe = sorted({int(r["step"]) for r in runs["uniform"][0]})
    probe = [probe[1], probe[len(probe) // 2], probe[-1]] if len(probe) >= 3 else probe
    order = ["uniform", "loss-k0.5"] + sorted(v for v in runs if v not in ("uniform", "loss-k0.5"))
    lines = [
        "| variant | runs | final train loss | vs uniform | share of loss-k0.5's gain | test error | "
        "steps to uniform's final loss | step cost vs uniform | rank corr at steps " + ", ".join(map(str, probe)) + " |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for v in order:
        if v not in runs:
            continue
        rs = runs[v]
        reach = [first_reach(r, target, "step") for r in rs]
        reach_s = f"{mean(reach):.0f} ({steps_u / mean(reach):.2f}x)" if all(x is not None for x in reach) else "not reached"
        share = f"{(base - final[v]) / (base - best):.0%}" if best is not None and v not in ("uniform",) else "-"
        corr = []
        for step in probe:
            vals = [float(x["score_rank_corr"]) for r in rs for x in r
                    if int(x["step"]) == step and x.get("score_rank_corr")]
            corr.append(f"{mean(vals):.2f}" if vals else "-")
        c = f"{cost[v] / cost['uniform']:.2f}x ({1000 * cost[v]:.1f} ms)" if v in cost and "uniform" in cost else "-"
        lines.append(f"| {v} | {len(rs)} | {final[v]:.4f} | {100 * (final[v] - base) / base:+.1f}% | {share} | "
                     f"{100 * mean([float(r[-1]['test_error']) for r in rs]):.2f}% | {reach_s} | {c} | "
                     + ", ".join(corr) + " |")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write(text)
    print(text)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib missing: no plot)")
        return
    fig, (a, b) = plt.subplots(1, 2, figsize=(13, 5))
    for v in order:
        if v not in runs:
            continue
        steps = [int(x["step"]) for x in runs[v][0]]
        loss = [mean([float(r[i]["train_loss"]) for r in runs[v]]) for i in range(len(steps))]
        line, = a.plot(steps[1:], loss[1:], label=v, lw=2 if v in ("uniform", "loss-k0.5") else 1.3)
        corr = [[float(r[i]["score_rank_corr"]) for r in runs[v] if r[i].get("score_rank_corr")]
                for i in range(len(steps))]
        if any(corr):
            b.plot(steps, [mean(c) for c in corr], color=line.get_color(), label=v)
    a.axhline(target, color="gray", ls=":", lw=1)
    a.set(xlabel="step", ylabel="training loss (mean over seeds)", yscale="log",
          title="training loss at equal steps (CPU engine)")
    b.set(xlabel="step", ylabel="Spearman(scores, true losses)", title="how well the scores rank the training set")
    a.legend(fontsize=8)
    b.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "plot.png"), dpi=110)


if __name__ == "__main__":
    main()
