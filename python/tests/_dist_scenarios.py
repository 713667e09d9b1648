"""What each rank runs for tests/test_torch_distributed*.py (imported by the
spawned processes of _dist.run_ranks): every scenario on the R ranks of a CPU
process group (`group=`), returning plain data (NumPy arrays, tuples) that the
tests check in the pytest process. The data: N = 40 samples in shards of very
different sizes (SIZES), the same scores on every rank (a fixed generator)."""

from __future__ import annotations

import io
import os
import traceback
from typing import Any, Callable, Dict

import numpy as np
import torch

import cuis
import cuis.torch.distributed as cd

N = 40
SIZES = {1: [40], 2: [7, 33], 3: [30, 2, 8], 4: [3, 20, 1, 16]}
EMPTY_SIZES = {2: [0, 40], 3: [0, 32, 8], 4: [0, 23, 1, 16]}  # rank 0 without samples
GLOBAL = dict(b=64, steps=50)  # global mode: 3200 R draws in all
STRATIFIED = dict(b=16, steps=200)  # stratified mode: 200 steps of R b draws


def scores() -> torch.Tensor:
    """The N scores, in [0.5, 4); the same on every rank."""
    return torch.rand(N, generator=torch.Generator().manual_seed(7), dtype=torch.float32) * 3.5 + 0.5


def global_scores() -> torch.Tensor:
    """scores() with sample 5 at zero (never drawn in global mode)."""
    g = scores()
    g[5] = 0.0
    return g


def stratified_scores(ranks: int) -> torch.Tensor:
    """scores() with rank 0's whole shard at zero when R > 1 (drawn uniformly, weight R n_0 / N)."""
    g = scores()
    if ranks > 1:
        g[:SIZES[ranks][0]] = 0.0
    return g


def shard(g: torch.Tensor, rank: int, sizes) -> tuple:
    off = sum(sizes[:rank])
    return g[off:off + sizes[rank]].contiguous(), off


def caught(fn: Callable[[], Any]) -> tuple:
    """("ok", value) or ("raised", class name, code, status tuple or None, message)."""
    try:
        return ("ok", fn())
    except cuis.Error as e:
        return ("raised", type(e).__name__, int(e.code), None if e.status is None else tuple(e.status), str(e))
    except Exception as e:  # noqa: BLE001  not a cuis error (the ranks must still stay in step)
        return ("raised", type(e).__name__, None, None, str(e))


# ------------------------------------------------------------------ sample_sharded


def draws(rank, ranks, mode, g, sizes, b, steps, group=None, **kw):
    """Per step this rank's (indices, weights, count) with offset = step R b."""
    s, off = shard(g, rank, sizes)
    out = []
    for step in range(steps):
        idx, w, count, st = cd.sample_sharded(s, b, shard_offset=off, num_samples=N, mode=mode, seed=11,
                                              offset=step * ranks * b, return_status=True, group=group, **kw)
        assert st.read().ok
        out.append((idx.numpy().copy(), w.numpy().copy(), int(count.item())))
    return out


def sc_global(rank, ranks, group):
    return draws(rank, ranks, "global", global_scores(), SIZES[ranks], group=group, **GLOBAL)


def sc_stratified(rank, ranks, group):
    return draws(rank, ranks, "stratified", stratified_scores(ranks), SIZES[ranks], group=group, **STRATIFIED)


def sc_strided(rank, ranks, group):
    """DistributedSampler's strided split (shard_indices), global mode, unbiased weights."""
    g = global_scores()
    ids = torch.arange(rank, N, ranks, dtype=torch.int64)
    idx, w, count, _ = cd.sample_sharded(g[ids].contiguous(), 64, shard_indices=ids, num_samples=N, mode="global",
                                         seed=4, return_status=True, group=group)
    return idx.numpy(), w.numpy(), int(count.item())


