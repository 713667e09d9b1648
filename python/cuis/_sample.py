"""`cuis.sample`, the importance sampler over the C++ library's `cuis::sample`
(CUDA arrays) and `cuis::ref::sample` (CPU arrays), and `counters_consumed`."""

from __future__ import annotations

from typing import Any

from . import _cuis
from . import _frameworks as fw
from ._args import (_arg_error, _checked, _count, _float, _integer, _rng_and_mean_loss, _same_place, _u64,
                    _weighting)
from ._devices import _keep_alive_on_stream
from ._results import STATUS_BYTES, SampleResult, Status

__all__ = ["sample", "counters_consumed"]


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
    rng_arr, mean_loss_value, mean_loss_arr = _rng_and_mean_loss(place, rng, mean_loss, "scores")

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


def counters_consumed(n: int, num_draws: int, replacement: bool = True) -> int:
    """Philox counters one `sample` call uses: num_draws with replacement, n without
    (`cuis::counters_consumed`). Advance `offset` by this between calls for fresh draws."""
    return int(_cuis.counters_consumed(_integer(n, "n"), _integer(num_draws, "num_draws"), bool(replacement)))
