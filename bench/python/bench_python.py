#!/usr/bin/env python3
"""The Python layer's benchmark (gpu-check phase `bench-python`). Two parts,
JSON out (--out), a short table printed:

1. overhead, at N = 1024, B = 128 (--overhead-n, --overhead-b): host wall time
   per call (time.perf_counter over a loop, median of repeats) of
     - cuis.sample on a NumPy array, on a torch CPU tensor, on a torch CUDA tensor,
     - cuis.torch.sample (the wrapper over the op) and
       torch.ops.cuis.sample (cuis.torch) on the same tensors: the op registered in
       C++ (libcuis_torch.so) and, measured by this script in a child process with
       CUIS_TORCH_OPS=python, the Python custom op (torch.library.custom_op),
     - the bare nanobind binding (_cuis.sample_cpu / _cuis.sample_cuda) with
       buffers allocated beforehand: the C++ call without the Python layer,
   against, for CUDA, the CUDA-event device time of the same call made eagerly
   and replayed from a CUDA graph (the graph replay is the device time without
   any host cost; the eager event time starts on an idle GPU, so it includes the
   host's time to build and launch the call). "enqueue" times stop the clock before synchronising: what the
   host pays per call; "synced" times include one synchronize per call.
2. compare, at N = 2^16, 2^20, 2^24 (--log2n), B = 1024 (--draws): cuis.sample
   against torch.multinomial(replacement=True) (refuses N > 2^24) and
   searchsorted(cumsum(w), rand(B) * w.sum()) in float32 and float64, on the
   same GPU in one run, the L2 flushed before each timed call (a 256 MiB
   zero_ enqueued before the start event, as bench/sampler/torch_baseline.py
   does), CUDA-event time, median of --repeats.

--device cpu runs the same measurements on the CPU at small sizes: a smoke test
of the script, and its numbers are NOT the GPU result (the CPU path is the
C++ reference sampler; no device, no L2 flush)."""
import argparse
import json
import os
import platform
import statistics
import sys
import time


