"""The functions of the cuis package (re-exported by cuis/__init__.py)."""

from __future__ import annotations

import numbers
import operator
from typing import Any, Optional, Tuple

from . import _cuis
from . import _frameworks as fw
from ._errors import Error, ErrorCode, StatusInfo, _make_error

__all__ = [
    "Status",
    "SampleResult",
    "LossResult",
    "sample",
    "uniform_indices",
    "cross_entropy_scores",
    "rng_state",
    "new_status",
    "counters_consumed",
    "device_count",
    "cuda_available",
]

STATUS_BYTES: int = _cuis.STATUS_BYTES
_WEIGHTING = {"none": 0, "unbiased": 1, "biased": 2}
_U64 = 1 << 64


# ------------------------------------------------------------------ status


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
        """The status as a `StatusInfo` (code, index, value, positive_count).
        For a CUDA call: copies it on the call's stream and waits for that stream."""
        if self._buffer is None:
            return self._info
        code, index, value, positive = _cuis.read_status(self._buffer, self._stream)
        return StatusInfo(ErrorCode(code), index, value, positive)

    @property
    def ok(self) -> bool:
        """True when the call found nothing wrong (waits for a CUDA call)."""
        return self.read().ok

    def check(self) -> None:
        """Raises the input-data error the status holds (`cuis.ScoreError` or
        `cuis.LabelError`, with `cuis::describe(status)` as the message);
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


# ----------------------------------------------------------------- helpers


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


def _require_device(is_cuda: bool, device: int, api: str) -> None:
    """A CUDA device asked for by name must exist (before a framework is asked to allocate there)."""
    if not is_cuda:
        return
    count = _cuis.device_count()
    if device >= count:
        raise _make_error(
            int(ErrorCode.no_device),
            f"{api}: cuda:{device} is not available ({count} CUDA device(s) seen); "
            "the CPU reference runs the same operations on CPU arrays",
        )


def _keep_alive_on_stream(arrays, like: Any, stream: int, device: int) -> None:
    """PyTorch: arrays allocated on the current stream but used on another one
    are recorded on that one, so that the caching allocator does not hand their
    memory out before the work on `stream` is done."""
    if fw.framework_of(like) != fw.TORCH:
        return
    torch = fw.torch_module()
    dev = torch.device("cuda", device)
    if int(torch.cuda.current_stream(dev).cuda_stream) == stream:
        return
    ext = torch.cuda.ExternalStream(stream, device=dev)
    for a in arrays:
        if a is not None:
            a.record_stream(ext)


# ---------------------------------------------------------------- functions


def sample(
    scores: Any,
    num_draws: int,
    *,
    replacement: bool = True,
    weighting: str = "unbiased",
    k: float = 0.5,
    smooth: float = 0.0,
    adaptive_smooth: float = 0.0,
    mean_loss: Any = 0.0,
    power: float = 1.0,
    candidate_ids: Any = None,
    seed: int = 0,
    offset: int = 0,
    rng: Any = None,
    advance_rng: bool = True,
    status: Any = None,
    check: bool = False,
    stream: Any = None,
) -> SampleResult:
    """Draw `num_draws` indices in proportion to smoothed scores, with importance weights.

    Mirrors `cuis::SampleOptions` (include/cuis/sampler.h). Item i is drawn with
    probability proportional to t_i = scores[i]**power + smooth + adaptive_smooth * mean_loss,
    from the exact fixed-point distribution of the C++ library: the same scores,
    options, seed and offset give the same indices and weights, bit for bit, on the
    CPU, on the GPU, from the C++ API and from the `cuis-sample` tool.

    Args:
        scores: 1-D float32, float16 or bfloat16 array (any DLPack producer: NumPy,
            PyTorch, CuPy, JAX), contiguous, >= 0 and finite. 16-bit scores are widened
            exactly to float32. A CPU array runs the CPU reference (`cuis::ref::sample`);
            a CUDA array runs `cuis::sample` on the device.
        num_draws: B, 1 .. 2^31 - 1 (and <= len(scores) without replacement).
        replacement: draw with replacement (default) or B distinct items
            (Efraimidis-Spirakis keys; output ordered by key).
        weighting: "unbiased" (w = 1 / (n p_i)), "biased" ((1 / (n p_i))^k, rescaled
            per batch) or "none" (w = 1).
        k: exponent of biased weights, finite and <= 1.
        smooth, adaptive_smooth: additive smoothing constants, finite and >= 0.
        mean_loss: the running mean loss for adaptive smoothing: a number, or a
            1-element float32 array on the scores' device (read there, on the device:
            `SampleOptions::d_mean_loss`).
        power: exponent applied to the scores, in [0, 1].
        candidate_ids: optional int64 array of len(scores): the dataset index of each
            score; the returned indices are then candidate_ids[pos].
        seed, offset: the Philox generator state (draw j uses counter offset + j;
            without replacement score i uses counter offset + i), each in [0, 2^64).
            Python ints are copied into the call: under CUDA graph capture they are
            baked into the graph, and every replay draws the same batch. Use `rng`.
        rng: instead of seed/offset: an int64 array [seed, offset] on the scores'
            device (`cuis.rng_state`), read by the device (`SampleOptions::d_rng`) and,
            with `advance_rng`, advanced there by `counters_consumed(n, B, replacement)`
            after the draw: graph replays then draw afresh. Values are the uint64 bits.
        advance_rng: with `rng`: advance its offset (on the device, or in place on the CPU).
        status: CUDA only: a uint8[32] array on the scores' device to write the
            `cuis::DeviceStatus` into (`cuis.new_status`); a fresh one by default.
        check: CUDA only: wait for the stream and raise a score error now.
        stream: CUDA only: the stream to enqueue on: None (PyTorch: the current stream
            of the device; CuPy: its current stream; else the legacy default stream),
            an int (cudaStream_t), a torch.cuda.Stream or a CuPy stream.

    Returns:
        `SampleResult`, a tuple `(indices, weights)`: int64 and float32 arrays of B
        items in the scores' framework, on their device; `.status` is a `cuis.Status`.

    Raises:
        cuis.ArgumentError (and subclasses DTypeError, ShapeError, DeviceMismatchError,
        TooManyDrawsError) for bad arguments, before anything runs.
        cuis.ScoreError for bad scores (NaN, infinite, negative, all zero, fewer positive
        scores than draws without replacement, an invalid mean loss): at once for CPU
        arrays, naming the index and value; for CUDA arrays only with `check=True` or
        when you call `result.status.check()` (the device writes index -1 and weight 0
        for every draw and the status; no host sync otherwise).
        cuis.NoDeviceError for CUDA arrays where this module's runtime sees no GPU.
    """
    scores, shape, place = _checked(scores, "scores")
    n = shape[0]
    b = _count(num_draws, "num_draws", (1 << 63) - 1)  # the library's limits are checked below
    w = _weighting(weighting)
    replacement = bool(replacement)
    k, smooth, adaptive_smooth, power = (
        _float(k, "k"),
        _float(smooth, "smooth"),
        _float(adaptive_smooth, "adaptive_smooth"),
        _float(power, "power"),
    )
    seed_v, offset_v = _u64(seed, "seed"), _u64(offset, "offset")
    if rng is not None and (seed_v != 0 or offset_v != 0):
        raise _arg_error("give either seed/offset or rng, not both")
    _cuis.check_sample_args(n, b, replacement, w, k, smooth, adaptive_smooth, power)

    ids = None
    if candidate_ids is not None:
        ids, _, ids_place = _checked(candidate_ids, "candidate_ids")
        _same_place(place, ids_place, "scores", "candidate_ids")
    rng_arr = None
    if rng is not None:
        rng_arr, _, rng_place = _checked(rng, "rng")
        _same_place(place, rng_place, "scores", "rng")
    mean_loss_value, mean_loss_arr = 0.0, None
    if _is_number(mean_loss):
        mean_loss_value = float(mean_loss)
    else:
        mean_loss_arr, _, ml_place = _checked(mean_loss, "mean_loss")
        _same_place(place, ml_place, "scores", "mean_loss")

    is_cuda, dev = place
    indices = fw.empty(scores, (b,), "int64", is_cuda, dev)
    weights = fw.empty(scores, (b,), "float32", is_cuda, dev)
    if not is_cuda:
        if status is not None:
            raise _arg_error("status= is for CUDA arrays; CPU calls raise at once")
        _cuis.sample_cpu(scores, b, indices, weights, ids, rng_arr, mean_loss_arr, replacement, w, k, smooth,
                         adaptive_smooth, mean_loss_value, power, seed_v, offset_v, bool(advance_rng))
        st = Status()
    else:
        s32 = fw.widen(scores)
        handle = fw.stream_handle(stream, scores, is_cuda, dev)
        ws_bytes = _cuis.sample_workspace_size(n, b, dev, replacement, w, k, smooth, adaptive_smooth, power)
        workspace = fw.empty(scores, (max(int(ws_bytes), 1),), "uint8", is_cuda, dev)
        if status is None:
            status_buf = fw.empty(scores, (STATUS_BYTES,), "uint8", is_cuda, dev)
        else:
            status_buf, _, st_place = _checked(status, "status")
            _same_place(place, st_place, "scores", "status")
        _cuis.sample_cuda(s32, b, indices, weights, status_buf, workspace, ids, rng_arr, mean_loss_arr, replacement,
                          w, k, smooth, adaptive_smooth, mean_loss_value, power, seed_v, offset_v, bool(advance_rng),
                          handle)
        _keep_alive_on_stream((indices, weights, workspace, status_buf, s32), scores, handle, dev)
        st = Status(status_buf, handle)
        if check:
            st.check()
    return SampleResult(fw.finish(indices, scores), fw.finish(weights, scores), st)


def uniform_indices(
    count: int,
    n: int,
    *,
    seed: int = 0,
    offset: int = 0,
    device: Any = None,
    rng: Any = None,
    advance_rng: bool = True,
    stream: Any = None,
) -> Any:
    """`count` indices drawn uniformly, with replacement, from [0, n).

    Index j uses Philox counter offset + j of the uniform stream: the same seed and
    offset give the same indices on the CPU (`cuis::ref::uniform_indices`) and the
    GPU (`cuis::uniform_indices`), e.g. the candidate sets of the training loop.

    Args:
        count: number of indices, >= 1.
        n: the range, >= 1.
        seed, offset: the generator state, each in [0, 2^64) (baked into a captured
            CUDA graph: use `rng` there).
        device: where the result goes: "cpu" (a NumPy array; the default without
            `rng`), "cuda" / "cuda:N" (a PyTorch tensor, or CuPy without PyTorch), a
            torch.device (PyTorch, also for "cpu") or a CuPy Device. With `rng` and no
            device: beside `rng`, in its framework.
        rng: instead of seed/offset: an int64 array [seed, offset] (`cuis.rng_state`),
            read where it lives and, with `advance_rng`, advanced by `count`.
        stream: CUDA only, as for `cuis.sample`.

    Returns:
        An int64 array of `count` indices.
    """
    c = _count(count, "count", (1 << 63) - 1)
    nn = _count(n, "n", (1 << 63) - 1)
    if c <= 0 or nn <= 0:
        raise _arg_error("uniform_indices: count and n must be positive", ErrorCode.empty_input)
    seed_v, offset_v = _u64(seed, "seed"), _u64(offset, "offset")
    rng_arr = None
    if rng is not None:
        if seed_v != 0 or offset_v != 0:
            raise _arg_error("give either seed/offset or rng, not both")
        rng_arr, _, rng_place = _checked(rng, "rng")
    if device is None and rng_arr is not None:
        is_cuda, dev = rng_place
        out = fw.empty(rng_arr, (c,), "int64", is_cuda, dev)
        like = rng_arr
        handle = fw.stream_handle(stream, rng_arr, is_cuda, dev) if is_cuda else 0
    else:
        framework, is_cuda, dev = fw.parse_device("cpu" if device is None else device)
        _require_device(is_cuda, dev, "uniform_indices")
        if rng_arr is not None:
            _same_place((is_cuda, dev), rng_place, "device", "rng")
        out = fw.empty_on(framework, is_cuda, dev, (c,), "int64")
        like = out
        handle = (fw.stream_handle(stream, out, is_cuda, dev) if stream is not None
                  else fw.default_stream_for(framework, is_cuda, dev))
    if not is_cuda:
        _cuis.uniform_indices_cpu(out, nn, seed_v, offset_v, rng_arr, bool(advance_rng))
    else:
        _cuis.uniform_indices_cuda(out, nn, seed_v, offset_v, rng_arr, bool(advance_rng), handle)
        _keep_alive_on_stream((out,), out, handle, dev)
    return fw.finish(out, like)


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
    ||softmax(logits[r]) - onehot(labels[r])||_2 (METHOD.md section 1), in a
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


def rng_state(seed: int = 0, offset: int = 0, *, device: Any = "cpu") -> Any:
    """A generator state for `rng=`: an int64 array [seed, offset] on `device`
    ("cpu": NumPy; "cuda"/"cuda:N": PyTorch or CuPy; a torch.device: PyTorch).
    seed and offset are in [0, 2^64) and stored as their uint64 bits."""
    seed_v, offset_v = _u64(seed, "seed"), _u64(offset, "offset")
    framework, is_cuda, dev = fw.parse_device(device)
    _require_device(is_cuda, dev, "rng_state")

    def signed(v: int) -> int:
        return v - _U64 if v >= (1 << 63) else v

    if framework == fw.TORCH:
        torch = fw.torch_module()
        target = torch.device("cuda", dev) if is_cuda else torch.device("cpu")
        return torch.tensor([signed(seed_v), signed(offset_v)], dtype=torch.int64, device=target)
    if framework == fw.CUPY:
        import cupy

        with cupy.cuda.Device(dev):
            return cupy.asarray([signed(seed_v), signed(offset_v)], dtype=cupy.int64)
    import numpy as np

    return np.array([signed(seed_v), signed(offset_v)], dtype=np.int64)


def new_status(like: Any) -> Any:
    """A uint8[32] buffer beside a CUDA array `like` (same framework and device),
    for `status=`: a fixed address that CUDA graph replays write to."""
    arr = fw.as_array(like, "like")
    dl = arr.__dlpack_device__() if hasattr(arr, "__dlpack_device__") else (1, 0)
    is_cuda, dev = int(dl[0]) == 2, int(dl[1])
    if not is_cuda:
        raise _arg_error("new_status: status buffers are for CUDA arrays; CPU calls raise at once")
    return fw.empty(arr, (STATUS_BYTES,), "uint8", True, dev)


def counters_consumed(n: int, num_draws: int, replacement: bool = True) -> int:
    """Philox counters one `sample` call uses: num_draws with replacement, n without
    (`cuis::counters_consumed`). Advance `offset` by this between calls for fresh draws."""
    return int(_cuis.counters_consumed(_integer(n, "n"), _integer(num_draws, "num_draws"), bool(replacement)))


def device_count() -> int:
    """CUDA devices the extension's runtime sees (0 without a GPU or a driver)."""
    return int(_cuis.device_count())


def cuda_available() -> bool:
    """True when at least one CUDA device is usable by cuis."""
    return device_count() > 0

