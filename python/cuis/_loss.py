"""`cuis.cross_entropy_scores`: per-row cross-entropy and gradient norm, the
scores the sampler draws by (the C++ library's `cuis::cross_entropy` and
`cuis::ref::cross_entropy_row`)."""

from __future__ import annotations

from typing import Any

from . import _cuis
from . import _frameworks as fw
from ._args import _arg_error, _checked, _same_place
from ._devices import _keep_alive_on_stream
from ._results import STATUS_BYTES, LossResult, Status

__all__ = ["cross_entropy_scores"]


def cross_entropy_scores(
    logits: Any,
    labels: Any,
    *,
    status: Any = None,
    check: bool = False,
    stream: Any = None,
) -> LossResult:
    """Per-row softmax cross-entropy and the gradient-norm bound, the scores the sampler draws by.

    loss[r] = -log softmax(logits[r])[labels[r]] and grad_norm[r] =
    ||softmax(logits[r]) - onehot(labels[r])||_2 (docs/METHOD.md section 1), in a
    numerically stable form. CPU arrays run the CPU reference
    (`cuis::ref::cross_entropy_row`, double accumulation); CUDA arrays run
    `cuis::cross_entropy` (a warp per row, float32): the two agree to float32
    rounding, not bit for bit.

    Args:
        logits: 2-D [rows, classes] float32 (float16/bfloat16 widened exactly), contiguous.
        labels: 1-D int32 or int64 [rows], in [0, classes).
        status, check, stream: CUDA only, as for `cuis.sample`.

    Returns:
        `LossResult`, a tuple `(loss, grad_norm)` of float32 arrays [rows] in the
        logits' framework and device; `.status` is a `cuis.Status`.

    Raises:
        cuis.LabelError for the lowest bad row (a label outside [0, classes) or a
        non-finite logit): at once for CPU arrays; for CUDA arrays with `check=True`
        or `result.status.check()` (the bad row's loss and norm are NaN).
    """
    logits, shape, place = _checked(logits, "logits")
    labels, lshape, lplace = _checked(labels, "labels")
    _same_place(place, lplace, "logits", "labels")
    rows, classes = shape
    is_cuda, dev = place
    loss = fw.empty(logits, (rows,), "float32", is_cuda, dev)
    norm = fw.empty(logits, (rows,), "float32", is_cuda, dev)
    if not is_cuda:
        if status is not None:
            raise _arg_error("status= is for CUDA arrays; CPU calls raise at once")
        _cuis.cross_entropy_cpu(logits, labels, loss, norm)
        st = Status()
    else:
        z32 = fw.widen(logits)
        y32 = fw.labels_int32(labels, classes)
        handle = fw.stream_handle(stream, logits, is_cuda, dev)
        if status is None:
            status_buf = fw.empty(logits, (STATUS_BYTES,), "uint8", is_cuda, dev)
        else:
            status_buf, _, st_place = _checked(status, "status")
            _same_place(place, st_place, "logits", "status")
        _cuis.cross_entropy_cuda(z32, y32, loss, norm, status_buf, handle)
        _keep_alive_on_stream((loss, norm, status_buf, z32, y32), logits, handle, dev)
        st = Status(status_buf, handle)
        if check:
            st.check()
    return LossResult(fw.finish(loss, logits), fw.finish(norm, logits), st)