def sc_r1_equals_sample(rank, ranks, group):
    """R = 1: sample_sharded against cuis.sample (the one-GPU CPU reference), every weighting,
    both modes, with smoothing, a permuted shard_indices and an rng tensor."""
    if ranks != 1:
        return None
    g = scores()
    perm = torch.randperm(N, generator=torch.Generator().manual_seed(1))
    opts = dict(k=0.5, smooth=0.1, adaptive_smooth=0.2, mean_loss=1.3, power=0.7)
    rows = []
    for mode in ("global", "stratified"):
        for weighting in ("none", "unbiased", "biased"):
            a = cd.sample_sharded(g, 100, shard_offset=0, num_samples=N, mode=mode, weighting=weighting, seed=5,
                                  offset=123, group=group, **opts)
            b = cuis.sample(g.numpy(), 100, weighting=weighting, seed=5, offset=123, **opts)
            c = cd.sample_sharded(g, 100, shard_indices=perm, num_samples=N, mode=mode, weighting=weighting,
                                  seed=5, offset=123, group=group, **opts)
            d = cuis.sample(g.numpy(), 100, weighting=weighting, candidate_ids=perm.numpy(), seed=5, offset=123,
                            **opts)
            rng = cuis.rng_state(5, 123, device=torch.device("cpu"))
            e = cd.sample_sharded(g, 100, shard_offset=0, num_samples=N, mode=mode, weighting=weighting, rng=rng,
                                  group=group, **opts)
            rows.append((mode, weighting, [x.numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
                                           for x in (*a, *b, *c, *d, *e)], rng.tolist()))
    return rows


def sc_same_seed(rank, ranks, group):
    """The same seed twice gives the same draws; an rng tensor gives what seed/offset give."""
    g, sizes = global_scores(), SIZES[ranks]
    out = {}
    for mode in ("global", "stratified"):
        first = draws(rank, ranks, mode, g, sizes, 8, 3, group=group, weighting="biased")
        again = draws(rank, ranks, mode, g, sizes, 8, 3, group=group, weighting="biased")
        s, off = shard(g, rank, sizes)
        rng = cuis.rng_state(11, 0, device=torch.device("cpu"))
        by_rng = []
        for _ in range(3):
            idx, w = cd.sample_sharded(s, 8, shard_offset=off, num_samples=N, mode=mode, weighting="biased", rng=rng,
                                       group=group)
            by_rng.append((idx.numpy().copy(), w.numpy().copy()))
        out[mode] = (first, again, by_rng, rng.tolist())
    return out


def sc_faults(rank, ranks, group):
    """Every fault once; each result as caught() gives it, then a normal call (the ranks stay in step)."""
    g, sizes = scores(), SIZES[ranks]
    s, off = shard(g, rank, sizes)
    last = ranks - 1

    def call(x=None, **kw):
        args = dict(shard_offset=off, num_samples=N, seed=3, offset=0, group=group)
        args.update(kw)
        return lambda: cd.sample_sharded(s if x is None else x, 8, **args)[0].numpy()

    def with_value(r, pos, value):
        x = s.clone()
        if rank == r:
            x[pos] = value
        return x

    out = {
        "nan_last": caught(call(with_value(last, 1, float("nan")))),
        "inf_first": caught(call(with_value(0, 0, float("inf")), weighting="biased")),
        "negative_first_global": caught(call(with_value(0, 2, -1.0), mode="global")),
        "all_zero": caught(call(torch.zeros_like(s))),
        "seed_last": caught(call(seed=3 + (rank == last))),
        "k_last": caught(call(weighting="biased", k=0.25 if rank == last else 0.5)),
        "weighting_last": caught(call(weighting="unbiased" if rank == last else "biased")),
        "num_samples_last": caught(call(num_samples=N + (rank == last))),
        "sizes": caught(call(num_samples=N + 1)),
        "mean_loss_last": caught(call(adaptive_smooth=1.0, mean_loss=2.0 + (rank == last))),
        "dtype_last": caught(call(s.double() if rank == last else s, weighting="biased")),
        "foreign_last": caught(call(mode=["global"] if rank == last else "stratified")),  # a TypeError there
        "capacity": caught(call(mode="global", capacity=1)),
    }
    out["recovered"] = caught(call(weighting="biased"))
    if ranks > 1:
        e, e_off = shard(scores(), rank, EMPTY_SIZES[ranks])
        for mode in ("stratified", "global"):
            idx, w, count, _ = cd.sample_sharded(e, 8, shard_offset=e_off, num_samples=N, mode=mode, seed=3,
                                                 return_status=True, group=group)
            out[f"empty_{mode}"] = (idx.numpy(), w.numpy(), int(count.item()))
    return out


