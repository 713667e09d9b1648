#!/usr/bin/env python3
"""PyTorch's training step at the shapes of cuis_bench_mlp (bench/nn/
bench_mlp_backends.cu), its baseline: 784-512-512-10 (cross-entropy, mean) at
batch 128 and 1024, and the loss predictor's network (predictor_features(10,
10) = 30 inputs, 32-32-1, MSE) at batch 128; nn.Linear + ReLU, Adam lr 1e-3;
FP32 and TF32 (torch.backends.cuda.matmul.allow_tf32 and
torch.backends.cudnn.allow_tf32); eager, and replayed from CUDA graphs
(capturable Adam, one graph per batch slot as cuis_bench_mlp captures).

A step is what cuis::Mlp::train_step does: the gather of the batch from the
device-resident data by indices drawn beforehand (64 batches, used in turn:
the draw itself is in neither), forward, loss, backward, optimizer update.

Writes JSON (--out); prints torch.__version__ and torch.backends.cudnn.version().
--device cpu runs a few eager steps of each case as a smoke test. Without
PyTorch or a CUDA device it says so and exits 0, or 1 under CUIS_REQUIRE_GPU."""
import argparse
import json
import os
import sys
import time

BATCHES, GRAPHS = 64, 4
CASES = [  # name, batch, sizes, loss: as cuis_bench_mlp's cases()
    ("main", 128, [784, 512, 512, 10], "cross_entropy"),
    ("main", 1024, [784, 512, 512, 10], "cross_entropy"),
    ("predictor", 128, [2 * 10 + 10, 32, 32, 1], "squared_error"),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=200, help="timed steps per run (cpu: 3)")
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    args = ap.parse_args()
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        print("torch_mlp: PyTorch is not installed; skipped")
        return 1 if os.environ.get("CUIS_REQUIRE_GPU") else 0  # gpu-check: skipping is a failure
    cuda = args.device == "cuda"
    if cuda and not torch.cuda.is_available():
        print("torch_mlp: no CUDA device; skipped")
        return 1 if os.environ.get("CUIS_REQUIRE_GPU") else 0
    dev = torch.device(args.device)
    steps = args.steps if cuda else min(args.steps, 3)
    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    print(f"torch_mlp: torch {torch.__version__}, cuDNN {cudnn}, device {args.device}", flush=True)
    out = {"device": torch.cuda.get_device_name(0) if cuda else "cpu", "torch": torch.__version__,
           "cudnn": cudnn, "steps": steps, "runs": []}

    torch.manual_seed(1)
    rows = {"main": 60000 if cuda else 4096, "predictor": 65536 if cuda else 4096}
    data = {  # device-resident, like cuis_bench_mlp's
        "main": (torch.rand(rows["main"], 784, device=dev), torch.randint(0, 10, (rows["main"],), device=dev)),
        "predictor": (torch.rand(rows["predictor"], 30, device=dev), torch.rand(rows["predictor"], device=dev)),
    }

    def sync():
        if cuda:
            torch.cuda.synchronize()

    def timed(fn, n):  # us per step; fn(k) runs step k
        for k in range(10 if cuda else 1):
            fn(k)
        sync()
        t0 = time.perf_counter()
        for k in range(n):
            fn(k)
        sync()
        return (time.perf_counter() - t0) * 1e6 / n

    def make(sizes, graph):
        layers = []
        for i in range(len(sizes) - 1):
            layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
            if i + 2 < len(sizes):
                layers.append(torch.nn.ReLU())
        m = torch.nn.Sequential(*layers).to(dev)
        return m, torch.optim.Adam(m.parameters(), lr=1e-3, capturable=graph)

    def stepper(name, batch, loss, m, opt):
        x, y = data[name]
        idx = torch.randint(0, x.shape[0], (BATCHES, batch), device=dev)

        def step(k):
            i = idx[k % BATCHES]
            opt.zero_grad(set_to_none=False)
            if loss == "cross_entropy":
                F.cross_entropy(m(x[i]), y[i]).backward()
            else:
                F.mse_loss(m(x[i]).squeeze(1), y[i]).backward()
            opt.step()
        return step

    def graphed(step):  # one graph per batch slot, replayed in turn; None where PyTorch cannot capture
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for k in range(3):  # warm-up: Adam's state, cuBLAS workspaces
                step(k)
        torch.cuda.current_stream().wait_stream(s)
        graphs = []
        try:
            for k in range(GRAPHS):
                g = torch.cuda.CUDAGraph()
                with torch.cuda.graph(g):
                    step(k)
                graphs.append(g)
        except Exception as e:  # noqa: BLE001 - report any capture failure
            print(f"torch_mlp: capture failed: {type(e).__name__}: {e}", file=sys.stderr)
            return None
        return lambda k: graphs[k % GRAPHS].replay()

    for tf32 in (False, True):
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        for name, batch, sizes, loss in CASES:
            for mode in ("eager", "graph"):
                row = {"shape": name, "batch": batch, "sizes": sizes, "math": "tf32" if tf32 else "fp32",
                       "mode": mode, "us": None}
                if mode == "graph" and not cuda:
                    continue  # no CUDA graphs on the CPU
                m, opt = make(sizes, mode == "graph")
                step = stepper(name, batch, loss, m, opt)
                fn = step if mode == "eager" else graphed(step)
                if fn:
                    row["us"] = timed(fn, steps)
                out["runs"].append(row)
                print(json.dumps(row), flush=True)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
