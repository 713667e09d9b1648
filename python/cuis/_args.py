"""Argument intake of the cuis functions: Python numbers checked and converted
(integers, uint64 seeds, counts, floats, weighting names) and arrays taken
through DLPack and checked by the extension (dtype, dimensions, contiguity,
device), each failure raised as the cuis.Error subclass the C++ layer uses."""

from __future__ import annotations

import numbers
import operator
from typing import Any, Optional, Tuple

from . import _cuis
from . import _frameworks as fw
from ._errors import Error, ErrorCode, _make_error

_WEIGHTING = {"none": 0, "unbiased": 1, "biased": 2}
_U64 = 1 << 64


def _arg_error(message: str, code: ErrorCode = ErrorCode.invalid_argument) -> Exception:
    return _make_error(int(code), message)


def _integer(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise _arg_error(f"{name} must be an integer, got a bool")
    try:
        return operator.index(value)
    except TypeError:
        raise _arg_error(f"{name} must be an integer, got {type(value).__name__}") from None


def _u64(value: Any, name: str) -> int:
    v = _integer(value, name)
    if not 0 <= v < _U64:
        raise _arg_error(f"{name} {v} is outside [0, 2^64 - 1]")
    return v


def _count(value: Any, name: str, limit: int) -> int:
    """An int64 count; the library's own checks name a value out of its domain."""
    v = _integer(value, name)
    if v > limit:
        raise _arg_error(f"{name} {v} exceeds {limit}", ErrorCode.too_many_draws)
    if v < -(1 << 63):
        raise _arg_error(f"{name} {v} is negative", ErrorCode.empty_input)
    return v


def _float(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _arg_error(f"{name} must be a number, got {type(value).__name__}")
    return float(value)


def _weighting(value: Any) -> int:
    if isinstance(value, str) and value in _WEIGHTING:
        return _WEIGHTING[value]
    raise _arg_error(f"weighting must be 'unbiased', 'biased' or 'none', got {value!r}")


def _is_number(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _same_place(a: Tuple[bool, int], b: Tuple[bool, int], name_a: str, name_b: str) -> None:
    if a[0] != b[0] or (a[0] and a[1] != b[1]):
        where = lambda p: f"cuda:{p[1]}" if p[0] else "cpu"  # noqa: E731
        raise _make_error(
            int(ErrorCode.invalid_argument),
            f"{name_b} is on {where(b)} but {name_a} is on {where(a)}; every array of one call must be on the "
            "same device",
            kind="device",
        )


def _checked(x: Any, role: str, name: Optional[str] = None):
    arr = fw.as_array(x, name or role)
    try:
        shape, is_cuda, dev = _cuis.check_array(arr, role)
    except Error:
        raise
    except (TypeError, BufferError, RuntimeError) as e:
        # nanobind could not import it through DLPack (e.g. a torch "meta" tensor).
        first_line = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise _make_error(
            int(ErrorCode.invalid_argument),
            f"{name or role} ({type(x).__module__}.{type(x).__name__}) could not be taken through DLPack "
            f"(CPU and CUDA arrays only): {first_line}",
            kind="device",
        ) from None
    return arr, tuple(shape), (bool(is_cuda), int(dev))


def _rng_and_mean_loss(place, rng, mean_loss, owner: str):
    """The optional device RNG state `[seed, offset]` and the mean loss (a number, or an
    array where `owner` is): (rng array or None, mean-loss value, mean-loss array or None)."""
    rng_arr = None
    if rng is not None:
        rng_arr, _, rng_place = _checked(rng, "rng")
        _same_place(place, rng_place, owner, "rng")
    if _is_number(mean_loss):
        return rng_arr, float(mean_loss), None
    ml_arr, _, ml_place = _checked(mean_loss, "mean_loss")
    _same_place(place, ml_place, owner, "mean_loss")
    return rng_arr, 0.0, ml_arr
