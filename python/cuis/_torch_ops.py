"""The PyTorch ops of cuis (namespace `cuis`), for cuis.torch.

They are registered in C++ when the package was built with torch there
(libcuis_torch.so beside this file, through PyTorch's stable ABI: a call goes
from the dispatcher to C++ with no Python in between), else in Python
(`torch.library.custom_op` over `cuis.sample` and the other functions). Both
have the same schemas (int where Python infers SymInt), the same fake
implementations (registered here) and the same results, bit for bit.

`CUIS_TORCH_OPS` (read at import): "auto" (default: C++ if it loads, else
Python, saying why in `BACKEND_NOTE`), "cpp" (C++ or ImportError) or "python".

Autograd: the ops have no gradient; the wrappers pass inputs detached (`call`).
A C++ op called directly with an input that requires grad gives its float
outputs a grad_fn that warns on backward (the Python op raises), and does not
bump the version counter of the rng tensor it mutates.

Errors: the Python ops raise the cuis exceptions themselves. A C++ op's
exception reaches Python as a RuntimeError whose message starts with a tag
(python/src/torch_ops/op_errors.h); `call` turns it back into the cuis
exception (class, code, message, status) outside `torch.compile` tracing.
"""

from __future__ import annotations

import os
import re
import struct
from typing import Optional, Tuple

import torch
from torch import Tensor

from . import _cuis
from ._errors import ErrorCode, _make_error

STATUS_BYTES = _cuis.STATUS_BYTES
U64 = 1 << 64
WEIGHTING = {"none": 0, "unbiased": 1, "biased": 2}
WEIGHTING_NAMES = {v: k for k, v in WEIGHTING.items()}
LIBRARY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "libcuis_torch.so")


def to_signed(v: int) -> int:
    return v - U64 if v >= (1 << 63) else v


def to_unsigned(v: int) -> int:
    return v + U64 if v < 0 else v


def status_tensor(device: torch.device) -> Tensor:
    """A host-side success status as the 32 bytes of a DeviceStatus (index -1)."""
    t = torch.zeros(STATUS_BYTES, dtype=torch.uint8, device=device)
    t[8:16] = 0xFF  # index = -1
    return t


# ------------------------------------------------------------ fakes (both)


def _sample_fake(scores, num_draws, replacement, weighting, k, smooth, adaptive_smooth, mean_loss, power,
                 candidate_ids, seed, offset):
    return (scores.new_empty((num_draws,), dtype=torch.int64), scores.new_empty((num_draws,), dtype=torch.float32),
            scores.new_empty((STATUS_BYTES,), dtype=torch.uint8))


def _sample_rng_fake(scores, num_draws, replacement, weighting, k, smooth, adaptive_smooth, mean_loss, power,
                     candidate_ids, rng, mean_loss_tensor, advance_rng):
    return _sample_fake(scores, num_draws, replacement, weighting, k, smooth, adaptive_smooth, mean_loss, power,
                        candidate_ids, 0, 0)


def _uniform_fake(count, n, seed, offset, device):
    return torch.empty((count,), dtype=torch.int64, device=device)


def _uniform_rng_fake(rng, count, n, advance_rng):
    return rng.new_empty((count,), dtype=torch.int64)


def _cross_entropy_fake(logits, labels):
    rows = logits.shape[0]
    return (logits.new_empty((rows,), dtype=torch.float32), logits.new_empty((rows,), dtype=torch.float32),
            logits.new_empty((STATUS_BYTES,), dtype=torch.uint8))


_FAKES = {
    "sample": _sample_fake,
    "sample_rng": _sample_rng_fake,
    "uniform_indices": _uniform_fake,
    "uniform_indices_rng": _uniform_rng_fake,
    "cross_entropy_scores": _cross_entropy_fake,
}


# ------------------------------------------------------ the Python fallback


