"""`ImportanceBatchSampler`: `cuis.torch.ImportanceSampler` as the `batch_sampler=` of a
`torch.utils.data.DataLoader`, for datasets that are read sample by sample.

    from torch.utils.data import DataLoader
    import cuis.torch as ct
    bs = ct.ImportanceBatchSampler(ct.ImportanceSampler(len(ds), 128, k=0.5, device="cuda", warmup=100))
    loader = DataLoader(ds, batch_sampler=bs, num_workers=4)
    for x, y in loader:
        w = bs.weights                                  # this batch's weights, on the sampler's device
        losses = F.cross_entropy(model(x.cuda()), y.cuda(), reduction="none")
        (w * losses).mean().backward()
        bs.update(losses)                               # this batch's per-sample losses

Order of events. The DataLoader asks the batch sampler for indices before it
loads a batch. With `num_workers=0` it asks for batch i+1 only when the loop
asks for it, after `update` of batch i: every draw sees every loss reported so
far. With workers it draws `prefetch_factor * num_workers` batches ahead (at the
start of each pass, then one per batch delivered): batch i+P is drawn from the
losses of batches up to i, P batches stale. Its weights are still those of the
distribution it was drawn from, so the weighted loss keeps its meaning; only the
scores' freshness lags. To keep each batch with its own weights, the adapter
keeps the drawn batches not yet reported in a FIFO: `weights` and `indices` are
those of the oldest (the batch the loop holds, since the DataLoader delivers
batches in the order drawn), and `update(losses)` reports that batch and drops
it. So call `update` once per batch, in order. `in_order=False` would break the
pairing and is refused; so is `sampler=` (which would wrap this in a second
BatchSampler). A new pass (`iter(loader)`) drops the batches the last pass drew
and never delivered.

Cost: the DataLoader needs Python ints, so each batch's indices are copied to
the host (`tolist()`, B * 8 bytes): on CUDA that waits for the sampler's stream
(a host sync per batch, which `ImportanceSampler.sample()` alone avoids). The
weights and the loss table stay on the device. For data already in memory as
tensors, index them directly with `ImportanceSampler.sample()` instead.
"""

from __future__ import annotations

import collections
import math
import sys
from typing import Any, Deque, Dict, Iterator, List, Optional, Tuple

import torch
from torch import Tensor
from torch.utils.data import BatchSampler, Sampler

from ._errors import ErrorCode, _make_error
from .torch import ImportanceSampler

__all__ = ["ImportanceBatchSampler"]


def _usage_error(message: str):
    return _make_error(int(ErrorCode.invalid_argument), message)


