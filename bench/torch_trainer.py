#!/usr/bin/env python3
"""PyTorch's training step for the same MLP (784-512-512-10, ReLU, Adam,
uniformly drawn batches from 60000 device-resident rows), eager and replayed
in a CUDA graph (the whole step: gather, forward, loss, backward, Adam with
capturable=True), at batch 128 and 1024. Writes JSON (--out)."""
import argparse
import json
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=200)
    args = ap.parse_args()
    try:
        import torch
    except ImportError:
        print("torch_trainer: PyTorch is not installed; skipped")
        return 0
    if not torch.cuda.is_available():
        print("torch_trainer: no CUDA device; skipped")
        return 0
    torch.backends.cuda.matmul.allow_tf32 = False  # FP32 like cuis's default
    dev = torch.device("cuda")
    gen = torch.Generator(device=dev)
    gen.manual_seed(1)
    x = torch.rand(60000, 784, device=dev, generator=gen)
    y = torch.randint(0, 10, (60000,), device=dev, generator=gen)
    out = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "runs": []}

    def model_and_opt(capturable):
        m = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512),
                                torch.nn.ReLU(), torch.nn.Linear(512, 10)).to(dev)
        return m, torch.optim.Adam(m.parameters(), lr=1e-3, capturable=capturable)

    def timed(fn, steps):
        for _ in range(10):
            fn()
        torch.cuda.synchronize()
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(steps):
            fn()
        stop.record()
        stop.synchronize()
        return start.elapsed_time(stop) * 1e3 / steps  # us per step

    for batch in (128, 1024):
        idx = torch.randint(0, 60000, (64, batch), device=dev, generator=gen)
        k = [0]

        m, opt = model_and_opt(False)
        loss_fn = torch.nn.CrossEntropyLoss()

        def eager():
            i = idx[k[0] % 64]
            k[0] += 1
            opt.zero_grad(set_to_none=True)
            loss_fn(m(x[i]), y[i]).backward()
            opt.step()

        eager_us = timed(eager, args.steps)

        m, opt = model_and_opt(True)
        static_i = idx[0].clone()
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(3):
                opt.zero_grad(set_to_none=False)
                loss_fn(m(x[static_i]), y[static_i]).backward()
                opt.step()
        torch.cuda.current_stream().wait_stream(s)
        g = torch.cuda.CUDAGraph()
        opt.zero_grad(set_to_none=False)
        with torch.cuda.graph(g):
            loss_fn(m(x[static_i]), y[static_i]).backward()
            opt.step()
            opt.zero_grad(set_to_none=False)

        def graphed():
            g.replay()

        graph_us = timed(graphed, args.steps)
        row = {"batch": batch, "eager_us": eager_us, "graph_us": graph_us,
               "eager_samples_per_s": batch / eager_us * 1e6, "graph_samples_per_s": batch / graph_us * 1e6}
        out["runs"].append(row)
        print(json.dumps(row), flush=True)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
