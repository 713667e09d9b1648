"""Importance sampling across data-parallel ranks with `torch.distributed`
(`cuis.torch.distributed`): `sample_sharded`, one step of the library's sharded
sampler (include/cuis/sharded.h), and, from cuis/torch_distributed_sampler.py,
`DistributedImportanceSampler` and `DistributedImportanceBatchSampler`.

Each of the R ranks holds a shard of the N samples and the scores of its shard
only. One step is three library calls on this rank with torch.distributed
collectives in between, all on the current CUDA stream with no host sync:

    shard_record  -> all_gather_into_tensor of the R 80-byte records (int64[10] each, rank order)
    shard_sample  -> [biased weighting: all_gather_into_tensor of the R 16-byte terms -> shard_rescale]

Two modes. "stratified": this rank draws its b = num_draws samples from its own
shard, weight R W_r / (N t_i) (W_r the shard's total of transformed scores): the
one-GPU weight 1 / (N p_i) when the shards are equal; a shard whose scores are
all zero (while others have mass) is drawn uniformly with weight R n_r / N.
"global": the R b draws of the step come from the one distribution over all N
samples (p_i = t_i / sum of t over every shard), weight 1 / (N p_i); each rank
resolves the draws that land in its shard, so their number varies: outputs have
`capacity` slots (default R b), padded with index -1 and weight 0, and a count.
With R = 1 both modes return exactly what `cuis.sample` returns.

DDP averages gradients over the ranks, so each rank sums weight * loss over its
draws and divides by b (not by its count) in both modes:

    idx, w = cuis.torch.distributed.sample_sharded(scores, b, shard_offset=start, num_samples=N,
                                                   mode="global", seed=0, offset=step * R * b)
    losses = per_sample_loss(x[idx.clamp(min=0)], y[idx.clamp(min=0)])
    ((w * losses).sum() / b).backward()

Errors travel with the records: a NaN, infinite or negative score on any rank,
ranks that disagree (seed, offset, options, N, b, capacity, mean loss, shard
sizes not adding up to N) and global draws beyond a rank's capacity are found
from the gathered records, so every rank derives the same status (its `rank`
names the rank concerned), writes index -1 / weight 0 and count 0, and makes
the same collective calls as the others. CPU tensors raise it at once on every
rank (as `cuis.sample` does); CUDA tensors raise with `check=True` (which waits)
or when the returned status is read. An argument error on one rank (a bad dtype,
a shard larger than N...) is raised on that rank after it has taken part in the
exchange with a failure record, so the other ranks see `cuis.ShardError` naming
it instead of waiting for it. The terms' all-gather (biased weighting) is made
on the CPU only after a successful step (every rank knows the status alike), on
CUDA always (no rank knows it on the host): on GPUs the ranks must therefore
agree on whether the weighting is "biased"; on the CPU a disagreement is a
shard_mismatch like any other.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
import torch.distributed as dist
from torch import Tensor

from . import _cuis
from ._args import (_arg_error, _checked, _count, _float, _rng_and_mean_loss, _same_place, _u64,
                    _weighting)
from ._errors import Error, ErrorCode, StatusInfo, _make_error
from ._results import STATUS_BYTES, Status

__all__ = ["sample_sharded", "ShardStatus", "DistributedImportanceSampler", "DistributedImportanceBatchSampler"]

RECORD_WORDS: int = _cuis.SHARD_RECORD_WORDS  # int64 words of one ShardRecord (80 bytes)
TERMS_DOUBLES: int = _cuis.SHARD_TERMS_DOUBLES  # float64 values of one ShardTerms (16 bytes)
_MODES = {"stratified": 0, "global": 1}
_I64 = (1 << 63) - 1
_EXP_NONE = -100000  # detail::EXP_NONE: the exponent of a shard without mass
_RANK_ORDER, _SIZES = 0, 4  # detail::MISMATCH_RANK_ORDER / MISMATCH_SIZES: what a shard_mismatch's index names


def _group_shape(group: Any) -> tuple:
    """(rank, ranks) of this process in `group` (None: the default group)."""
    if not dist.is_available() or not dist.is_initialized():
        raise _arg_error("cuis.torch.distributed: torch.distributed is not initialised (call "
                         "torch.distributed.init_process_group first)")
    rank, ranks = dist.get_rank(group), dist.get_world_size(group)
    if rank < 0:
        raise _arg_error("cuis.torch.distributed: this process is not a member of `group`")
    return rank, ranks


def _signed(v: int) -> int:
    v &= (1 << 64) - 1
    return v - (1 << 64) if v >= (1 << 63) else v


def _failed_record(code: int) -> list:
    """The record (int64 words of a ShardRecord) a rank contributes when its own arguments
    failed: rank -1, out of rank order, so that every rank derives shard_mismatch naming
    its place; and the error's code."""
    words = [0] * RECORD_WORDS
    words[7] = -1  # bad_index
    words[8] = _signed(((code & 0xFFFFFFFF) << 32) | (_EXP_NONE & 0xFFFFFFFF))  # max_exp, code
    words[9] = _signed(0xFFFFFFFF)  # rank -1, bad_value 0.0
    return words


