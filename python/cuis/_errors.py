"""The exceptions of cuis: one base class, `cuis.Error`, and a subclass per
kind of problem, each carrying the C++ error code (`cuis::Error`, here the
IntEnum `cuis.ErrorCode`) and the C++ message (`cuis::last_error_message()`,
or `cuis::describe(status)` for an input-data error)."""

from __future__ import annotations

from typing import NamedTuple, Optional, Tuple

from ._cuis import ErrorCode

__all__ = [
    "ErrorCode",
    "StatusInfo",
    "Error",
    "ArgumentError",
    "DTypeError",
    "ShapeError",
    "DeviceMismatchError",
    "TooManyDrawsError",
    "InputError",
    "ScoreError",
    "LabelError",
    "ShardError",
    "DeviceError",
    "NoDeviceError",
    "CudaError",
    "OutOfMemoryError",
    "InternalError",
]


class StatusInfo(NamedTuple):
    """A `cuis::DeviceStatus` as read on the host.

    code: `ErrorCode.success` or an input-data error; index: the first
    offending item (score, row), else -1; value: that item's value (or the mean
    loss), else 0; positive_count: transformed scores > 0 (sampling only);
    rank: sharded sampling (`cuis.torch.distributed`): the rank concerned (the
    rank whose shard holds the bad score, the first rank that disagrees, the
    rank over its capacity), else 0. For a bad score, index is its global index.
    """

    code: ErrorCode
    index: int
    value: float
    positive_count: int
    rank: int = 0

    @property
    def ok(self) -> bool:
        """True when the call found nothing wrong."""
        return self.code == ErrorCode.success

    def describe(self) -> str:
        """`cuis::describe(status)`: one line naming the problem ("ok" for success)."""
        from . import _cuis

        return _cuis.describe(int(self.code), self.index, self.value, self.positive_count, self.rank)


class Error(Exception):
    """Base class of every exception cuis raises.

    Attributes: `code` (`cuis.ErrorCode`, the C++ `cuis::Error`), `message`
    (the C++ message) and `status` (a `StatusInfo` for input-data errors
    found in the arrays, else None).
    """

    def __init__(self, code: ErrorCode, message: str, status: Optional[StatusInfo] = None):
        super().__init__(message)
        self.code = ErrorCode(code)
        self.message = message
        self.status = status

    def __str__(self) -> str:
        return f"{self.message} [cuis::Error::{self.code.name}]"

    def __reduce__(self):
        return (type(self), (int(self.code), self.message, self.status))


class ArgumentError(Error, ValueError):
    """An argument outside its domain (raised at once; nothing was run)."""


class DTypeError(ArgumentError, TypeError):
    """An array of the wrong dtype (code invalid_argument)."""


class ShapeError(ArgumentError):
    """An array with the wrong number of dimensions or extent (code shape_mismatch or empty_input)."""


class DeviceMismatchError(ArgumentError):
    """Arrays of one call on different devices, or on an unsupported one (code invalid_argument)."""


class TooManyDrawsError(ArgumentError):
    """num_draws above 2^31 - 1, n above 2^40, or num_draws > n without replacement."""


class InputError(Error, ValueError):
    """Bad values in the arrays, found while running (a `cuis::DeviceStatus`).

    `index` and `value` name the first offending item.
    """

    @property
    def index(self) -> int:
        """The first offending item (score or row), or -1."""
        return self.status.index if self.status is not None else -1

    @property
    def value(self) -> float:
        """That item's value (or the mean loss, or the label)."""
        return self.status.value if self.status is not None else 0.0

    @property
    def rank(self) -> int:
        """Sharded sampling: the rank concerned (see `StatusInfo.rank`), else 0."""
        return self.status.rank if self.status is not None else 0


class ScoreError(InputError):
    """A NaN, infinite or negative score, all-zero scores, too few positive
    scores without replacement, or an invalid mean loss."""


class LabelError(InputError):
    """A label outside [0, classes), or a non-finite logit (cross_entropy_scores)."""


class ShardError(InputError):
    """Sharded sampling across ranks (`cuis.torch.distributed`): the ranks disagree
    (code shard_mismatch: seed, offset, options, N, R, b, capacity, mean loss, or shard
    sizes that do not add up to N; or a rank that failed before the exchange), or
    more global draws landed on a rank than its capacity (capacity_exceeded). Found
    from the gathered records, so every rank raises it alike; `rank` names the rank
    concerned."""


class DeviceError(Error, RuntimeError):
    """A CUDA problem: no device, a CUDA error, out of memory, or an internal error."""


class NoDeviceError(DeviceError):
    """No usable CUDA device (the CPU reference runs without one: pass CPU arrays)."""


class CudaError(DeviceError):
    """A CUDA runtime error."""


class OutOfMemoryError(DeviceError, MemoryError):
    """Device or host memory exhausted."""


class InternalError(DeviceError):
    """An unexpected exception inside the library, caught at its edge."""


_SCORE_CODES = {
    ErrorCode.nan_score,
    ErrorCode.inf_score,
    ErrorCode.negative_score,
    ErrorCode.zero_total,
    ErrorCode.not_enough_positive,
    ErrorCode.invalid_mean_loss,
}
_LABEL_CODES = {ErrorCode.invalid_label, ErrorCode.non_finite_value, ErrorCode.index_out_of_range}
_SHARD_CODES = {ErrorCode.shard_mismatch, ErrorCode.capacity_exceeded}


def error_class(code: ErrorCode, kind: Optional[str] = None) -> type:
    """The exception class cuis raises for `code` (`kind`: "dtype" or "device" narrows invalid_argument)."""
    code = ErrorCode(code)
    if code in _SCORE_CODES:
        return ScoreError
    if code in _LABEL_CODES:
        return LabelError
    if code in _SHARD_CODES:
        return ShardError
    if code == ErrorCode.too_many_draws:
        return TooManyDrawsError
    if code in (ErrorCode.shape_mismatch, ErrorCode.empty_input):
        return ShapeError
    if code == ErrorCode.invalid_argument:
        if kind == "dtype":
            return DTypeError
        if kind == "device":
            return DeviceMismatchError
        return ArgumentError
    if code in (
        ErrorCode.null_pointer,
        ErrorCode.invalid_k,
        ErrorCode.invalid_power,
        ErrorCode.invalid_smoothing,
        ErrorCode.workspace_too_small,
        ErrorCode.misaligned_pointer,
    ):
        return ArgumentError
    if code == ErrorCode.no_device:
        return NoDeviceError
    if code == ErrorCode.cuda_error:
        return CudaError
    if code == ErrorCode.out_of_memory:
        return OutOfMemoryError
    if code == ErrorCode.internal_error:
        return InternalError
    return Error


def _make_error(code: int, message: str, status: Optional[Tuple] = None, kind: Optional[str] = None) -> Error:
    """Called by the extension module (and the Python layer) to build the exception it raises.
    `status`: (code, index, value, positive_count[, rank])."""
    info = None
    if status is not None:
        rank = int(status[4]) if len(status) > 4 else 0
        info = StatusInfo(ErrorCode(status[0]), int(status[1]), float(status[2]), int(status[3]), rank)
    return error_class(ErrorCode(code), kind)(ErrorCode(code), message, info)
