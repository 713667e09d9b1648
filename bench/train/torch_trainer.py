#!/usr/bin/env python3
"""PyTorch's training steps for the same MLP (784-512-512-10, ReLU, Adam,
60000 device-resident rows), the baselines of cuis_bench_trainer:

- uniform: a uniformly drawn batch (draw, gather, forward, loss, backward,
  Adam; capturable=True for the graph), at batch 128 and 1024, eager and
  replayed in a CUDA graph;
- loss: the loss sampler's whole step at batch 128, P = 1024, k = 0.5 (draw P
  candidates, score them with a forward pass, torch.multinomial, the biased
  weights with the authors' per-batch rescaling, the weighted step), eager,
  in a CUDA graph where PyTorch can capture it, and the authors' way: scores
  copied to the host and the batch drawn with numpy;
- both steps again in CUDA graphs with TF32 matmuls.

Writes JSON (--out). --device cpu runs a few steps of each as a smoke test."""
import argparse
import json
import os
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--quick", action="store_true",
                    help="the headline only (scripts/gpu-check): batch 128, no TF32 section")
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    args = ap.parse_args()
    try:
        import numpy as np
        import torch
        import torch.nn.functional as F
    except ImportError:
        print("torch_trainer: PyTorch is not installed; skipped")
        return 1 if os.environ.get("CUIS_REQUIRE_GPU") else 0  # gpu-check: skipping is a failure
    cuda = args.device == "cuda"
    if cuda and not torch.cuda.is_available():
        print("torch_trainer: no CUDA device; skipped")
        return 1 if os.environ.get("CUIS_REQUIRE_GPU") else 0  # gpu-check: skipping is a failure
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = False  # FP32 like cuis's default
    dev = torch.device(args.device)
    torch.manual_seed(1)
    x = torch.rand(60000, 784, device=dev)
    y = torch.randint(0, 10, (60000,), device=dev)
    out = {"device": torch.cuda.get_device_name(0) if cuda else "cpu", "torch": torch.__version__, "runs": [],
           "importance": []}

    def model_and_opt(mode):
        m = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512),
                                torch.nn.ReLU(), torch.nn.Linear(512, 10)).to(dev)
        return m, torch.optim.Adam(m.parameters(), lr=1e-3, capturable=cuda and mode == "graph")

    def sync():
        if cuda:
            torch.cuda.synchronize()

    def timed(fn, steps):  # us per step
        for _ in range(10):
            fn()
        sync()
        t0 = time.perf_counter()
        for _ in range(steps):
            fn()
        sync()
        return (time.perf_counter() - t0) * 1e6 / steps

    def graphed(step):  # the whole step in a CUDA graph, or None where PyTorch cannot capture it
        if not cuda:
            return None
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(3):
                step()
        torch.cuda.current_stream().wait_stream(s)
        g = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(g):
                step()
        except Exception as e:  # noqa: BLE001 - report any capture failure
            print(f"torch_trainer: capture failed: {type(e).__name__}: {e}", file=sys.stderr)
            return None
        return g.replay

    def train(m, opt, i, w=None):
        opt.zero_grad(set_to_none=False)
        loss = F.cross_entropy(m(x[i]), y[i], reduction="none")
        (loss.mean() if w is None else (w * loss).mean()).backward()
        opt.step()

    for batch in (128,) if args.quick else (128, 1024):
        row = {"batch": batch}
        for mode in ("eager", "graph"):
            m, opt = model_and_opt(mode)
            step = lambda: train(m, opt, torch.randint(0, 60000, (batch,), device=dev))  # noqa: E731
            fn = step if mode == "eager" else graphed(step)
            row[f"{mode}_us"] = timed(fn, args.steps) if fn else None
        out["runs"].append(row)
        print(json.dumps(row), flush=True)

    # The loss sampler's step (docs/METHOD.md sections 3 and 4, no smoothing).
    batch, presample, k = 128, 1024, 0.5

    def draw_weights(scores, j):
        p = scores / scores.sum()
        unbiased = 1.0 / (presample * p[j])
        biased = unbiased ** k
        return biased * ((unbiased * p[j]).sum() / (biased * p[j]).sum())

    def scores_of(m, cand):
        with torch.no_grad():
            return F.cross_entropy(m(x[cand]), y[cand], reduction="none")

    row = {"sampler": "loss", "batch": batch, "presample": presample, "k": k}
    for mode in ("eager", "graph"):
        m, opt = model_and_opt(mode)

        def step():
            cand = torch.randint(0, 60000, (presample,), device=dev)
            s = scores_of(m, cand)
            j = torch.multinomial(s, batch, replacement=True)
            train(m, opt, cand[j], draw_weights(s, j))

        fn = step if mode == "eager" else graphed(step)
        row[f"{mode}_us"] = timed(fn, args.steps) if fn else None
    m, opt = model_and_opt("eager")
    rng = np.random.default_rng(1)

    def host_step():  # the authors' implementation: scores to the host, numpy draws, indices back
        cand = torch.randint(0, 60000, (presample,), device=dev)
        s = scores_of(m, cand)
        p = s.double().cpu().numpy()
        j = torch.from_numpy(rng.choice(presample, size=batch, p=p / p.sum())).to(dev)
        train(m, opt, cand[j], draw_weights(s, j))

    row["host_numpy_us"] = timed(host_step, args.steps)
    out["importance"].append(row)
    print(json.dumps(row), flush=True)

    # The same two steps in CUDA graphs with TF32 matmuls (cuis's --tf32 on).
    if cuda and not args.quick:
        torch.backends.cuda.matmul.allow_tf32 = True
        row = {"tf32": True, "batch": batch, "presample": presample}
        m, opt = model_and_opt("graph")
        fn = graphed(lambda: train(m, opt, torch.randint(0, 60000, (batch,), device=dev)))
        row["uniform_graph_us"] = timed(fn, args.steps) if fn else None
        m, opt = model_and_opt("graph")

        def tf32_step():
            cand = torch.randint(0, 60000, (presample,), device=dev)
            s = scores_of(m, cand)
            j = torch.multinomial(s, batch, replacement=True)
            train(m, opt, cand[j], draw_weights(s, j))

        fn = graphed(tf32_step)
        row["loss_graph_us"] = timed(fn, args.steps) if fn else None
        out["tf32"] = row
        print(json.dumps(row), flush=True)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