def _explain(info: StatusInfo, records: Optional[Tensor], num_samples: int) -> str:
    """The message of a status every rank derived: the library's description, the rank
    concerned, and for a rank that failed before the exchange, its error's name."""
    text = info.describe()
    if info.code in (ErrorCode.nan_score, ErrorCode.inf_score, ErrorCode.negative_score):
        return f"{text}, in the shard of rank {info.rank} (the score's global index)"
    if info.code == ErrorCode.invalid_mean_loss:
        return f"{text}, on rank {info.rank}"
    if info.code == ErrorCode.shard_mismatch and info.index == _SIZES:
        return f"the ranks' shard sizes add up to {info.value:.0f}, not to num_samples = {num_samples}"
    if info.code == ErrorCode.shard_mismatch and info.index == _RANK_ORDER and records is not None:
        words = records.detach().to("cpu").reshape(-1, RECORD_WORDS)[info.rank].tolist()
        if (words[9] & 0xFFFFFFFF) == 0xFFFFFFFF:
            code = (words[8] >> 32) & 0xFFFFFFFF
            name = ErrorCode(code).name if code in {int(c) for c in ErrorCode} else str(code)
            return (f"rank {info.rank} failed before the exchange ({name}); it raised its own error, "
                    "see that rank's output")
    return text


def _raise_status(info: StatusInfo, records: Optional[Tensor], num_samples: int) -> None:
    if not info.ok:
        raise _make_error(int(info.code), _explain(info, records, num_samples), tuple(info))


