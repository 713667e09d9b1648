"""`PresampledImportanceSampler`: the presampling of [KF18] (docs/METHOD.md
sections 3 to 5) for PyTorch. Each step draws P uniform candidates, scores only
those with a callable you pass, and draws the batch of B from the candidates in
proportion to their (smoothed) scores:

    import cuis.torch as ct
    sampler = ct.PresampledImportanceSampler(len(ds), batch_size=128, presample=1024, k=0.5,
                                             device="cuda", seed=0, warmup=100)

    @torch.no_grad()
    def score_fn(cand):                                  # dataset rows -> per-candidate scores
        return F.cross_entropy(model(x[cand]), y[cand], reduction="none")

    for step in range(steps):
        idx, w = sampler.sample(score_fn)                # dataset rows and their weights
        loss = (w * F.cross_entropy(model(x[idx]), y[idx], reduction="none")).mean()

The weights are those of `cuis.sample(scores, B, candidate_ids=candidates)`: with
candidate ids the library's n is the number of scores, so the unbiased weight is
1 / (P p_i) (include/cuis/sampler.h, `Weighting`; docs/METHOD.md sections 3 and 4:
"every formula holds with N replaced by P").
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, Optional, Tuple, Union

import torch
from torch import Tensor

from . import _cuis
from . import _rng
from ._errors import ErrorCode, ScoreError, _make_error
from .torch import check_status, sample, uniform_indices

__all__ = ["PresampledImportanceSampler"]

_SCORE_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def _arg_error(message: str, code: ErrorCode = ErrorCode.invalid_argument, kind: Optional[str] = None):
    return _make_error(int(code), message, kind=kind)


class PresampledImportanceSampler:
    """Draws each batch from a freshly scored uniform candidate set ([KF18] presampling).

    `sample(score_fn)`: draws P candidate rows uniformly (with replacement) from
    [0, N) with `cuis.uniform_indices`, calls `score_fn(candidates)` (an int64
    tensor of P dataset rows on `device`; it returns P scores, float32, float16
    or bfloat16, >= 0, e.g. the per-sample loss under `torch.no_grad()`), and
    draws B of the candidates with `cuis.sample(scores, B, candidate_ids=candidates)`:
    p_i is proportional to t_i = s_i**power + smooth + adaptive_smooth * mean(s)
    (the mean of the step's finite candidate scores), and the weights are
    (1 / (P p_i))^k rescaled per batch (k = 1: exactly 1 / (P p_i)). The returned
    indices are dataset rows.

    Generator: one state [seed, offset] (a device tensor, `rng`), advanced on the
    device. A warm-up step draws B uniform rows (counters offset .. offset+B-1),
    weights 1, and calls no `score_fn`. Every later step draws its candidates at
    the current offset and its batch at offset + P, consuming P + B counters. So
    step s (counting from 0) uses offset `offset_at(s)` = W*B + (s-W)*(P+B) for
    s >= W (W = warmup), and its candidates equal
    `cuis.uniform_indices(P, N, seed=seed, offset=offset_at(s))`.

    tau (docs/METHOD.md section 5): each scored step computes
    tau = sqrt(P sum s^2) / sum s over the raw candidate scores, kept as a moving
    average (0.9 on the old value, the first value taken as is) in `tau`, a
    1-element float64 device tensor (`last_tau`: the step's own value). With
    `tau_threshold` (a number, or "auto" = (P + 3B) / (3B)) the batch is drawn by
    importance only while the averaged tau exceeds it; otherwise it is the first
    B candidates with weight 1 (a uniform batch), chosen on the device
    (`last_importance`, a bool device tensor, says which). The candidates are
    still scored: deciding on the host to skip scoring would need a host sync.
    Default None: always by importance, as in cuis-train without --tau-th.

    Host synchronisation: on CUDA `sample()` enqueues its work and waits for
    nothing (beyond what `score_fn` does). The step count that decides warm-up is
    host state, as in `ImportanceSampler`: capture a CUDA graph after the warm-up.
    Score errors (NaN, infinite, negative, all zero): on the CPU `sample()` raises
    `cuis.ScoreError` naming the candidate position and its dataset row; on CUDA
    they go to `last_status` and `check()` raises that error (it waits). After a
    score error the step counts as taken (restore a `state_dict` to retry it).

    Args:
        num_samples: N, the dataset size (1 .. 2^40).
        batch_size: B, draws per step (1 .. 2^31 - 1).
        presample: P, candidates per step, >= B (and <= 2^40).
        k: the weight exponent, <= 1 (default 0.5).
        device: where the candidates, scores and draws live.
        seed: the generator seed (offset starts at 0).
        smooth, adaptive_smooth, power: the smoothing of docs/METHOD.md section 2.
        warmup: the first `warmup` steps are uniform (no scoring).
        tau_threshold: None (off), a number >= 0, or "auto".
    """

    def __init__(self, num_samples: int, batch_size: int, presample: int, k: float = 0.5, device: Any = "cpu",
                 seed: int = 0, *, smooth: float = 0.0, adaptive_smooth: float = 0.0, power: float = 1.0,
                 warmup: int = 0, tau_threshold: Union[None, float, str] = None):
        self.num_samples = int(num_samples)
        self.batch_size = int(batch_size)
        self.presample = int(presample)
        self.k = float(k)
        self.smooth = float(smooth)
        self.adaptive_smooth = float(adaptive_smooth)
        self.power = float(power)
        self.warmup = int(warmup)
        if self.warmup < 0:
            raise _arg_error(f"warmup {warmup} is negative")
        if self.presample < self.batch_size:
            raise _arg_error(f"presample {self.presample} is smaller than batch_size {self.batch_size}: "
                             "the batch is drawn from the candidates", ErrorCode.too_many_draws)
        self.tau_threshold = self._threshold(tau_threshold)
        weighting = 1 if self.k == 1.0 else 2
        for n in (self.num_samples, self.presample):
            _cuis.check_sample_args(n, self.batch_size, True, weighting, self.k, self.smooth, self.adaptive_smooth,
                                    self.power)
        self.rng = _rng.rng_state(seed, 0, device=torch.device(device))
        self.device = self.rng.device
        self.tau = torch.zeros(1, dtype=torch.float64, device=self.device)  # 0: no scored step yet
        self.last_tau: Optional[Tensor] = None
        self.last_importance: Optional[Tensor] = None
        self.last_candidates: Optional[Tensor] = None
        self.last_status: Optional[Tensor] = None
        self.steps = 0

    def _threshold(self, t: Union[None, float, str]) -> Optional[float]:
        if t is None:
            return None
        if isinstance(t, str):
            if t != "auto":
                raise _arg_error(f"tau_threshold must be None, a number or 'auto', got {t!r}")
            return (self.presample + 3.0 * self.batch_size) / (3.0 * self.batch_size)
        v = float(t)
        if not (math.isfinite(v) and v >= 0.0):
            raise _arg_error(f"tau_threshold {t} must be finite and >= 0")
        return v

    def offset_at(self, step: int) -> int:
        """The generator offset at the start of step `step` (0-based), as documented above."""
        w = min(step, self.warmup)
        return w * self.batch_size + (step - w) * (self.presample + self.batch_size)

    # -- drawing
    def _checked_scores(self, scores: Any) -> Tensor:
        p = self.presample
        if not isinstance(scores, Tensor):
            raise _arg_error(f"score_fn must return a torch.Tensor, got {type(scores).__name__}", kind="dtype")
        if scores.dtype not in _SCORE_DTYPES:
            raise _arg_error(f"score_fn returned {scores.dtype} scores; float32, float16 or bfloat16 expected",
                             kind="dtype")
        if tuple(scores.shape) != (p,):
            raise _arg_error(f"score_fn returned scores of shape {tuple(scores.shape)}, expected ({p},): "
                             "one per candidate", ErrorCode.shape_mismatch)
        if scores.device != self.device:
            raise _arg_error(f"score_fn returned scores on {scores.device}, the sampler is on {self.device}",
                             kind="device")
        return scores.detach().contiguous()

    def _update_tau(self, scores: Tensor) -> None:
        s = scores.to(torch.float64)
        total, total_sq = s.sum(), (s * s).sum()
        ratio = total * total / (self.presample * total_sq)
        ok = (total_sq > 0) & (ratio > 0)
        tau = torch.where(ok, 1.0 / torch.sqrt(torch.where(ok, ratio, torch.ones_like(ratio))),
                          torch.ones_like(ratio)).reshape(1)
        averaged = torch.where(self.tau > 0, 0.9 * self.tau + 0.1 * tau, tau)
        self.tau.copy_(torch.where(torch.isfinite(tau), averaged, self.tau))
        self.last_tau = tau

    def _named(self, err: ScoreError, candidates: Tensor, step: int) -> ScoreError:
        pos = err.index
        if 0 <= pos < candidates.numel():
            row = int(candidates[pos])
            msg = f"{err.message} (candidate {pos} of step {step}: dataset row {row})"
            return _make_error(int(err.code), msg, tuple(err.status))  # type: ignore[return-value]
        return err

    def sample(self, score_fn: Callable[[Tensor], Tensor]) -> Tuple[Tensor, Tensor]:
        """`(indices, weights)`: int64 dataset rows and float32 weights, B of each, on the device."""
        step = self.steps
        self.steps += 1
        b = self.batch_size
        if step < self.warmup:
            idx = uniform_indices(b, self.num_samples, rng=self.rng)
            return idx, torch.ones(b, dtype=torch.float32, device=self.device)
        cand = uniform_indices(self.presample, self.num_samples, rng=self.rng)
        self.last_candidates = cand
        scores = self._checked_scores(score_fn(cand))
        mean: Any = 0.0
        if self.adaptive_smooth:
            s = scores.float()
            fin = torch.isfinite(s)
            count = fin.sum()
            mean = (torch.where(fin, s, torch.zeros_like(s)).sum() / count.clamp(min=1)).reshape(1)
        weighting = "unbiased" if self.k == 1.0 else "biased"
        try:
            idx, w, st = sample(scores, b, weighting=weighting, k=self.k, smooth=self.smooth,
                                adaptive_smooth=self.adaptive_smooth, mean_loss=mean, power=self.power,
                                candidate_ids=cand, rng=self.rng, return_status=True)
        except ScoreError as e:
            raise self._named(e, cand, step) from None
        self.last_status = st
        self._update_tau(scores)
        if self.tau_threshold is not None:
            use = self.tau > self.tau_threshold
            self.last_importance = use
            idx = torch.where(use, idx, cand[:b])
            w = torch.where(use, w, torch.ones_like(w))
        else:
            self.last_importance = torch.ones(1, dtype=torch.bool, device=self.device)
        return idx, w

    def check(self) -> None:
        """Raises the score error of the last scored step (waits for a CUDA device), naming the candidate."""
        if self.last_status is None:
            return
        try:
            check_status(self.last_status)
        except ScoreError as e:
            raise self._named(e, self.last_candidates, self.steps - 1) from None

    # -- checkpoints
    def state_dict(self) -> Dict[str, Any]:
        """The RNG state, the step count, tau and the options."""
        return {
            "rng": self.rng.clone(),
            "steps": self.steps,
            "tau": self.tau.clone(),
            "num_samples": self.num_samples,
            "batch_size": self.batch_size,
            "presample": self.presample,
            "k": self.k,
            "smooth": self.smooth,
            "adaptive_smooth": self.adaptive_smooth,
            "power": self.power,
            "warmup": self.warmup,
            "tau_threshold": self.tau_threshold,
        }

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restores `state_dict()`'s state: the same draws follow as without the interruption."""
        if int(state["num_samples"]) != self.num_samples:
            raise _arg_error(f"state has {state['num_samples']} samples, this sampler {self.num_samples}",
                             ErrorCode.shape_mismatch)
        self.rng.copy_(state["rng"])
        self.tau.copy_(state["tau"])
        self.steps = int(state["steps"])
        for key in ("batch_size", "presample", "warmup"):
            setattr(self, key, int(state[key]))
        for key in ("k", "smooth", "adaptive_smooth", "power"):
            setattr(self, key, float(state[key]))
        th = state["tau_threshold"]
        self.tau_threshold = None if th is None else float(th)
