#!/usr/bin/env python3
"""PyTorch baselines on the same GPU, in the same run as cuis_bench:
torch.multinomial(replacement=True) (refuses N > 2^24) and the usual
workaround searchsorted(cumsum) in float32 and float64, plus the device copy
bandwidth measured the same way as cuis_bench does. L2 is flushed before each
timed call. Writes JSON (--out) and prints a short table."""
import argparse
import json
import os
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--log2n", type=int, nargs="+", default=[16, 20, 24, 27, 30], help="log2 of the sizes N")
    ap.add_argument("--draws", type=int, nargs="+", default=[1024, 65536, 1000000], help="draws B per call")
    args = ap.parse_args()
    try:
        import torch
    except ImportError:
        print("torch_baseline: PyTorch is not installed; skipped")
        return 1 if os.environ.get("CUIS_REQUIRE_GPU") else 0  # gpu-check: skipping is a failure
    if not torch.cuda.is_available():
        print("torch_baseline: no CUDA device; skipped")
        return 1 if os.environ.get("CUIS_REQUIRE_GPU") else 0  # gpu-check: skipping is a failure
    dev = torch.device("cuda")
    flush = torch.empty(256 << 20, dtype=torch.uint8, device=dev)
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

    def timed(fn, flush_l2=True):
        fn()  # warm-up
        times = []
        for _ in range(args.repeats):
            if flush_l2:
                flush.zero_()
            start.record()
            fn()
            stop.record()
            stop.synchronize()
            times.append(start.elapsed_time(stop) * 1e3)  # us
        times.sort()
        return times[len(times) // 2]

    a = torch.empty(1 << 30, dtype=torch.uint8, device=dev)
    b = torch.empty_like(a)
    copy_us = min(timed(lambda: b.copy_(a), flush_l2=False) for _ in range(3))
    copy_gbps = 2 * a.numel() / (copy_us * 1e-6) / 1e9
    del a, b
    results = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__,
               "copy_GBps_read_plus_write": copy_gbps, "runs": []}
    gen = torch.Generator(device=dev)
    gen.manual_seed(1)
    for log2n in args.log2n:
        n = 1 << log2n
        w = torch.rand(n, device=dev, generator=gen) + 1e-6
        for bdraws in args.draws:
            row = {"log2N": log2n, "B": bdraws}
            if n <= (1 << 24):
                row["multinomial_us"] = timed(lambda: torch.multinomial(w, bdraws, replacement=True, generator=gen))
            row["cumsum32_searchsorted_us"] = timed(lambda: torch.searchsorted(
                torch.cumsum(w, 0), torch.rand(bdraws, device=dev, generator=gen) * w.sum()))
            row["cumsum64_searchsorted_us"] = timed(lambda: torch.searchsorted(
                torch.cumsum(w, 0, dtype=torch.float64),
                torch.rand(bdraws, device=dev, generator=gen, dtype=torch.float64) * w.sum(dtype=torch.float64)))
            results["runs"].append(row)
            print(json.dumps(row), flush=True)
        del w
        torch.cuda.empty_cache()
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