def sample_sharded(
    local_scores: Tensor,
    num_draws: int,
    *,
    shard_offset: Optional[int] = None,
    shard_indices: Optional[Tensor] = None,
    num_samples: int,
    mode: str = "stratified",
    weighting: str = "unbiased",
    k: float = 0.5,
    smooth: float = 0.0,
    adaptive_smooth: float = 0.0,
    mean_loss: Any = 0.0,
    power: float = 1.0,
    seed: int = 0,
    offset: int = 0,
    rng: Optional[Tensor] = None,
    advance_rng: bool = True,
    capacity: Optional[int] = None,
    check: bool = False,
    group: Any = None,
    return_status: bool = False,
):
    """One step of importance sampling across the ranks of `group` (a collective:
    every rank of the group calls it, with the same arguments except its shard).

    Args:
        local_scores: this rank's n_r scores (1-D float32, float16 or bfloat16 torch
            tensor, >= 0 and finite), on the CPU (gloo; the CPU reference
            `cuis::ref::shard_*`) or on this rank's GPU (NCCL; `cuis::shard_*` on the
            current stream). May be empty (a rank without samples).
        num_draws: b, this rank's draws per step (the global batch is R b), 1 .. 2^31 - 1.
        shard_offset: the shard is the contiguous range [shard_offset, shard_offset + n_r)
            of the global indices; or
        shard_indices: the shard's global indices (int64 tensor of n_r, where the
            scores are), e.g. range(rank, N, R), DistributedSampler's strided split.
            Give exactly one of the two.
        num_samples: N, the samples of all shards together (they must add up to N).
        mode: "stratified" or "global" (see the module's docstring).
        weighting, k, smooth, adaptive_smooth, power: as for `cuis.sample` (with
            replacement only); "biased" weights are rescaled over the global batch.
        mean_loss: the mean loss for adaptive smoothing, a number or a 1-element
            float32 tensor where the scores are (read there); the same on every rank
            (e.g. all-reduced, as `DistributedImportanceSampler` does).
        seed, offset: the Philox state, the same on every rank: the library derives
            what differs per rank. A step consumes R b counters (offset += R b).
        rng: instead of seed/offset: an int64 tensor [seed, offset] where the scores
            are (`cuis.rng_state`), read there and advanced by R b with `advance_rng`:
            a CUDA graph replay then draws afresh.
        capacity: output slots; default b (stratified) or R b (global, where fewer
            slots save memory but a step with more draws on a rank than its capacity
            fails with capacity_exceeded on every rank). The same on every rank.
        check: CUDA: wait for the stream and raise the step's data error now (on
            every rank alike). CPU tensors always raise at once.
        group: the process group (None: the default one).
        return_status: also return the count and the status.

    Returns:
        `(indices, weights)`: int64 global indices and float32 weights, `capacity`
        slots where the scores are (-1 / 0 in unused slots); with `return_status`,
        `(indices, weights, count, status)`: count an int64 tensor [1] (the filled
        slots; b in stratified mode unless the shard is empty) and status a
        `ShardStatus`, a `cuis.Status` (`read()`, `check()`; the `rank` of what it
        reads names the rank concerned).

    Raises:
        cuis.ArgumentError and subclasses for this rank's bad arguments (after the
        exchange, see the module's docstring); cuis.ScoreError (a bad score on any
        rank, all-zero scores everywhere, an invalid mean loss) and cuis.ShardError
        (ranks that disagree, capacity exceeded), on every rank alike: at once on the
        CPU, with `check=True` or `status.check()` on CUDA.
    """
    rank, ranks = _group_shape(group)
    is_cuda = isinstance(local_scores, Tensor) and local_scores.is_cuda
    device = local_scores.device if isinstance(local_scores, Tensor) else torch.device("cpu")
    biased = weighting == "biased"
    b_guess = num_draws if isinstance(num_draws, int) and num_draws > 0 else 0
    stream = torch.cuda.current_stream(device).cuda_stream if is_cuda else 0
    records = None
    try:
        records = torch.empty(ranks * RECORD_WORDS, dtype=torch.int64, device=device)
        call = _prepare(local_scores, num_draws, shard_offset, shard_indices, num_samples, mode, weighting, k,
                        smooth, adaptive_smooth, mean_loss, power, seed, offset, rng, capacity, rank, ranks,
                        bool(advance_rng), stream)
        call.record()
        failure = None
    except Exception as e:  # noqa: BLE001  any failure here: take part in the exchange, then raise
        # (this rank's own arguments, but also out of memory or a TypeError: the other ranks are
        # already waiting in the all-gather, and must learn that this rank failed)
        failure = e
        code = (int(e.code) if isinstance(e, Error)
                else int(ErrorCode.out_of_memory) if isinstance(e, (MemoryError, torch.cuda.OutOfMemoryError))
                else int(ErrorCode.invalid_argument))
        if records is None:
            records = torch.empty(ranks * RECORD_WORDS, dtype=torch.int64, device=device)
        record = torch.tensor(_failed_record(code), dtype=torch.int64).to(device)
    dist.all_gather_into_tensor(records, call.mine if failure is None else record, group=group)

    # The terms are gathered for biased weighting, on CUDA always (no rank knows the status on the
    # host), on the CPU only when the step succeeded (every rank knows it alike): every rank makes
    # the same collective calls, even when the ranks disagree on the weighting (CPU).
    if failure is not None:
        if biased and is_cuda:  # the others gather terms without knowing the step failed
            terms = torch.zeros(ranks * TERMS_DOUBLES, dtype=torch.float64, device=device)
            dist.all_gather_into_tensor(terms, torch.zeros(TERMS_DOUBLES, dtype=torch.float64, device=device),
                                        group=group)
        if rng is not None and isinstance(rng, Tensor) and advance_rng and b_guess:
            with torch.no_grad():
                rng[1:2].add_(ranks * b_guess)  # as shard_sample would have: the ranks stay in step
        raise failure

    call.sample(records)
    info = call.status_info() if (check or not is_cuda) else None  # check waits for the stream
    if call.biased and (is_cuda or info.ok):
        all_terms = torch.empty(ranks * TERMS_DOUBLES, dtype=torch.float64, device=device)
        dist.all_gather_into_tensor(all_terms, call.terms, group=group)
        call.rescale(all_terms)
    if info is not None:
        _raise_status(info, records, num_samples)
    status = (ShardStatus(call.status, stream, records=records, num_samples=num_samples) if is_cuda
              else ShardStatus(info=info))
    if return_status:
        return call.indices, call.weights, call.count, status
    return call.indices, call.weights