class ImportanceBatchSampler(Sampler[List[int]]):
    """Yields batches of indices (lists of ints) drawn by an `ImportanceSampler`;
    use it as a DataLoader's `batch_sampler=`.

    Args:
        sampler: the `cuis.torch.ImportanceSampler` (its batch size, k, warm-up, device).
        num_batches: batches per pass over the loader (`len()`); default
            ceil(num_samples / batch_size), one epoch's worth of draws.

    `weights` / `indices`: the oldest batch drawn and not yet reported (the
    batch the training loop holds). `update(losses)` reports its per-sample
    losses. `pending`: how many batches are drawn and not yet reported (more
    than 1 while workers prefetch).
    """

    def __init__(self, sampler: ImportanceSampler, num_batches: Optional[int] = None):
        if not isinstance(sampler, ImportanceSampler):
            raise _usage_error(f"ImportanceBatchSampler needs a cuis.torch.ImportanceSampler, got {type(sampler)}")
        if num_batches is None:
            num_batches = math.ceil(sampler.num_samples / sampler.batch_size)
        self._setup(sampler, num_batches)

    def _setup(self, sampler: Any, num_batches: int) -> None:
        """The state of a pass; `sampler` has ImportanceSampler's sample / update / rng /
        steps / state_dict (also cuis.torch.distributed.DistributedImportanceSampler)."""
        super().__init__()
        self.sampler = sampler
        if int(num_batches) < 1:
            raise _usage_error(f"num_batches {num_batches} must be positive")
        self.num_batches = int(num_batches)
        # drawn, not reported: (indices on the device, weights, rng before the draw, steps before the draw)
        self._pending: Deque[Tuple[Tensor, Tensor, Tensor, int]] = collections.deque()
        self._reported = 0  # batches reported in the current pass
        self._resume = 0  # batches of the current pass done before a load_state_dict

    def __len__(self) -> int:
        return self.num_batches

    def __iter__(self) -> Iterator[List[int]]:
        _check_caller()
        self._pending.clear()  # drawn by a previous pass and never delivered
        start, self._resume = self._resume, 0
        self._reported = start
        for _ in range(start, self.num_batches):
            rng, steps = self.sampler.rng.clone(), self.sampler.steps
            idx, w = self.sampler.sample()
            self._pending.append((idx, w, rng, steps))
            yield idx.tolist()  # the host copy the DataLoader needs

    # -- the batch the loop holds
    def _head(self, what: str):
        if not self._pending:
            raise _usage_error(f"ImportanceBatchSampler.{what}: no batch drawn and not yet reported (iterate the "
                               "DataLoader first, and call update() once per batch)")
        return self._pending[0]

    @property
    def weights(self) -> Tensor:
        """The importance weights (float32, on the sampler's device) of the batch the loop holds."""
        return self._head("weights")[1]

    @property
    def indices(self) -> Tensor:
        """The indices (int64, on the sampler's device) of the batch the loop holds."""
        return self._head("indices")[0]

    @property
    def pending(self) -> int:
        return len(self._pending)

    def update(self, losses: Tensor, indices: Optional[Tensor] = None) -> None:
        """Reports the per-sample `losses` (B values, any device; detached) of the batch the
        loop holds, and moves on to the next. `indices`, if given (e.g. returned by the
        dataset), must equal that batch's indices (checked: a host sync on CUDA)."""
        idx, _, _, _ = self._head("update")
        if losses.numel() != idx.numel():
            raise _make_error(int(ErrorCode.shape_mismatch),
                              f"ImportanceBatchSampler.update: the batch has {idx.numel()} samples but "
                              f"{losses.numel()} losses came back")
        if indices is not None and not torch.equal(indices.to(device=idx.device, dtype=torch.int64).reshape(-1), idx):
            raise _usage_error("ImportanceBatchSampler.update: these indices are not those of the oldest batch "
                               "not yet reported (batches must be reported once each, in the order delivered)")
        self.sampler.update(idx, losses)
        self._pending.popleft()
        self._reported += 1

    # -- checkpoints
    def state_dict(self) -> Dict[str, Any]:
        """The sampler's state as it was before the first batch not yet reported was
        drawn (batches prefetched and not trained on are drawn again after a restore),
        and the position in the current pass."""
        state = self.sampler.state_dict()
        if self._pending:
            _, _, rng, steps = self._pending[0]
            state["rng"], state["steps"] = rng.clone(), steps
        state["num_batches"] = self.num_batches
        state["position"] = self._reported if self._reported < self.num_batches else 0
        return state

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restores `state_dict()`; the next pass yields the rest of the interrupted one."""
        self.sampler.load_state_dict(state)
        self.num_batches = int(state["num_batches"])
        self._pending.clear()
        self._resume = self._reported = int(state["position"])


def _check_caller() -> None:
    """Refuses the misuses a DataLoader cannot report: this used as `sampler=` (wrapped in
    a BatchSampler, every item would be a whole batch) and `in_order=False` (batches
    delivered out of the order drawn, so weights and losses would pair with the wrong batch)."""
    frame = sys._getframe(2)  # the caller of next() on this generator
    for _ in range(4):
        if frame is None:
            return
        owner = frame.f_locals.get("self")
        if isinstance(owner, BatchSampler):
            raise _usage_error("ImportanceBatchSampler yields whole batches: pass it as DataLoader(batch_sampler=...), "
                               "not sampler=")
        if getattr(owner, "_in_order", True) is False:
            raise _usage_error("ImportanceBatchSampler needs the DataLoader's in_order=True (the default): the "
                               "weights and losses are paired with batches in the order drawn")
        frame = frame.f_back
