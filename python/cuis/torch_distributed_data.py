"""`DistributedImportanceBatchSampler`: importance sampling for a DataLoader
under DDP, where `torch.utils.data.DistributedSampler` would go.

    # before: DataLoader(ds, batch_size=b, sampler=DistributedSampler(ds, drop_last=False))
    bs = cuis.torch.distributed.DistributedImportanceBatchSampler(ds, b, k=0.5, device=device, warmup=100)
    loader = DataLoader(ds, batch_sampler=bs, num_workers=4)
    for epoch in range(epochs):
        bs.set_epoch(epoch)                             # accepted, as DistributedSampler's
        for x, y in loader:
            losses = F.cross_entropy(ddp_model(x.to(device)), y.to(device), reduction="none")
            ((bs.weights * losses).sum() / b).backward()   # this batch's weights; / b: DDP averages ranks
            bs.update(losses)                           # this batch's per-sample losses

It is a batch sampler (`batch_sampler=`, not `sampler=`) because each batch
comes with its own weights: it is `cuis.torch.ImportanceBatchSampler` (the same
pairing of weights and loss feedback with the delivered batch through a FIFO,
the same prefetching and checkpoint rules) over a `DistributedImportanceSampler`
in stratified mode, so that every rank's batch has exactly b samples. Each
batch draw is a collective: the DataLoader draws in the main process, and every
rank must iterate its loader the same number of times (`len()` is the same on
every rank, as DistributedSampler's is).

Shards: DistributedSampler's strided split, rank r holding r, r + R, r + 2R...
With drop_last=False the shards cover all N samples and differ in size by at
most one (DistributedSampler would instead repeat samples to even them out,
which here would double their probability; the stratified weights R W_r / (N t_i)
account for the sizes exactly). With drop_last=True the last N mod R samples
are left out, as DistributedSampler does, and N is the rest.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Optional

from . import torch as _cuis_torch  # noqa: F401  (cuis.torch first: it imports torch_data)
from ._errors import ErrorCode, _make_error
from .torch_data import ImportanceBatchSampler
from .torch_distributed import _group_shape
from .torch_distributed_sampler import DistributedImportanceSampler

__all__ = ["DistributedImportanceBatchSampler"]


def _usage_error(message: str):
    return _make_error(int(ErrorCode.invalid_argument), message)


class DistributedImportanceBatchSampler(ImportanceBatchSampler):
    """Yields this rank's batches of b dataset indices (lists of ints), drawn by a
    `DistributedImportanceSampler` (stratified); use it as a DataLoader's `batch_sampler=`.

    Args:
        dataset: the dataset (its `len()`) or N itself.
        batch_size: b, this rank's batch.
        num_replicas, rank: as DistributedSampler's; they must match `group` (default:
            taken from it).
        shuffle: accepted for DistributedSampler's signature; draws are random anyway.
        seed: the generator seed, the same on every rank.
        drop_last: leave out the last N mod R samples (see the module's docstring).
        k, device, warmup, smooth, adaptive_smooth, power: as `DistributedImportanceSampler`'s.
        group: the process group (None: the default one).
        num_batches: batches per pass (`len()`); default ceil(N / (R b)), one epoch's
            worth of global draws.

    `weights` / `indices`: the batch the loop holds (the oldest drawn and not yet
    reported); `update(losses)` reports its per-sample losses; `pending`, `state_dict`,
    `load_state_dict` as in `ImportanceBatchSampler` (the state also records the epoch).
    The draws themselves do not depend on the epoch: the generator's offset advances
    every step, so every epoch's batches differ and a restored state resumes exactly.
    """

    def __init__(self, dataset: Any, batch_size: int, *, num_replicas: Optional[int] = None,
                 rank: Optional[int] = None, shuffle: bool = True, seed: int = 0, drop_last: bool = False,
                 k: float = 0.5, device: Any = "cpu", warmup: int = 0, smooth: float = 0.0,
                 adaptive_smooth: float = 0.0, power: float = 0.5, group: Any = None,
                 num_batches: Optional[int] = None):
        me, ranks = _group_shape(group)
        if num_replicas is not None and int(num_replicas) != ranks:
            raise _usage_error(f"num_replicas {num_replicas} is not the group's size {ranks}")
        if rank is not None and int(rank) != me:
            raise _usage_error(f"rank {rank} is not this process's rank {me} in the group")
        total = dataset if isinstance(dataset, int) else len(dataset)
        used = ranks * (total // ranks) if drop_last else total
        if used < ranks:
            raise _usage_error(f"{used} samples for {ranks} ranks: every rank needs at least one sample")
        self.shuffle, self.drop_last, self.epoch = bool(shuffle), bool(drop_last), 0
        sampler = DistributedImportanceSampler(used, batch_size, k, device, seed, mode="stratified", shard="strided",
                                               smooth=smooth, adaptive_smooth=adaptive_smooth, power=power,
                                               warmup=warmup, group=group)
        if num_batches is None:
            num_batches = math.ceil(used / (ranks * sampler.batch_size))
        self._setup(sampler, num_batches)

    def set_epoch(self, epoch: int) -> None:
        """Records the epoch, as `DistributedSampler.set_epoch`; the draws do not depend on it."""
        self.epoch = int(epoch)

    def state_dict(self) -> Dict[str, Any]:
        """`ImportanceBatchSampler.state_dict` of this rank, with the epoch."""
        state = super().state_dict()
        state["epoch"] = self.epoch
        return state

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restores `state_dict()` (saved by this rank, with the same number of ranks)."""
        super().load_state_dict(state)
        self.epoch = int(state.get("epoch", 0))