def python_op_rows(args):
    """The overhead rows of torch.ops.cuis.sample registered in Python (CUIS_TORCH_OPS=python)."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "ops.json")
        cmd = [sys.executable, os.path.abspath(__file__), "--ops-only", "--device", args.device, "--out", out,
               "--overhead-n", str(args.overhead_n), "--overhead-b", str(args.overhead_b)]
        cmd += ["--repeats", str(args.repeats)] if args.repeats else []
        cmd += ["--calls", str(args.calls)] if args.calls else []
        r = subprocess.run(cmd, env=dict(os.environ, CUIS_TORCH_OPS="python"), capture_output=True, text=True)
        if r.returncode != 0 or not os.path.exists(out):
            return [{"input": "torch", "path": "torch.ops.cuis.sample (python)",
                     "error": f"the --ops-only child failed: {r.stderr.strip().splitlines()[-1:]}"}]
        with open(out) as f:
            return json.load(f)["overhead"]["rows"]


def median(xs):
    return statistics.median(xs) if xs else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    ap.add_argument("--repeats", type=int, default=None, help="timed repeats per point (20 on cuda, 5 on cpu)")
    ap.add_argument("--calls", type=int, default=None, help="calls per overhead repeat (200 on cuda, 20 on cpu)")
    ap.add_argument("--log2n", type=int, nargs="+", default=None, help="compare sizes (16 20 24 on cuda, 10 12 on cpu)")
    ap.add_argument("--draws", type=int, default=None, help="compare draws B (1024 on cuda, 128 on cpu)")
    ap.add_argument("--overhead-n", type=int, default=1024)
    ap.add_argument("--overhead-b", type=int, default=128)
    ap.add_argument("--ops-only", action="store_true",
                    help="only the overhead rows of torch.ops.cuis.sample (run by the script itself, with "
                         "CUIS_TORCH_OPS=python, to set the Python custom op beside the C++ op)")
    args = ap.parse_args()
    cpu = args.device == "cpu"
    repeats = args.repeats or (5 if cpu else 20)
    calls = args.calls or (20 if cpu else 200)
    log2ns = args.log2n or ([10, 12] if cpu else [16, 20, 24])
    draws = args.draws or (128 if cpu else 1024)
    require = bool(os.environ.get("CUIS_REQUIRE_GPU")) and not cpu

    try:
        import numpy as np
        import torch
    except ImportError as e:
        print(f"bench_python: {e.name} is not installed; skipped")
        return 1 if require else 0
    if not cpu and not torch.cuda.is_available():
        print("bench_python: no CUDA device; skipped (--device cpu runs the CPU smoke test)")
        return 1 if require else 0
    try:
        import cuis
        import cuis.torch  # noqa: F401  registers torch.ops.cuis.*
        from cuis import _cuis, _args
        ops_backend = cuis.torch.OPS_BACKEND
    except ImportError as e:
        print(f"bench_python: the cuis package is not importable ({e}); build it first (pip install .)")
        return 2
    if cpu:
        print("bench_python: --device cpu: a smoke test of the script; these numbers are NOT the GPU result")

    dev = torch.device(args.device)
    sync = torch.cuda.synchronize if not cpu else (lambda: None)
    results = {
        "mode": "cpu-smoke-test" if cpu else "gpu",
        "ops_backend": ops_backend,
        "note": ("CPU smoke test: small sizes, the C++ reference sampler, no L2 flush; NOT the GPU result"
                 if cpu else "GPU: CUDA events, median of repeats"),
        "device": torch.cuda.get_device_name(0) if not cpu else (platform.processor() or platform.machine()),
        "torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version(),
        "cuis_module": os.path.dirname(cuis.__file__), "repeats": repeats, "calls_per_repeat": calls,
        "overhead": {"N": args.overhead_n, "B": args.overhead_b, "rows": []}, "compare": {"B": draws, "rows": []},
    }

    # ---- 1. per-call overhead --------------------------------------------------------------
    n, b = args.overhead_n, args.overhead_b
    unbiased = _args._WEIGHTING["unbiased"]

    def host_per_call(fn, synced):
        """Median over repeats of (wall time of `calls` calls) / calls, in us."""
        fn()
        sync()
        per = []
        for _ in range(repeats):
            sync()
            t0 = time.perf_counter()
            for _ in range(calls):
                fn()
                if synced:
                    sync()
            t1 = time.perf_counter()
            sync()
            per.append((t1 - t0) / calls * 1e6)
        return median(per)

    def event_time(fn):
        """Median CUDA-event time of one call, us (no flush: the small case lives in L2)."""
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        fn()
        times = []
        for _ in range(repeats):
            sync()
            start.record()
            fn()
            stop.record()
            stop.synchronize()
            times.append(start.elapsed_time(stop) * 1e3)
        return median(times)

    def graph_time(fn):
        """Median CUDA-event time of one replay of a graph holding one call, us."""
        fn()
        sync()
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            fn()
        return event_time(g.replay)

    def op_call(s):
        return lambda: torch.ops.cuis.sample(s, b, True, 0, 0.5, 0.0, 0.0, 0.0, 1.0, None, 1, 0)

    def raw_call(s):
        """The nanobind binding with buffers made beforehand: the C++ call without the Python layer."""
        arr = cuis._frameworks.as_array(s, "scores")
        if isinstance(s, np.ndarray):
            idx, w = np.empty(b, np.int64), np.empty(b, np.float32)
        else:
            idx = torch.empty(b, dtype=torch.int64, device=s.device)
            w = torch.empty(b, dtype=torch.float32, device=s.device)
        if isinstance(s, np.ndarray) or not s.is_cuda:
            return lambda: _cuis.sample_cpu(arr, b, idx, w, None, None, None, True, unbiased, 0.5, 0.0, 0.0, 0.0,
                                            1.0, 1, 0, True)
        d = s.device.index or 0
        ws = torch.empty(max(int(_cuis.sample_workspace_size(n, b, d, True, unbiased, 0.5, 0.0, 0.0, 1.0)), 1),
                         dtype=torch.uint8, device=s.device)
        st = torch.empty(32, dtype=torch.uint8, device=s.device)
        return lambda: _cuis.sample_cuda(arr, b, idx, w, st, ws, None, None, None, True, unbiased, 0.5, 0.0, 0.0,
                                         0.0, 1.0, 1, 0, True, torch.cuda.current_stream().cuda_stream)

    gen = torch.Generator().manual_seed(1)
    base = torch.rand(n, generator=gen) + 1e-6
    inputs = [("numpy (cpu)", base.numpy().copy()), ("torch cpu", base.clone())]
    if not cpu:
        inputs.append(("torch cuda", base.to(dev)))
    op_path = f"torch.ops.cuis.sample ({ops_backend})"
    for label, s in inputs:
        on_cuda = isinstance(s, torch.Tensor) and s.is_cuda
        paths = [("cuis.sample", lambda s=s: cuis.sample(s, b, seed=1))]
        if isinstance(s, torch.Tensor):
            paths.append(("cuis.torch.sample", lambda s=s: cuis.torch.sample(s, b, seed=1)))
            paths.append((op_path, op_call(s)))
        paths.append(("binding only (_cuis)", None))
        if args.ops_only:
            paths = [p for p in paths if p[0] == op_path]
        for path, fn in paths:
            row = {"input": label, "path": path}
            try:
                if fn is None:
                    fn = raw_call(s)
                row["host_enqueue_us"] = host_per_call(fn, synced=False)
                if on_cuda:
                    row["host_synced_us"] = host_per_call(fn, synced=True)
                    row["device_event_us"] = event_time(fn)
                    try:
                        row["graph_replay_us"] = graph_time(fn)
                    except Exception as e:  # capture refused: say so, keep the rest
                        row["graph_replay_error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
            except Exception as e:
                row["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
            results["overhead"]["rows"].append(row)
            print(json.dumps(row), flush=True)

    if args.ops_only:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)
        return 0
    if ops_backend == "cpp":  # the Python custom op beside it, measured by this script in a child process
        results["overhead"]["rows"] += python_op_rows(args)

    # ---- 2. against torch.multinomial and searchsorted(cumsum) -----------------------------
    flush = torch.empty(256 << 20, dtype=torch.uint8, device=dev) if not cpu else None

    def timed(fn):
        fn()
        sync()
        times = []
        if cpu:
            for _ in range(repeats):
                t0 = time.perf_counter()
                fn()
                times.append((time.perf_counter() - t0) * 1e6)
            return median(times)
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        for _ in range(repeats):
            flush.zero_()
            start.record()
            fn()
            stop.record()
            stop.synchronize()
            times.append(start.elapsed_time(stop) * 1e3)
        return median(times)

    tgen = torch.Generator(device=dev)
    tgen.manual_seed(1)
    for log2n in log2ns:
        size = 1 << log2n
        w = torch.rand(size, device=dev, generator=tgen) + 1e-6
        row = {"log2N": log2n, "B": draws}
        cases = [("cuis_sample_us", lambda: cuis.sample(w, draws, seed=1)),
                 ("cuis_op_us", lambda: torch.ops.cuis.sample(w, draws, True, 0, 0.5, 0.0, 0.0, 0.0, 1.0, None, 1, 0))]
        if size <= (1 << 24):
            cases.append(("multinomial_us", lambda: torch.multinomial(w, draws, replacement=True, generator=tgen)))
        cases.append(("cumsum32_searchsorted_us", lambda: torch.searchsorted(
            torch.cumsum(w, 0), torch.rand(draws, device=dev, generator=tgen) * w.sum())))
        cases.append(("cumsum64_searchsorted_us", lambda: torch.searchsorted(
            torch.cumsum(w, 0, dtype=torch.float64),
            torch.rand(draws, device=dev, generator=tgen, dtype=torch.float64) * w.sum(dtype=torch.float64))))
        for key, fn in cases:
            try:
                row[key] = timed(fn)
            except Exception as e:
                row[key] = None
                row[key.replace("_us", "_error")] = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
        results["compare"]["rows"].append(row)
        print(json.dumps(row), flush=True)
        del w
        if not cpu:
            torch.cuda.empty_cache()

    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)
    print()
    print("\n".join(table(results)))
    bad = [r for r in results["overhead"]["rows"] if "error" in r] + \
          [r for r in results["compare"]["rows"] if any(k.endswith("_error") for k in r)]
    return 1 if bad else 0


def fmt(x, digits=1):
    return "-" if x is None else f"{x:.{digits}f}"


def table(res):
    """Markdown lines for a result dict (also used by scripts/gpu-check-summary)."""
    lines = []
    if res.get("mode") != "gpu":
        lines.append(f"**{res.get('note', 'CPU smoke test: NOT the GPU result')}**")
        lines.append("")
    ov = res.get("overhead", {})
    lines.append(f"Per-call cost from Python, N = {ov.get('N')}, B = {ov.get('B')} (us, median; {res.get('device')}, "
                 f"torch {res.get('torch')})")
    lines.append("")
    lines.append("| input | path | host enqueue | host synced | device (events) | graph replay | note |")
    lines.append("|---|---|---|---|---|---|---|")
    for r in ov.get("rows", []):
        note = r.get("error") or r.get("graph_replay_error") or ""
        lines.append(f"| {r.get('input')} | {r.get('path')} | {fmt(r.get('host_enqueue_us'))} | "
                     f"{fmt(r.get('host_synced_us'))} | {fmt(r.get('device_event_us'))} | "
                     f"{fmt(r.get('graph_replay_us'))} | {note.replace('|', '/')} |")
    cmp_ = res.get("compare", {})
    lines.append("")
    how = "CUDA events, L2 flushed" if res.get("mode") == "gpu" else "wall time, CPU"
    lines.append(f"Against PyTorch, B = {cmp_.get('B')} (us, median, {how})")
    lines.append("")
    lines.append("| N | cuis.sample | torch.ops.cuis.sample | multinomial | cumsum+searchsorted f32 | f64 |")
    lines.append("|---|---|---|---|---|---|")
    for r in cmp_.get("rows", []):
        mult = fmt(r.get("multinomial_us")) if "multinomial_us" in r else "refuses"
        lines.append(f"| 2^{r.get('log2N')} | {fmt(r.get('cuis_sample_us'))} | {fmt(r.get('cuis_op_us'))} | {mult} | "
                     f"{fmt(r.get('cumsum32_searchsorted_us'))} | {fmt(r.get('cumsum64_searchsorted_us'))} |")
    return lines


if __name__ == "__main__":
    sys.exit(main())
