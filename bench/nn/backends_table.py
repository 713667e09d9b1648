#!/usr/bin/env python3
"""The MLP-backend benchmark's table: cuis_bench_mlp's JSON (bench/nn/
bench_mlp_backends.cu) and torch_mlp.py's JSON side by side, one row per
shape, batch, math and mode, microseconds per training step for each backend
and PyTorch, the fastest cuis backend and its ratio to the GEMM floor; then
which backend is fastest over all rows. scripts/gpu-check-summary shows
table(); run as a script it prints the markdown committed under bench/results/:

  bench/nn/backends_table.py --cuis cuis_bench_mlp.json --torch torch_mlp.json \\
      --commit ID --date YYYY-MM-DD > bench/results/mlp-backends-h200-DATE.md"""
import argparse
import json
import math
import os
import sys

BACKENDS = ("cublas", "cublaslt", "cudnn")


def parse_name(name):  # BM_MlpStep/backend:cudnn/shape:main/batch:1024/math:tf32/mode:graph
    return dict(p.split(":", 1) for p in name.split("/")[1:] if ":" in p)


def table(cu, th=None):
    """Markdown lines from the two parsed JSON documents (th may be None)."""
    cu = cu or {}
    th = th or {}
    ctx = cu.get("context", {})
    lines = []
    if ctx:
        lines += [f"- device: {ctx.get('device', '?')}; GEMM throughput in the same binary: FP32 "
                  f"{float(ctx.get('fp32_gemm_TFLOPs', 0)):.1f} TFLOP/s, TF32 "
                  f"{float(ctx.get('tf32_gemm_TFLOPs', 0)):.1f} TFLOP/s",
                  f"- cuDNN backend (as cuis_bench_mlp loaded it): {ctx.get('cudnn', 'not reported')}"]
    else:
        lines.append("- cuis_bench_mlp: no result")
    if th.get("torch"):
        lines.append(f"- PyTorch {th['torch']} (cuDNN {th.get('cudnn')}) on {th.get('device', '?')}"
                     + ("; **CPU smoke test, not comparable**" if th.get("device") == "cpu" else ""))
    rows, fallbacks = {}, {}
    for b in cu.get("benchmarks", []):
        if b.get("run_type") == "aggregate" or "us_per_step" not in b:
            continue
        p = parse_name(b["name"])
        key = (p.get("shape"), int(p.get("batch", 0)), p.get("math"), p.get("mode"))
        label = b.get("label", "")
        in_use = b.get("backend_in_use")  # MlpBackend's value; else the label: "cublas (fallback: ...)"
        fell_back = (BACKENDS[int(in_use)] != p.get("backend")) if in_use is not None else \
            (p.get("backend") != "cublas" and label.startswith("cublas (fallback"))
        if fell_back:
            fallbacks[p.get("backend")] = label
        rows.setdefault(key, {})[p.get("backend")] = (b["us_per_step"], b.get("x_gemm_floor"), fell_back)
    torch_us = {}
    for r in th.get("runs", []):
        mode = "enqueued" if r.get("mode") == "eager" else r.get("mode")
        torch_us[(r.get("shape"), r.get("batch"), r.get("math"), mode)] = r.get("us")
    lines += ["", "Microseconds per training step (gather by indices, forward, loss, backward, Adam). "
              "Mode: enqueued (PyTorch eager) or replayed from CUDA graphs. x floor: the fastest backend's "
              "time over the step's GEMM FLOPs at the measured cublasSgemm rate (main shape). "
              "(f): fell back to cuBLAS, not a measurement of that backend.", "",
              "| shape | batch | math | mode | cublas | cublaslt | cudnn | PyTorch | fastest | x floor | vs PyTorch |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    order = {"main": 0, "predictor": 1}
    ratios = {k: [] for k in BACKENDS}
    for key in sorted(set(rows) | set(torch_us), key=lambda k: (order.get(k[0], 9), k[1], k[2] or "", k[3] or "")):
        r = rows.get(key, {})
        real = {k: v for k, v in r.items() if not v[2]}
        best = min(real, key=lambda k: real[k][0]) if real else None
        if best:
            for k, v in real.items():
                if k in ratios:
                    ratios[k].append(v[0] / real[best][0])
        cells = []
        for k in BACKENDS:
            v = r.get(k)
            cells.append("-" if v is None else f"{v[0]:.1f}" + (" (f)" if v[2] else ""))
        t = torch_us.get(key)
        floor = real[best][1] if best else None
        lines.append(f"| {key[0]} | {key[1]} | {key[2]} | {key[3]} | {' | '.join(cells)} | "
                     f"{f'{t:.1f}' if t else '-'} | {best or '-'} | {f'{floor:.2f}' if floor else '-'} | "
                     f"{f'{t / real[best][0]:.2f}x' if t and best else '-'} |")
    ranked = sorted((math.exp(sum(map(math.log, v)) / len(v)), k) for k, v in ratios.items() if v)
    if ranked:
        lines += ["", "Fastest over all rows (geometric mean of time / the row's best, 1.00 = always fastest): " +
                  ", ".join(f"{k} {g:.3f} ({len(ratios[k])} rows)" for g, k in ranked) + "."]
    for k, label in sorted(fallbacks.items()):
        lines.append(f"- {k} fell back: {label}")
    return lines


def load(path):
    if path and os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cuis", required=True, help="cuis_bench_mlp --benchmark_out JSON")
    ap.add_argument("--torch", help="torch_mlp.py JSON")
    ap.add_argument("--commit", default="unknown")
    ap.add_argument("--date", default="unknown")
    args = ap.parse_args()
    print(f"# cuis MLP training step per backend\n\n- date: {args.date}\n- commit: {args.commit}")
    print("\n".join(table(load(args.cuis), load(args.torch))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
