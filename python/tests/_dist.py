"""Running test code on R ranks of a CPU process group (gloo), for the tests of
cuis.torch.distributed: R processes spawned fresh (multiprocessing "spawn"),
joined through a FileStore in a temporary folder (no network), each with a
process-group timeout so that a hung collective fails instead of hanging,
and a deadline for the whole run after which every process is killed.

`run_ranks(fn, ranks, *args)` calls fn(rank, ranks, *args) on every rank (fn
importable by module and name) and returns the ranks' results in rank order;
an exception on a rank comes back as a RankFailure holding its traceback."""

from __future__ import annotations

import dataclasses
import datetime
import os
import pickle
import tempfile
import time
import traceback
from typing import Any, Callable, List

import multiprocessing as mp

PG_TIMEOUT_S = 20  # a collective that waits longer raises on that rank
RUN_DEADLINE_S = 150  # the whole run (process start-up included)


@dataclasses.dataclass
class RankFailure:
    """An exception a rank's function raised (not one it returned)."""

    rank: int
    traceback: str


def _entry(fn: Callable, rank: int, ranks: int, store: str, out: str, args: tuple, backend: str) -> None:
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    result: Any
    try:
        if backend == "nccl":
            torch.cuda.set_device(rank)  # one GPU per rank
        dist.init_process_group(backend, store=dist.FileStore(store, ranks), rank=rank, world_size=ranks,
                                timeout=datetime.timedelta(seconds=PG_TIMEOUT_S))
        try:
            result = fn(rank, ranks, *args)
        finally:
            dist.destroy_process_group()
    except BaseException:  # noqa: BLE001 - reported to the test
        result = RankFailure(rank, traceback.format_exc())
    try:
        data = pickle.dumps(result)
    except Exception:  # noqa: BLE001 - a result that cannot travel is reported, not lost
        data = pickle.dumps(RankFailure(rank, traceback.format_exc()))
    with open(out + ".tmp", "wb") as f:
        f.write(data)
    os.replace(out + ".tmp", out)


def run_ranks(fn: Callable, ranks: int, *args: Any, deadline_s: float = RUN_DEADLINE_S,
              backend: str = "gloo") -> List[Any]:
    """fn(rank, ranks, *args) on `ranks` fresh processes of a `backend` process group ("nccl":
    rank r on cuda:r); their results in rank order. Raises AssertionError when a process
    does not finish within `deadline_s`."""
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="cuis-dist-") as tmp:
        store = os.path.join(tmp, "store")
        outs = [os.path.join(tmp, f"rank{r}.pkl") for r in range(ranks)]
        procs = [ctx.Process(target=_entry, args=(fn, r, ranks, store, outs[r], args, backend),
                             daemon=True)
                 for r in range(ranks)]
        for p in procs:
            p.start()
        end = time.monotonic() + deadline_s
        for p in procs:
            p.join(max(0.0, end - time.monotonic()))
        hung = [r for r, p in enumerate(procs) if p.is_alive()]
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join(5)
        assert not hung, f"ranks {hung} of {ranks} did not finish within {deadline_s} s (a hung collective?)"
        results = []
        for r, path in enumerate(outs):
            if not os.path.exists(path):
                results.append(RankFailure(r, f"rank {r} exited with code {procs[r].exitcode} and no result"))
                continue
            with open(path, "rb") as f:
                results.append(pickle.load(f))
        return results


def ok(results: List[Any]) -> List[Any]:
    """The results, after asserting that no rank raised."""
    failures = [r for r in results if isinstance(r, RankFailure)]
    assert not failures, "\n".join(f"rank {f.rank}:\n{f.traceback}" for f in failures)
    return results
