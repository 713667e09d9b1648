"""PyTorch integration: the cuis functions as PyTorch ops (registered in C++, or
in Python where that library is not there; with fake implementations, so that
FakeTensor tracing and
`torch.compile(fullgraph=True)` see through them) and `ImportanceSampler`, a
per-dataset loss table that draws training batches by loss.

    import cuis.torch as ct
    sampler = ct.ImportanceSampler(len(dataset), batch_size=128, k=0.5, device="cuda", seed=0)
    for step in range(steps):
        idx, w = sampler.sample()                      # on the device, no host sync
        loss = (w * per_sample_loss(model, x[idx], y[idx])).mean()
        sampler.update(idx, per_sample_loss_values)    # detached; last loss of each sample kept

Data parallelism (torch.distributed, DDP): `cuis.torch.distributed` (`sample_sharded`,
`DistributedImportanceSampler`, `DistributedImportanceBatchSampler`).

The ops (namespace `cuis`):
  torch.ops.cuis.sample(scores, num_draws, replacement, weighting, k, smooth, adaptive_smooth,
                        mean_loss, power, candidate_ids, seed, offset) -> (indices, weights, status)
  torch.ops.cuis.sample_rng(scores, num_draws, replacement, weighting, k, smooth, adaptive_smooth,
                            mean_loss, power, candidate_ids, rng, mean_loss_tensor, advance_rng)
                            -> (indices, weights, status)          # mutates rng
  torch.ops.cuis.uniform_indices(count, n, seed, offset, device) -> indices
  torch.ops.cuis.uniform_indices_rng(rng, count, n, advance_rng) -> indices   # mutates rng
  torch.ops.cuis.cross_entropy_scores(logits, labels) -> (loss, grad_norm, status)
seed and offset travel as int64 (the uint64 bits); status is the uint8[32]
`cuis::DeviceStatus` of a CUDA call (a success status for a CPU call, which
raises at once instead). The ops are registered in C++ (`OPS_BACKEND == "cpp"`,
libcuis_torch.so: no Python in a call) or, where that library is not there or
does not load, in Python (`torch.library.custom_op`); see cuis/_torch_ops.py.
Prefer the Python wrappers below: they raise the cuis exceptions, where a
C++ op called directly raises a RuntimeError whose message starts with
"[cuis:CODE:...]".
"""

from __future__ import annotations

import sys
from typing import Any, Dict, Optional, Tuple

import torch
from torch import Tensor

from . import _cuis
from . import _results
from . import _rng
from . import _torch_ops as _ops
from ._errors import ErrorCode, _make_error

__all__ = [
    "sample",
    "uniform_indices",
    "cross_entropy_scores",
    "check_status",
    "ImportanceSampler",
    "ImportanceBatchSampler",
    "PresampledImportanceSampler",
]

_U64 = _ops.U64
_WEIGHTING = _ops.WEIGHTING
_to_signed = _ops.to_signed
#: Where torch.ops.cuis.* are registered: "cpp" (libcuis_torch.so, no Python in a
#: call) or "python" (torch.library.custom_op); `OPS_NOTE` says which library or why not.
OPS_BACKEND: str = _ops.BACKEND
OPS_NOTE: str = _ops.BACKEND_NOTE


# ------------------------------------------------------------- wrappers


def _weighting_code(weighting: str) -> int:
    if weighting not in _WEIGHTING:
        raise _make_error(int(ErrorCode.invalid_argument),
                          f"weighting must be 'unbiased', 'biased' or 'none', got {weighting!r}")
    return _WEIGHTING[weighting]


def sample(
    scores: Tensor,
    num_draws: int,
    *,
    replacement: bool = True,
    weighting: str = "unbiased",
    k: float = 0.5,
    smooth: float = 0.0,
    adaptive_smooth: float = 0.0,
    mean_loss: Any = 0.0,
    power: float = 1.0,
    candidate_ids: Optional[Tensor] = None,
    seed: int = 0,
    offset: int = 0,
    rng: Optional[Tensor] = None,
    advance_rng: bool = True,
    return_status: bool = False,
):
    """`cuis.sample` as a PyTorch op (`torch.ops.cuis.sample`, or
    `torch.ops.cuis.sample_rng` with `rng`): traceable by FakeTensor and
    `torch.compile(fullgraph=True)`; same arguments and same draws as `cuis.sample`.

    Returns `(indices, weights)`, or `(indices, weights, status)` with
    `return_status=True`: status is the uint8[32] DeviceStatus tensor of a CUDA
    call (read it with `check_status`). CPU calls raise score errors at once.
    Under `torch.compile` with CUDA graphs (mode="reduce-overhead"), pass `rng`
    (a device tensor from `cuis.rng_state`): Python-int seeds and offsets are
    constants of the compiled graph.
    """
    w = _weighting_code(weighting)
    if rng is None:
        if not (0 <= seed < _U64 and 0 <= offset < _U64):
            raise _make_error(int(ErrorCode.invalid_argument), f"seed {seed} / offset {offset} outside [0, 2^64)")
        if not isinstance(mean_loss, (int, float)):
            raise _make_error(int(ErrorCode.invalid_argument), "a mean_loss tensor needs rng= (the device path)")
        idx, wts, st = _ops.call(torch.ops.cuis.sample, scores, num_draws, replacement, w, float(k), float(smooth),
                                 float(adaptive_smooth), float(mean_loss), float(power), candidate_ids,
                                 _to_signed(seed), _to_signed(offset))
    else:
        if seed != 0 or offset != 0:
            raise _make_error(int(ErrorCode.invalid_argument), "give either seed/offset or rng, not both")
        ml_tensor = None if isinstance(mean_loss, (int, float)) else mean_loss
        ml_value = float(mean_loss) if ml_tensor is None else 0.0
        idx, wts, st = _ops.call(torch.ops.cuis.sample_rng, scores, num_draws, replacement, w, float(k),
                                 float(smooth), float(adaptive_smooth), ml_value, float(power), candidate_ids, rng,
                                 ml_tensor, advance_rng)
    return (idx, wts, st) if return_status else (idx, wts)


