"""What the calls of the cuis package return: `Status` (where the outcome of
a call lives), the tuples `SampleResult` and `LossResult`, and `new_status`,
a status buffer to pass as `status=`."""

from __future__ import annotations

from typing import Any, Optional

from . import _cuis
from . import _frameworks as fw
from ._args import _arg_error
from ._errors import ErrorCode, StatusInfo, _make_error

__all__ = ["Status", "SampleResult", "LossResult", "new_status"]

STATUS_BYTES: int = _cuis.STATUS_BYTES


class Status:
    """Where the outcome of a call lives, and how to read it.

    A CPU call has already checked its inputs (it raised at once); its status
    is resolved and `read()` returns success. A CUDA call wrote a 32-byte
    `cuis::DeviceStatus` into `buffer` (a uint8 device array in the caller's
    framework) with its last kernel, and did not wait: nothing synchronises
    until you call `read()`, `check()` or `ok`, which copy the buffer on
    `stream` and wait for that stream. The buffer can be kept, passed as
    `status=` to later calls (for a fixed address under CUDA graphs), and read
    whenever you choose.
    """

    __slots__ = ("_buffer", "_stream", "_info")

    def __init__(self, buffer: Any = None, stream: int = 0, info: Optional[StatusInfo] = None):
        self._buffer = buffer
        self._stream = int(stream)
        self._info = info if info is not None else StatusInfo(ErrorCode.success, -1, 0.0, 0)

    @property
    def buffer(self) -> Any:
        """The device buffer (uint8[32]) the call wrote, or None for a CPU call."""
        return self._buffer

    @property
    def stream(self) -> int:
        """The stream (cudaStream_t as an int) `read()` waits for."""
        return self._stream

    @property
    def on_device(self) -> bool:
        """True when the status is in device memory (reading it waits)."""
        return self._buffer is not None

    def read(self) -> StatusInfo:
        """The status as a `StatusInfo` (code, index, value, positive_count, rank).
        For a CUDA call: copies it on the call's stream and waits for that stream."""
        if self._buffer is None:
            return self._info
        code, index, value, positive, rank = _cuis.read_status(self._buffer, self._stream)
        return StatusInfo(ErrorCode(code), index, value, positive, rank)

    @property
    def ok(self) -> bool:
        """True when the call found nothing wrong (waits for a CUDA call)."""
        return self.read().ok

    def check(self) -> None:
        """Raises the input-data error the status holds (`cuis.ScoreError` or
        `cuis.LabelError`, `cuis.ShardError`, with `cuis::describe(status)` as the message);
        returns None on success. Waits for a CUDA call."""
        info = self.read()
        if not info.ok:
            raise _make_error(int(info.code), info.describe(), tuple(info))

    def __repr__(self) -> str:
        where = "device" if self.on_device else "host"
        return f"<cuis.Status on {where}>"


class SampleResult(tuple):
    """`(indices, weights)` of `cuis.sample`, with `.indices`, `.weights` and
    `.status` (a `cuis.Status`)."""

    def __new__(cls, indices: Any, weights: Any, status: Status):
        obj = super().__new__(cls, (indices, weights))
        obj.status = status
        return obj

    @property
    def indices(self) -> Any:
        """int64 array of the drawn indices (dataset ids with candidate_ids)."""
        return self[0]

    @property
    def weights(self) -> Any:
        """float32 array of the importance weights."""
        return self[1]

    def __getnewargs__(self):
        return (self[0], self[1], self.status)


class LossResult(tuple):
    """`(loss, grad_norm)` of `cuis.cross_entropy_scores`, with `.loss`,
    `.grad_norm` and `.status` (a `cuis.Status`)."""

    def __new__(cls, loss: Any, grad_norm: Any, status: Status):
        obj = super().__new__(cls, (loss, grad_norm))
        obj.status = status
        return obj

    @property
    def loss(self) -> Any:
        """float32 array: -log softmax(logits)[label] per row."""
        return self[0]

    @property
    def grad_norm(self) -> Any:
        """float32 array: ||softmax(logits) - onehot(label)||_2 per row."""
        return self[1]

    def __getnewargs__(self):
        return (self[0], self[1], self.status)



def new_status(like: Any) -> Any:
    """A uint8[32] buffer beside a CUDA array `like` (same framework and device),
    for `status=`: a fixed address that CUDA graph replays write to."""
    arr = fw.as_array(like, "like")
    dl = arr.__dlpack_device__() if hasattr(arr, "__dlpack_device__") else (1, 0)
    is_cuda, dev = int(dl[0]) == 2, int(dl[1])
    if not is_cuda:
        raise _arg_error("new_status: status buffers are for CUDA arrays; CPU calls raise at once")
    return fw.empty(arr, (STATUS_BYTES,), "uint8", True, dev)
