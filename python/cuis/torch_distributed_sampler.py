"""`DistributedImportanceSampler`: `cuis.torch.ImportanceSampler` for data
parallelism (DDP), each rank keeping the loss table of its own shard only and
drawing with `cuis.torch.distributed.sample_sharded`.

    import cuis.torch.distributed as cd
    sampler = cd.DistributedImportanceSampler(len(train), batch_size=64, k=0.5, device=device, seed=0)
    for step in range(steps):
        idx, w = sampler.sample()                    # global indices; a collective: every rank calls it
        safe = idx.clamp(min=0)                      # global mode pads with -1 (weight 0)
        losses = F.cross_entropy(ddp_model(x[safe]), y[safe], reduction="none")
        ((w * losses).sum() / sampler.batch_size).backward()   # / b: DDP averages over ranks
        sampler.update(idx, losses)                  # this rank's draws only; padding ignored

Per step the ranks exchange: one all-reduce of (sum, count) of the observed
finite losses (16 bytes: the global mean loss, which scores unseen samples and
drives adaptive smoothing), one all-gather of the R 80-byte records, and for
biased weights (k != 1) one all-gather of the R 16-byte terms. Nothing waits
for the host on CUDA. The constructor checks once, with one all-gather, that
every rank passed the same options (else `cuis.ShardError` on every rank).
"""

from __future__ import annotations

import struct
from typing import Any, Dict, List, Optional, Tuple

import torch
import torch.distributed as dist
from torch import Tensor

from . import _cuis
from . import _rng
from ._errors import ErrorCode, _make_error
from .torch_distributed import _MODES, _group_shape, _signed, sample_sharded

__all__ = ["DistributedImportanceSampler"]

_SHARDS = ("strided", "contiguous")
_MISSING = -(1 << 63)  # an option that is not a number, in the agreement check


def _shard_error(message: str):
    return _make_error(int(ErrorCode.shard_mismatch), message)


def _bits(x: Any) -> int:
    """An option as an int64 for the agreement check: ints as they are, floats as their bits."""
    try:
        if isinstance(x, bool) or not isinstance(x, (int, float)):
            return _MISSING
        if isinstance(x, int):
            return _signed(x)
        return struct.unpack("<q", struct.pack("<d", float(x)))[0]
    except (OverflowError, struct.error):
        return _MISSING


def _agree(named: List[Tuple[str, Any]], device: torch.device, group: Any) -> None:
    """One all-gather of every rank's options; raises cuis.ShardError on every rank
    alike, naming the first option a rank disagrees on."""
    mine = torch.tensor([_bits(v) for _, v in named], dtype=torch.int64, device=device)
    rank, ranks = _group_shape(group)
    every = torch.empty(ranks * len(named), dtype=torch.int64, device=device)
    dist.all_gather_into_tensor(every, mine, group=group)
    table = every.reshape(ranks, len(named)).cpu()
    for r in range(1, ranks):
        for j, (name, _) in enumerate(named):
            if table[r, j] != table[0, j]:
                raise _shard_error(f"DistributedImportanceSampler: rank {r} passed another {name} than rank 0; "
                                   "every rank must pass the same options")