# ------------------------------------------------------------------ the samplers


def _run_sampler(sampler, steps, record=None):
    for _ in range(steps):
        idx, w = sampler.sample()
        if record is not None:
            record.append((idx.cpu().numpy().copy(), w.cpu().numpy().copy(), int(sampler.last_count.item())))
        sampler.update(idx, (idx.clamp(min=0) % 7 + 1).float() * (idx >= 0))


def sc_sampler(rank, ranks, group, shared):
    """DistributedImportanceSampler: resume from state_dict (both modes), the global mean loss,
    options that disagree, and a state saved with R - 1 ranks refused."""
    out = {}
    for mode in ("stratified", "global"):
        make = lambda: cd.DistributedImportanceSampler(45, 4, k=0.5, seed=3, mode=mode, warmup=2,  # noqa: E731
                                                       adaptive_smooth=0.1, group=group)
        a = make()
        _run_sampler(a, 6)
        buf = io.BytesIO()
        torch.save(a.state_dict(), buf)
        if mode == "stratified":
            torch.save(a.state_dict(), os.path.join(shared, f"state-R{ranks}-rank{rank}.pt"))
        rest, again = [], []
        _run_sampler(a, 5, rest)
        b = make()
        buf.seek(0)
        b.load_state_dict(torch.load(buf))
        _run_sampler(b, 5, again)
        n = a.shard_size
        valid = a.seen[:n] & torch.isfinite(a.loss[:n])
        out[f"resume_{mode}"] = (rest, again, a.mean_loss().item(), float(a.loss[:n][valid].double().sum()),
                                 int(valid.sum()), a.shard_indices.tolist())
    out["disagree"] = caught(lambda: cd.DistributedImportanceSampler(45, 4, k=0.25 if rank == ranks - 1 else 0.5,
                                                                     group=group).num_samples)
    previous = os.path.join(shared, f"state-R{ranks - 1}-rank{min(rank, ranks - 2)}.pt")
    if ranks > 1 and os.path.exists(previous):
        c = cd.DistributedImportanceSampler(45, 4, k=0.5, seed=3, warmup=2, adaptive_smooth=0.1, group=group)
        out["other_ranks"] = caught(lambda: c.load_state_dict(torch.load(previous)))
    return out


def sc_batch_sampler(rank, ranks, group):
    """DistributedImportanceBatchSampler in a DataLoader: this rank's strided shard, b per batch,
    weights paired with the batch, the same len on every rank; drop_last; set_epoch."""
    from torch.utils.data import DataLoader, TensorDataset

    ds = TensorDataset(torch.arange(37))
    out = {}
    for drop_last in (False, True):
        # k = 1 (unbiased) over shards of 19 and 18; k = 0.5 (biased, rescaled) over equal shards
        bs = cd.DistributedImportanceBatchSampler(ds, 3, seed=2, warmup=1, drop_last=drop_last,
                                                  k=0.5 if drop_last else 1.0, group=group)
        bs.set_epoch(1)
        batches = []
        for (x,) in DataLoader(ds, batch_sampler=bs):
            assert torch.equal(x, bs.indices)
            batches.append((x.numpy().copy(), bs.weights.numpy().copy()))
            bs.update(x.float() + 1.0, indices=x)
        out[drop_last] = (len(bs), batches, bs.state_dict()["epoch"])
    return out