class ShardStatus(Status):
    """The `cuis.Status` of a sharded step: the same on every rank; `check()` raises
    with the same message as the CPU path (naming the rank concerned)."""

    __slots__ = ("_records", "_num_samples")

    def __init__(self, buffer: Any = None, stream: int = 0, info: Optional[StatusInfo] = None,
                 records: Optional[Tensor] = None, num_samples: int = 0):
        super().__init__(buffer, stream, info)
        self._records, self._num_samples = records, num_samples

    def check(self) -> None:
        """Raises the step's error (`cuis.ScoreError`, `cuis.ShardError`); waits for a CUDA step."""
        _raise_status(self.read(), self._records, self._num_samples)


class _Step:
    """One rank's arguments and buffers for the three calls of a step."""

    def __init__(self, **kw: Any):
        self.__dict__.update(kw)

    def _common(self) -> tuple:
        return (self.scores, self.ids, self.shard_offset, self.b)

    def _options(self) -> tuple:
        return (self.info, self.w, self.k, self.smooth, self.adaptive_smooth, self.mean_loss_value, self.power,
                self.seed, self.offset)

    def record(self) -> None:
        if not self.cuda:
            _cuis.shard_record_cpu(*self._common(), self.mine, self.rng, self.mean_loss_arr, *self._options())
        else:
            _cuis.shard_record_cuda(*self._common(), self.mine, self.workspace, self.rng, self.mean_loss_arr,
                                    *self._options(), self.stream)

    def sample(self, records: Tensor) -> None:
        outs = (records, self.indices, self.weights, self.count, self.status)
        if not self.cuda:
            _cuis.shard_sample_cpu(*self._common(), *outs, self.terms, self.work, self.rng, self.mean_loss_arr,
                                   self.advance_rng, *self._options())
        else:
            _cuis.shard_sample_cuda(*self._common(), *outs, self.terms, self.workspace, self.rng,
                                    self.mean_loss_arr, self.advance_rng, *self._options(), self.stream)

    def rescale(self, all_terms: Tensor) -> None:
        outs = (all_terms, self.indices, self.weights, self.count, self.status)
        opts = (self.info, self.w, self.k, self.smooth, self.adaptive_smooth, self.power)
        if not self.cuda:
            _cuis.shard_rescale_cpu(*self._common(), *outs, self.work, *opts)
        else:
            _cuis.shard_rescale_cuda(*self._common(), *outs, self.workspace, *opts, self.stream)

    def status_info(self) -> StatusInfo:
        """The step's status on the host (waits for the stream on CUDA)."""
        code, index, value, positive, rank = _cuis.read_status(self.status, self.stream)
        return StatusInfo(ErrorCode(code), index, value, positive, rank)