class DistributedImportanceSampler:
    """Draws training batches across data-parallel ranks in proportion to each
    sample's last observed loss; each rank keeps the losses of its own shard.

    `sample()` returns this rank's `(indices, weights)`: global sample indices
    and importance weights ((1 / (N p_i))^k rescaled over the global batch; k = 1:
    unbiased), drawn by `sample_sharded` in `mode` "stratified" (b draws from this
    rank's shard, weight R W_r / (N t_i)) or "global" (the R b draws from the one
    distribution over all N samples; this rank gets those landing in its shard,
    padded to the capacity with index -1 and weight 0; `last_count` holds the
    count). Divide each rank's sum of weight * loss by `batch_size` (DDP averages
    the ranks' gradients). `update(indices, losses)` records this rank's observed
    losses (global indices of its own shard; -1 padding ignored).

    A collective: every rank of `group` constructs it with the same arguments and
    calls `sample()` (and `mean_loss()`) the same number of times, in the same order.

    Unseen samples are scored with the global mean of the losses observed so far
    (1 before any), as in `ImportanceSampler`. Warm-up steps draw uniformly through
    the same collectives (weight R n_r / N in stratified mode, 1 in global mode).

    Args:
        num_samples: N, the dataset size.
        batch_size: b, the draws per rank and step (the global batch is R b).
        k: the weight exponent, <= 1.
        device: this rank's device ("cpu" with gloo; "cuda:LOCAL_RANK" with NCCL).
        seed: the generator seed, the same on every rank.
        mode: "stratified" (default) or "global".
        shard: "strided" (rank r holds r, r + R, r + 2R...: DistributedSampler's
            split, the default) or "contiguous" (rank r holds [r N / R, (r + 1) N / R)).
        smooth, adaptive_smooth, power: as for `ImportanceSampler`; the mean loss of
            adaptive smoothing is global (an all-reduced sum and count).
        warmup: the first `warmup` calls draw uniformly.
        capacity: global mode: output slots per rank (default R b).
        group: the process group (None: the default one).
    """

    def __init__(self, num_samples: int, batch_size: int, k: float = 0.5, device: Any = "cpu", seed: int = 0, *,
                 mode: str = "stratified", shard: str = "strided", smooth: float = 0.0, adaptive_smooth: float = 0.0,
                 power: float = 0.5, warmup: int = 0, capacity: Optional[int] = None, group: Any = None):
        self.group = group
        self.rank, self.ranks = _group_shape(group)
        self.device = torch.device(device)
        _agree([("num_samples", num_samples), ("batch_size", batch_size), ("k", k), ("seed", seed),
                ("mode", _MODES.get(mode, _MISSING)), ("shard", _SHARDS.index(shard) if shard in _SHARDS else -1),
                ("smooth", smooth), ("adaptive_smooth", adaptive_smooth), ("power", power), ("warmup", warmup),
                ("capacity", 0 if capacity is None else capacity)], self.device, group)
        if mode not in _MODES or shard not in _SHARDS:
            raise _make_error(int(ErrorCode.invalid_argument), f"mode must be one of {tuple(_MODES)} and shard one "
                              f"of {_SHARDS}; got {mode!r}, {shard!r}")
        self.num_samples, self.batch_size = int(num_samples), int(batch_size)
        self.k, self.smooth, self.adaptive_smooth = float(k), float(smooth), float(adaptive_smooth)
        self.power, self.warmup, self.mode, self.shard = float(power), int(warmup), mode, shard
        self.capacity = None if capacity is None else int(capacity)
        if self.warmup < 0:
            raise _make_error(int(ErrorCode.invalid_argument), f"warmup {warmup} is negative")
        self.weighting = "unbiased" if self.k == 1.0 else "biased"
        R, r, N = self.ranks, self.rank, self.num_samples
        if shard == "strided":
            self.shard_size = max(0, (N - r + R - 1) // R)
            self.shard_offset = None
            self.shard_indices: Optional[Tensor] = torch.arange(r, N, R, dtype=torch.int64, device=self.device)
        else:
            start, end = r * N // R, (r + 1) * N // R
            self.shard_size, self.shard_offset, self.shard_indices = end - start, start, None
        info = (_MODES[mode], r, R, N, self.capacity or 0)
        w = 1 if self.weighting == "unbiased" else 2
        _cuis.check_shard_args(info, self.shard_size, self.batch_size, w, self.k, self.smooth, self.adaptive_smooth,
                               self.power)
        n = self.shard_size
        self.loss = torch.zeros(n + 1, dtype=torch.float32, device=self.device)  # slot n: padding (-1) lands there
        self.seen = torch.zeros(n + 1, dtype=torch.bool, device=self.device)
        self.rng = _rng.rng_state(seed, 0, device=self.device)
        self.steps = 0
        self.last_status = None
        self.last_count: Optional[Tensor] = None

    # -- scores
    def mean_loss(self) -> Tensor:
        """The mean of the finite losses observed on every rank, a 1-element float32 tensor
        on this rank's device (1.0 before any update): a collective (one all-reduce)."""
        n = self.shard_size
        valid = self.seen[:n] & torch.isfinite(self.loss[:n])
        total = torch.where(valid, self.loss[:n], torch.zeros_like(self.loss[:n])).double().sum()
        sums = torch.stack([total, valid.sum().double()])
        dist.all_reduce(sums, group=self.group)
        mean = torch.where(sums[1] > 0, sums[0] / sums[1].clamp(min=1), torch.ones_like(sums[0]))
        return mean.float().reshape(1)

    def scores(self, mean: Optional[Tensor] = None) -> Tensor:
        """This shard's scores: the last observed loss, the global mean for unseen samples
        (`mean`, else `mean_loss()`: a collective)."""
        n = self.shard_size
        return torch.where(self.seen[:n], self.loss[:n], self.mean_loss() if mean is None else mean)

    # -- drawing
    def sample(self) -> Tuple[Tensor, Tensor]:
        """This rank's `(indices, weights)` (global indices, int64; float32 weights), b of
        them in stratified mode, the capacity in global mode (-1 / 0 padding; the count in
        `last_count`). A collective. Score errors go to `last_status` (`check()`); on the
        CPU they raise at once, on every rank."""
        step = self.steps
        self.steps += 1
        mean = self.mean_loss()
        if step < self.warmup:
            scores = torch.ones(self.shard_size, dtype=torch.float32, device=self.device)
        else:
            scores = self.scores(mean)
        idx, w, count, status = sample_sharded(
            scores, self.batch_size, shard_offset=self.shard_offset, shard_indices=self.shard_indices,
            num_samples=self.num_samples, mode=self.mode, weighting=self.weighting, k=self.k, smooth=self.smooth,
            adaptive_smooth=self.adaptive_smooth, mean_loss=mean if self.adaptive_smooth else 0.0, power=self.power,
            rng=self.rng, capacity=self.capacity, group=self.group, return_status=True)
        self.last_status, self.last_count = status, count
        return idx, w

    def _local(self, idx: Tensor) -> Tensor:
        """Global indices of this shard -> positions in the table (-1 -> the padding slot)."""
        pos = (idx - self.rank).div(self.ranks, rounding_mode="floor") if self.shard == "strided" \
            else idx - self.shard_offset
        return torch.where(idx >= 0, pos, torch.full_like(idx, self.shard_size))

    def update(self, idx: Tensor, losses: Tensor) -> None:
        """Record the observed `losses` (detached, as float32) of this rank's draws `idx`
        (global indices of this shard, as `sample()` returned them; -1 padding is ignored)."""
        idx = idx.to(device=self.device, dtype=torch.int64).reshape(-1)
        losses = losses.detach().to(device=self.device, dtype=torch.float32).reshape(-1)
        if idx.shape != losses.shape:
            raise _make_error(int(ErrorCode.shape_mismatch),
                              f"update: {idx.numel()} indices but {losses.numel()} losses")
        pos = self._local(idx)
        self.loss.index_put_((pos,), losses)
        self.seen.index_put_((pos,), torch.ones_like(pos, dtype=torch.bool))

    def check(self) -> None:
        """Raises the error of the last `sample()` (waits for a CUDA device); every rank
        holds the same status."""
        if self.last_status is not None:
            self.last_status.check()

    # -- checkpoints
    def state_dict(self) -> Dict[str, Any]:
        """This rank's state: its shard's table and seen mask, the RNG state, the step
        count, the rank layout and the options. Save one per rank (e.g. `sampler-{rank}.pt`)."""
        n = self.shard_size
        return {
            "loss": self.loss[:n].clone(), "seen": self.seen[:n].clone(), "rng": self.rng.clone(),
            "steps": self.steps, "rank": self.rank, "ranks": self.ranks, "num_samples": self.num_samples,
            "batch_size": self.batch_size, "mode": self.mode, "shard": self.shard, "k": self.k,
            "smooth": self.smooth, "adaptive_smooth": self.adaptive_smooth, "power": self.power,
            "warmup": self.warmup, "capacity": self.capacity,
        }

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restores this rank's `state_dict()` (the same draws follow as without the
        interruption). Refuses a state saved with another number of ranks (cuis.ShardError:
        the shards would differ), of another rank, dataset size or shard layout."""
        if int(state["ranks"]) != self.ranks:
            raise _shard_error(f"DistributedImportanceSampler.load_state_dict: the state was saved with "
                               f"{state['ranks']} ranks, this run has {self.ranks}; each rank's table holds its own "
                               "shard, so resume with the same number of ranks")
        if int(state["rank"]) != self.rank:
            raise _shard_error(f"DistributedImportanceSampler.load_state_dict: this is the state of rank "
                               f"{state['rank']}, loaded on rank {self.rank}")
        if int(state["num_samples"]) != self.num_samples or state["shard"] != self.shard:
            raise _make_error(int(ErrorCode.shape_mismatch),
                              f"state has {state['num_samples']} samples in {state['shard']} shards, this sampler "
                              f"{self.num_samples} in {self.shard} shards")
        n = self.shard_size
        self.loss[:n].copy_(state["loss"])
        self.seen[:n].copy_(state["seen"])
        self.rng.copy_(state["rng"])
        self.steps = int(state["steps"])
        self.batch_size, self.warmup, self.mode = int(state["batch_size"]), int(state["warmup"]), state["mode"]
        for key in ("k", "smooth", "adaptive_smooth", "power"):
            setattr(self, key, float(state[key]))
        self.capacity = None if state["capacity"] is None else int(state["capacity"])
        self.weighting = "unbiased" if self.k == 1.0 else "biased"

