#!/usr/bin/env python3
"""Turns one run's cuis_bench JSON (and torch_baseline JSON, if present) into
the markdown table committed under bench/results/, with the ratios the goals
are stated in: time over the one-read floor, and speed-up over PyTorch."""
import argparse
import json
import os


def load(path):
    if path and os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cuis", required=True)
    ap.add_argument("--torch")
    ap.add_argument("--trainer", help="cuis_bench_trainer JSON")
    ap.add_argument("--torch-trainer", help="torch_trainer.py JSON")
    ap.add_argument("--commit", default="unknown")
    ap.add_argument("--date", default="unknown")
    args = ap.parse_args()
    cu = load(args.cuis)
    th = load(args.torch) or {"runs": []}
    ctx = cu.get("context", {})
    torch_rows = {(r["log2N"], r["B"]): r for r in th.get("runs", [])}
    print(f"# cuis sampler benchmark\n\n- device: {ctx.get('device', '?')}\n- date: {args.date}\n- commit: {args.commit}")
    print(f"- copy bandwidth (read + write), cuis_bench: {float(ctx.get('copy_GBps_read_plus_write', 0)):.0f} GB/s")
    if th.get("device"):
        print(f"- PyTorch {th['torch']} on {th['device']}; its copy bandwidth {th['copy_GBps_read_plus_write']:.0f} GB/s")
    print("\nTimes are medians/means of one call in microseconds, L2 flushed; x floor = time / (4N bytes / copy bandwidth).\n")
    print("| benchmark | log2 N | B | time us | x floor | torch.multinomial us | cumsum32+searchsorted us | speed-up vs multinomial |")
    print("|---|---|---|---|---|---|---|---|")
    for b in cu.get("benchmarks", []):
        if b.get("run_type") == "aggregate" or "x_floor" not in b:
            continue
        name = b["name"]
        parts = dict(p.split(":") for p in name.split("/")[1:] if ":" in p)
        log2n, draws = int(parts.get("log2N", 0)), int(parts.get("B", 0))
        t = b["real_time"]
        tr = torch_rows.get((log2n, draws), {}) if name.startswith("BM_Sample/") and parts.get("repl") == "1" else {}
        mult = tr.get("multinomial_us")
        cs = tr.get("cumsum32_searchsorted_us")
        speed = f"{mult / t:.1f}x" if mult else "-"
        label = name.split('/')[0] + ("" if parts.get("repl", "1") == "1" else " (without repl.)") + \
            (" (general path)" if parts.get("single") == "0" else "")
        print(f"| {label} | {log2n} | {draws} | "
              f"{t:.2f} | {b['x_floor']:.2f} | {f'{mult:.1f}' if mult else '-'} | {f'{cs:.1f}' if cs else '-'} | {speed} |")

    tr = load(args.trainer)
    if tr:
        tt = {r["batch"]: r for r in (load(args.torch_trainer) or {"runs": []})["runs"]}
        print(f"\n## Training step (784-512-512-10, ReLU, Adam)\n\nFP32 GEMM throughput in the same binary: "
              f"{float(tr.get('context', {}).get('fp32_gemm_TFLOPs', 0)):.1f} TFLOP/s.\n")
        print("| benchmark | batch | us per step | samples/s | x GEMM floor | PyTorch eager us | PyTorch graph us | vs eager | vs graph |")
        print("|---|---|---|---|---|---|---|---|---|")
        steps = [b for b in tr.get("benchmarks", []) if b.get("run_type") != "aggregate" and "us_per_step" in b]
        for b in tr.get("benchmarks", []):
            if b.get("run_type") == "aggregate" or "samples_per_s" not in b:
                continue
            name = b["name"]
            batch = int(name.split("batch:")[1].split("/")[0])
            t = b["real_time"]
            ref = tt.get(batch, {})
            e, g = ref.get("eager_us"), ref.get("graph_us")
            print(f"| {name.split('/')[0]} | {batch} | {t:.1f} | {b['samples_per_s']:.3g} | {b['x_gemm_floor']:.2f} | "
                  f"{f'{e:.1f}' if e else '-'} | {f'{g:.1f}' if g else '-'} | {f'{e / t:.2f}x' if e else '-'} | "
                  f"{f'{g / t:.2f}x' if g else '-'} |")
        if steps:
            torch_doc = load(args.torch_trainer) or {}
            torch_uniform = tt.get(128, {})
            torch_loss = next((r for r in torch_doc.get("importance", []) if r.get("sampler") == "loss"), {})
            print("\n## Whole trainer step per sampler (batch 128, P = 1024)\n")
            print("PyTorch: the same step written in PyTorch (bench/train/torch_trainer.py; 'host' = the authors' way, "
                  "scores copied to the host and drawn with numpy).\n")
            print("| sampler | mode | us per step | x uniform (same mode) | PyTorch us | vs PyTorch | PyTorch host us |")
            print("|---|---|---|---|---|---|---|")
            mode_of = lambda b: (b["name"].split("graph:")[1].split("/")[0], "tf32:1" in b["name"])
            uniform = {mode_of(b): b["us_per_step"] for b in steps if b.get("label") == "uniform"}
            tf = torch_doc.get("tf32", {})
            fmt = lambda v: f"{v:.1f}" if v else "-"
            for b in steps:
                t, (g, tf32) = b["us_per_step"], mode_of(b)
                u = uniform.get((g, tf32))
                if tf32:
                    pt = {"uniform": tf.get("uniform_graph_us"), "loss": tf.get("loss_graph_us")}.get(b.get("label"))
                else:
                    ref = {"uniform": torch_uniform, "loss": torch_loss}.get(b.get("label"), {})
                    pt = ref.get("graph_us" if g == "1" else "eager_us")
                host = torch_loss.get("host_numpy_us") if g == "0" and not tf32 and b.get("label") == "loss" else None
                mode = ("graph" if g == "1" else "enqueued") + (", TF32" if tf32 else "")
                print(f"| {b.get('label', '?')} | {mode} | {t:.1f} | {f'{t / u:.2f}x' if u else '-'} | {fmt(pt)} | "
                      f"{f'{pt / t:.2f}x' if pt else '-'} | {fmt(host)} |")

if __name__ == "__main__":
    main()