def uniform_indices(count: int, n: int, *, seed: int = 0, offset: int = 0, device: Any = "cpu",
                    rng: Optional[Tensor] = None, advance_rng: bool = True) -> Tensor:
    """`cuis.uniform_indices` as a PyTorch op: a torch int64 tensor of `count`
    indices uniform in [0, n) on `device` (or beside `rng`, advanced by `count`)."""
    if rng is not None:
        return _ops.call(torch.ops.cuis.uniform_indices_rng, rng, count, n, advance_rng)
    return _ops.call(torch.ops.cuis.uniform_indices, count, n, _to_signed(seed), _to_signed(offset),
                     torch.device(device))


def cross_entropy_scores(logits: Tensor, labels: Tensor, *, return_status: bool = False):
    """`cuis.cross_entropy_scores` as a PyTorch op: `(loss, grad_norm)` per row
    (no gradient flows through it: these are scores), plus the status with `return_status=True`."""
    loss, norm, st = _ops.call(torch.ops.cuis.cross_entropy_scores, logits, labels)
    return (loss, norm, st) if return_status else (loss, norm)


def check_status(status: Tensor) -> None:
    """Raises the error a status tensor from these ops holds (waits for the current
    stream for a CUDA tensor; `cuis.ScoreError` / `cuis.LabelError`)."""
    stream = torch.cuda.current_stream(status.device).cuda_stream if status.is_cuda else 0
    _results.Status(status, stream).check()


# ------------------------------------------------------ the sampler