def _prepare(scores, num_draws, shard_offset, shard_indices, num_samples, mode, weighting, k, smooth,
             adaptive_smooth, mean_loss, power, seed, offset, rng, capacity, rank, ranks, advance_rng,
             stream) -> _Step:
    """Checks this rank's arguments and allocates the step's buffers (raises cuis.Error)."""
    if not isinstance(scores, Tensor):
        raise _arg_error(f"local_scores must be a torch tensor, got {type(scores).__name__}")
    scores_arr, shape, place = _checked(scores, "scores", "local_scores")
    is_cuda, dev = place
    n = shape[0]
    b = _count(num_draws, "num_draws", _I64)  # the library's own checks name a value out of its domain
    if mode not in _MODES:
        raise _arg_error(f"mode must be 'stratified' or 'global', got {mode!r}")
    w = _weighting(weighting)
    k, smooth, adaptive_smooth, power = (_float(k, "k"), _float(smooth, "smooth"),
                                         _float(adaptive_smooth, "adaptive_smooth"), _float(power, "power"))
    big_n = _count(num_samples, "num_samples", _I64)
    cap_arg = 0 if capacity is None else _count(capacity, "capacity", _I64)
    if capacity is not None and cap_arg < 1:
        raise _arg_error(f"capacity {cap_arg} must be positive (None: the default)")
    info = (_MODES[mode], rank, ranks, big_n, cap_arg)
    cap, _ = _cuis.check_shard_args(info, n, b, w, k, smooth, adaptive_smooth, power)
    seed_v, offset_v = _u64(seed, "seed"), _u64(offset, "offset")
    if rng is not None and (seed_v or offset_v):
        raise _arg_error("give either seed/offset or rng, not both")
    if (shard_offset is None) == (shard_indices is None):
        raise _arg_error("give exactly one of shard_offset (a contiguous shard) and shard_indices (its global "
                         "indices)")
    ids, start = None, 0
    if shard_indices is not None:
        ids, _, ids_place = _checked(shard_indices, "shard_indices")
        _same_place(place, ids_place, "local_scores", "shard_indices")
    else:
        start = _count(shard_offset, "shard_offset", _I64)
        if not 0 <= start <= big_n - n:
            raise _arg_error(f"shard_offset {start} with {n} scores leaves [0, num_samples = {big_n})")
    rng_arr, ml_value, ml_arr = _rng_and_mean_loss(place, rng, mean_loss, "local_scores")
    biased = w == 2
    device = scores.device

    def empty(size: int, dtype: torch.dtype) -> Tensor:
        return torch.empty(size, dtype=dtype, device=device)

    step = _Step(cuda=is_cuda, scores=scores_arr, ids=ids, shard_offset=start, b=b, info=info, w=w, k=k,
                 smooth=smooth, adaptive_smooth=adaptive_smooth, mean_loss_value=ml_value, power=power,
                 seed=seed_v, offset=offset_v, rng=rng_arr, mean_loss_arr=ml_arr, advance_rng=advance_rng,
                 stream=stream, biased=biased, mine=empty(RECORD_WORDS, torch.int64),
                 indices=empty(cap, torch.int64), weights=empty(cap, torch.float32), count=empty(1, torch.int64),
                 status=empty(STATUS_BYTES, torch.uint8),
                 terms=empty(TERMS_DOUBLES, torch.float64) if biased else None, work=None, workspace=None)
    if not is_cuda:
        step.work = empty(cap, torch.float64) if biased else None
    else:
        if scores.dtype != torch.float32:
            step.scores = scores.float()  # exact: every 16-bit value is a float32
        ws = _cuis.shard_workspace_size(n, b, dev, info, w, k, smooth, adaptive_smooth, power)
        step.workspace = empty(max(int(ws), 1), torch.uint8)
    return step


_LAZY = {"DistributedImportanceSampler": "torch_distributed_sampler",
         "DistributedImportanceBatchSampler": "torch_distributed_data"}


def __getattr__(name: str) -> Any:
    """The sampler classes, imported when first asked for (their modules import this one)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__package__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list:
    return sorted(list(globals()) + list(_LAZY))