def sc_gpu(rank, ranks):
    """NCCL, one GPU per rank, against the CPU path on a gloo group beside it: the same
    draws bit for bit (both modes, every weighting, smoothing with a device mean loss, an
    rng tensor and shard_indices on the device); a NaN score with and without check; the
    sampler on both."""
    import torch.distributed as dist

    cpu = dist.new_group(backend="gloo")
    dev = torch.device("cuda", rank)
    s, off = shard(scores(), rank, SIZES[ranks])
    ids = torch.arange(off, off + len(s), dtype=torch.int64)
    opts = dict(k=0.5, smooth=0.1, adaptive_smooth=0.2, power=0.7)
    rows = []
    for mode in ("stratified", "global"):
        for weighting in ("none", "unbiased", "biased"):
            c = cd.sample_sharded(s, 16, shard_indices=ids, num_samples=N, mode=mode, weighting=weighting, seed=5,
                                  offset=9, mean_loss=1.25, group=cpu, return_status=True, **opts)
            rng = cuis.rng_state(5, 9, device=dev)
            g = cd.sample_sharded(s.to(dev).half() if weighting == "none" else s.to(dev), 16,
                                  shard_indices=ids.to(dev), num_samples=N, mode=mode, weighting=weighting, rng=rng,
                                  mean_loss=torch.tensor([1.25], device=dev), check=True, return_status=True, **opts)
            if weighting == "none":  # float16 scores: compare with the CPU path on the same widened values
                c = cd.sample_sharded(s.half(), 16, shard_indices=ids, num_samples=N, mode=mode, weighting=weighting,
                                      seed=5, offset=9, mean_loss=1.25, group=cpu, return_status=True, **opts)
            rows.append((mode, weighting, [t.cpu().numpy() for t in c[:3]], [t.cpu().numpy() for t in g[:3]],
                         tuple(g[3].read()), rng.cpu().tolist()))
    bad = s.to(dev).clone()
    if rank == ranks - 1:
        bad[0] = float("nan")
    checked = caught(lambda: cd.sample_sharded(bad, 8, shard_offset=off, num_samples=N, weighting="biased",
                                               check=True)[0].cpu())
    idx, w, count, st = cd.sample_sharded(bad, 8, shard_offset=off, num_samples=N, weighting="biased",
                                          return_status=True)
    unchecked = (tuple(st.read()), idx.cpu().numpy(), w.cpu().numpy(), int(count.item()), caught(st.check))
    runs = []
    for device, group in ((dev, None), ("cpu", cpu)):
        sampler = cd.DistributedImportanceSampler(45, 4, seed=3, mode="global", warmup=1, device=device, group=group)
        record = []
        _run_sampler(sampler, 5, record)
        runs.append(record)
    return rows, checked, unchecked, runs


SCENARIOS = {
    "global": sc_global,
    "stratified": sc_stratified,
    "strided": sc_strided,
    "r1_equals_sample": sc_r1_equals_sample,
    "same_seed": sc_same_seed,
    "faults": sc_faults,
    "sampler": sc_sampler,
    "batch_sampler": sc_batch_sampler,
}


def run_all(rank: int, ranks: int, shared: str, group: Any = None) -> Dict[str, Any]:
    """Every scenario in order on the R ranks of `group`; one that raises is reported as
    ("failed", traceback)."""
    out: Dict[str, Any] = {}
    for name, fn in SCENARIOS.items():
        try:
            out[name] = fn(rank, ranks, group, shared) if name == "sampler" else fn(rank, ranks, group)
        except Exception:  # noqa: BLE001 - reported to the test
            out[name] = ("failed", traceback.format_exc())
    return out


def run_nested(rank: int, world: int, shared: str, sizes=(1, 2, 3, 4)) -> Dict[int, Any]:
    """run_all on the groups of the first R processes, for each R of `sizes` in order (one
    spawn of `world` processes instead of one per R; R = world uses the default group, the
    others `group=`); {R: this process's results, or None outside that group}."""
    import torch.distributed as dist

    groups = {r: None if r == world else dist.new_group(list(range(r))) for r in sizes}  # every process, in order
    return {r: run_all(rank, r, shared, groups[r]) if rank < r else None for r in sizes}
