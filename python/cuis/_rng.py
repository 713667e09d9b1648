"""Uniform indices and generator states: `cuis.uniform_indices` (the
library's `cuis::uniform_indices` / `cuis::ref::uniform_indices`) and
`cuis.rng_state`, the int64 [seed, offset] array that `rng=` takes."""

from __future__ import annotations

from typing import Any

from . import _cuis
from . import _frameworks as fw
from ._args import _U64, _arg_error, _checked, _count, _same_place, _u64
from ._devices import _keep_alive_on_stream, _require_device
from ._errors import ErrorCode

__all__ = ["uniform_indices", "rng_state"]


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