def _register_in_python() -> None:
    from . import _loss, _rng, _sample
    from ._devices import _require_device

    @torch.library.custom_op("cuis::sample", mutates_args=())
    def _sample_op(scores: Tensor, num_draws: int, replacement: bool, weighting: int, k: float, smooth: float,
                   adaptive_smooth: float, mean_loss: float, power: float, candidate_ids: Optional[Tensor],
                   seed: int, offset: int) -> Tuple[Tensor, Tensor, Tensor]:
        r = _sample.sample(scores, num_draws, replacement=replacement, weighting=WEIGHTING_NAMES[weighting], k=k,
                           smooth=smooth, adaptive_smooth=adaptive_smooth, mean_loss=mean_loss, power=power,
                           candidate_ids=candidate_ids, seed=to_unsigned(seed), offset=to_unsigned(offset))
        status = r.status.buffer if r.status.on_device else status_tensor(scores.device)
        return r[0], r[1], status

    @torch.library.custom_op("cuis::sample_rng", mutates_args=("rng",))
    def _sample_rng_op(scores: Tensor, num_draws: int, replacement: bool, weighting: int, k: float, smooth: float,
                       adaptive_smooth: float, mean_loss: float, power: float, candidate_ids: Optional[Tensor],
                       rng: Tensor, mean_loss_tensor: Optional[Tensor],
                       advance_rng: bool) -> Tuple[Tensor, Tensor, Tensor]:
        r = _sample.sample(scores, num_draws, replacement=replacement, weighting=WEIGHTING_NAMES[weighting], k=k,
                           smooth=smooth, adaptive_smooth=adaptive_smooth,
                           mean_loss=mean_loss if mean_loss_tensor is None else mean_loss_tensor, power=power,
                           candidate_ids=candidate_ids, rng=rng, advance_rng=advance_rng)
        status = r.status.buffer if r.status.on_device else status_tensor(scores.device)
        return r[0], r[1], status

    @torch.library.custom_op("cuis::uniform_indices", mutates_args=())
    def _uniform_op(count: int, n: int, seed: int, offset: int, device: torch.device) -> Tensor:
        device = torch.device(device)
        if device.type == "cuda" and device.index is None:  # torch's current device, checked as the C++ op does
            _require_device(True, 0 if _cuis.device_count() == 0 else torch.cuda.current_device(), "uniform_indices")
        return _rng.uniform_indices(count, n, seed=to_unsigned(seed), offset=to_unsigned(offset), device=device)

    @torch.library.custom_op("cuis::uniform_indices_rng", mutates_args=("rng",))
    def _uniform_rng_op(rng: Tensor, count: int, n: int, advance_rng: bool) -> Tensor:
        return _rng.uniform_indices(count, n, rng=rng, advance_rng=advance_rng)

    @torch.library.custom_op("cuis::cross_entropy_scores", mutates_args=())
    def _cross_entropy_op(logits: Tensor, labels: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        r = _loss.cross_entropy_scores(logits, labels)
        status = r.status.buffer if r.status.on_device else status_tensor(logits.device)
        return r[0], r[1], status


def _torch_version() -> Tuple[int, int]:
    try:
        major, minor = torch.__version__.split("+")[0].split(".")[:2]
        return int(major), int(minor)
    except ValueError:
        return (0, 0)


def _load() -> Tuple[str, str]:
    mode = os.environ.get("CUIS_TORCH_OPS", "auto").strip().lower() or "auto"
    if mode not in ("auto", "cpp", "python"):
        raise ImportError(f"CUIS_TORCH_OPS={mode!r}: expected auto, cpp or python")
    if mode == "python":
        why = "CUIS_TORCH_OPS=python"
    elif not os.path.exists(LIBRARY):
        why = f"{LIBRARY} is not there (the package was built without torch 2.10 or newer)"
    elif _torch_version() < (2, 10):
        why = f"torch {torch.__version__} is older than 2.10, the oldest the C++ ops' stable ABI loads in"
    else:
        try:
            torch.ops.load_library(LIBRARY)
            return "cpp", LIBRARY
        except (OSError, RuntimeError) as e:
            if hasattr(torch.ops.cuis, "sample"):  # it failed after defining ops: no clean fallback
                raise ImportError(f"{LIBRARY} loaded only in part: {e}") from e
            why = f"{LIBRARY} does not load: {e}"
    if mode == "cpp":
        raise ImportError(f"CUIS_TORCH_OPS=cpp: {why}")
    _register_in_python()
    return "python", why


BACKEND, BACKEND_NOTE = _load()
for _name, _fake in _FAKES.items():
    torch.library.register_fake(f"cuis::{_name}")(_fake)


# ------------------------------------------------------------------ errors

_TAG = re.compile(r"\[cuis:(-?\d+):(\w*)(?::(-?\d+):([0-9a-f]{8}):(\d+):(-?\d+))?\] (.*)", re.S)


def op_error(e: BaseException):
    """The cuis exception a C++ op's tagged RuntimeError stands for, or None."""
    m = _TAG.search(str(e))
    if m is None:
        return None
    try:
        code, kind = int(m[1]), (m[2] or None)
        status = None
        if m[3] is not None:
            value = struct.unpack("<f", int(m[4], 16).to_bytes(4, "little"))[0]  # the float's bits
            status = (code, int(m[3]), value, int(m[5]), int(m[6]))
        return _make_error(code, m[7], status, kind)
    except ValueError:  # not a code cuis has: leave the RuntimeError as it is
        return None


def call(op, *args):
    """op(*args), a C++ op's error raised as its cuis exception (under
    torch.compile tracing the call is left as it is: the fake runs there).

    Tensors that require grad are passed detached: these ops have no gradient
    (their outputs are indices, weights and scores). The Python registration
    raises on a backward through them; a C++ op would give its float outputs a
    grad_fn that only warns (PyTorch's fallback for C++ ops without an
    autograd kernel), so the wrappers never hand it such a tensor."""
    args = tuple(a.detach() if isinstance(a, Tensor) and a.requires_grad else a for a in args)
    if torch.compiler.is_compiling():
        return op(*args)
    try:
        return op(*args)
    except RuntimeError as e:
        err = op_error(e)
        if err is None:
            raise
        raise err from None


__all__ = ["BACKEND", "BACKEND_NOTE", "call", "op_error", "ErrorCode"]