class ImportanceSampler:
    """Draws training batches in proportion to each sample's last observed loss.

    Keeps a table of `num_samples` losses on `device`. `sample()` draws
    `batch_size` indices with importance weights ((1 / (N p_i))^k, rescaled per
    batch; k = 1 gives the unbiased weights 1 / (N p_i), k = 0 equal weights), on
    the device, with no host synchronisation; `update(idx, losses)` records the
    losses the training step observed for those samples (an index repeated within
    one update keeps one of its losses; on CUDA which one is unspecified).

    CUDA graphs: `sample()` is capturable (its RNG state is a device tensor and
    it does not synchronise), but the warm-up count is host state: capture after
    the warm-up calls, or the graph replays whichever branch was captured.

    Unseen samples: a sample never updated is scored with the mean of the losses
    observed so far (before any update every sample scores 1, i.e. uniform draws),
    so that it is neither starved nor favoured.

    Args:
        num_samples: N, the dataset size (1 .. 2^40).
        batch_size: B, draws per call (1 .. 2^31 - 1; <= N without replacement).
        k: the weight exponent, <= 1 (the paper's default 0.5).
        device: where the table lives and the draws run ("cpu", "cuda", a torch.device).
        seed: the generator seed; the RNG state is a device tensor [seed, offset]
            advanced on the device, so the calls can be captured in a CUDA graph.
        smooth: additive smoothing c: draw by loss**power + c + adaptive_smooth * mean loss.
        adaptive_smooth: smoothing in units of the mean observed loss (a device tensor).
        power: the loss exponent, in [0, 1]; 0.5 by default: last observed losses are stale,
            and this cache with power smoothing 0.5 kept 80-97% of the full loss sampler's
            per-step gain in the project's study (bench/results/predictor-study-cpu-2026-12-01.md),
            without it much less.
        warmup: the first `warmup` calls of `sample()` draw uniformly (weights 1).
        replacement: draw with replacement (default) or B distinct samples.
    """

    def __init__(self, num_samples: int, batch_size: int, k: float = 0.5, device: Any = "cpu", seed: int = 0, *,
                 smooth: float = 0.0, adaptive_smooth: float = 0.0, power: float = 0.5, warmup: int = 0,
                 replacement: bool = True):
        self.num_samples = int(num_samples)
        self.batch_size = int(batch_size)
        self.k = float(k)
        self.device = torch.device(device)
        self.smooth = float(smooth)
        self.adaptive_smooth = float(adaptive_smooth)
        self.power = float(power)
        self.warmup = int(warmup)
        self.replacement = bool(replacement)
        if self.warmup < 0:
            raise _make_error(int(ErrorCode.invalid_argument), f"warmup {warmup} is negative")
        weighting = 1 if self.k == 1.0 else 2
        _cuis.check_sample_args(self.num_samples, self.batch_size, self.replacement, weighting, self.k, self.smooth,
                                self.adaptive_smooth, self.power)
        self.loss = torch.zeros(self.num_samples, dtype=torch.float32, device=self.device)
        self.seen = torch.zeros(self.num_samples, dtype=torch.bool, device=self.device)
        self.rng = _rng.rng_state(seed, 0, device=self.device)
        self.steps = 0
        self.last_status: Optional[Tensor] = None

    # -- scores
    def mean_loss(self) -> Tensor:
        """The mean of the observed finite losses, a 1-element device tensor (1.0 before any update).
        A NaN or infinite loss stays in the table (and is reported by `sample`) but not in the mean."""
        valid = self.seen & torch.isfinite(self.loss)
        count = valid.sum()
        total = torch.where(valid, self.loss, torch.zeros_like(self.loss)).sum()
        return torch.where(count > 0, total / count.clamp(min=1), torch.ones_like(total)).reshape(1).float()

    def scores(self) -> Tensor:
        """The scores `sample()` draws by: the last observed loss, the mean for unseen samples."""
        return torch.where(self.seen, self.loss, self.mean_loss())

    # -- drawing
    def sample(self) -> Tuple[Tensor, Tensor]:
        """`(indices, weights)`: int64 and float32 tensors of `batch_size` on the device.
        Score errors (a NaN loss recorded by `update`) go to `last_status` (see `check`)."""
        step = self.steps
        self.steps += 1
        if step < self.warmup:
            idx = uniform_indices(self.batch_size, self.num_samples, rng=self.rng)
            return idx, torch.ones(self.batch_size, dtype=torch.float32, device=self.device)
        weighting = "unbiased" if self.k == 1.0 else "biased"
        idx, w, st = sample(self.scores(), self.batch_size, replacement=self.replacement, weighting=weighting,
                            k=self.k, smooth=self.smooth, adaptive_smooth=self.adaptive_smooth,
                            mean_loss=self.mean_loss() if self.adaptive_smooth else 0.0, power=self.power,
                            rng=self.rng, return_status=True)
        self.last_status = st
        return idx, w

    def update(self, idx: Tensor, losses: Tensor) -> None:
        """Record the observed per-sample `losses` (detached, as float32) of samples `idx`."""
        idx = idx.to(device=self.device, dtype=torch.int64)
        losses = losses.detach().to(device=self.device, dtype=torch.float32).reshape(-1)
        if idx.shape != losses.shape:
            raise _make_error(int(ErrorCode.shape_mismatch),
                              f"update: {idx.numel()} indices but {losses.numel()} losses")
        self.loss.index_put_((idx,), losses)
        self.seen.index_put_((idx,), torch.ones_like(idx, dtype=torch.bool))

    def check(self) -> None:
        """Raises the score error of the last `sample()` (waits for a CUDA device)."""
        if self.last_status is not None:
            check_status(self.last_status)

    # -- checkpoints
    def state_dict(self) -> Dict[str, Any]:
        """The table, the seen mask, the RNG state, the step count and the options."""
        return {
            "loss": self.loss.clone(),
            "seen": self.seen.clone(),
            "rng": self.rng.clone(),
            "steps": self.steps,
            "num_samples": self.num_samples,
            "batch_size": self.batch_size,
            "k": self.k,
            "smooth": self.smooth,
            "adaptive_smooth": self.adaptive_smooth,
            "power": self.power,
            "warmup": self.warmup,
            "replacement": self.replacement,
        }

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restores `state_dict()`'s state (the same draws follow as without the interruption)."""
        if int(state["num_samples"]) != self.num_samples:
            raise _make_error(int(ErrorCode.shape_mismatch),
                              f"state has {state['num_samples']} samples, this sampler {self.num_samples}")
        self.loss.copy_(state["loss"])
        self.seen.copy_(state["seen"])
        self.rng.copy_(state["rng"])
        self.steps = int(state["steps"])
        for key in ("batch_size", "warmup"):
            setattr(self, key, int(state[key]))
        for key in ("k", "smooth", "adaptive_smooth", "power"):
            setattr(self, key, float(state[key]))
        self.replacement = bool(state["replacement"])


from .torch_data import ImportanceBatchSampler  # noqa: E402  (the DataLoader adapter; imports this module)
from .torch_presample import PresampledImportanceSampler  # noqa: E402  (presampling; imports this module)
from . import torch_distributed as distributed  # noqa: E402  (data parallelism: cuis.torch.distributed)

# `import cuis.torch.distributed` and `from cuis.torch.distributed import ...`: this module is not a
# package, so the submodule is registered under that name, as the os module registers os.path.
sys.modules[__name__ + ".distributed"] = distributed
