"""Which framework an array comes from, where it lives, how to allocate the
outputs beside it, and which stream to run on.

Inputs are any DLPack producer. Outputs are allocated in the input's
framework: NumPy for NumPy inputs, PyTorch for PyTorch tensors (through its
caching allocator, so stream-ordered and graph-safe), CuPy for CuPy arrays.
CPU arrays of another framework (JAX, ...) get NumPy outputs converted with
that framework's `asarray` where it has one; CUDA arrays of another framework
are refused (their outputs could not be allocated in it).
"""

from __future__ import annotations

import sys
from typing import Any, Sequence, Tuple

import numpy as np

from ._errors import ErrorCode, _make_error

NUMPY, TORCH, CUPY, JAX, OTHER = "numpy", "torch", "cupy", "jax", "other"


def framework_of(x: Any) -> str:
    """The framework of an array, by the module of its type."""
    if isinstance(x, np.ndarray):
        return NUMPY
    root = type(x).__module__.split(".", 1)[0]
    if root == "torch":
        return TORCH
    if root == "cupy":
        return CUPY
    if root in ("jax", "jaxlib"):
        return JAX
    return OTHER


def as_array(x: Any, name: str) -> Any:
    """x as something nanobind's ndarray takes: torch tensors detached (DLPack
    refuses tensors that require grad), DLPack producers as they are, anything
    else through numpy.asarray (which keeps its dtype: a list of Python floats
    becomes float64 and is then refused with a dtype error)."""
    fw = framework_of(x)
    if fw == TORCH:
        return x.detach() if x.requires_grad else x
    if fw == NUMPY or hasattr(x, "__dlpack__"):
        return x
    try:
        return np.asarray(x)
    except Exception as e:  # noqa: BLE001 - any failure is "not an array"
        raise _make_error(int(ErrorCode.invalid_argument), f"{name} is not an array ({type(x).__name__}): {e}")


def torch_module():
    import torch

    return torch


def empty(like: Any, shape: Sequence[int], dtype: str, is_cuda: bool, device: int) -> Any:
    """An uninitialised array of `dtype` ("int64", "float32", "uint8", "int32")
    beside `like` (same framework and device)."""
    fw = framework_of(like)
    shape = tuple(int(s) for s in shape)
    if fw == TORCH:
        torch = torch_module()
        return torch.empty(shape, dtype=getattr(torch, dtype), device=like.device)
    if fw == CUPY:
        import cupy

        with cupy.cuda.Device(device):
            return cupy.empty(shape, dtype=dtype)
    if is_cuda:
        raise _make_error(
            int(ErrorCode.invalid_argument),
            f"CUDA arrays from {type(like).__module__}.{type(like).__name__}: cuis allocates device outputs "
            "with PyTorch or CuPy only; pass a torch tensor or a CuPy array (both take DLPack without a copy)",
            kind="device",
        )
    return np.empty(shape, dtype=dtype)


def finish(out: Any, like: Any) -> Any:
    """An output allocated by `empty` in the caller's framework (NumPy outputs
    of a non-NumPy CPU producer converted where the framework allows it)."""
    fw = framework_of(like)
    if fw == JAX and isinstance(out, np.ndarray):
        import jax.numpy as jnp

        return jnp.asarray(out)
    return out


def widen(x: Any) -> Any:
    """A CUDA array of float16/bfloat16 as float32 (exact: every such value is a
    float32), in its framework; float32 as it is."""
    fw = framework_of(x)
    if fw == TORCH:
        torch = torch_module()
        return x if x.dtype == torch.float32 else x.float()
    if fw == CUPY:
        import cupy

        return x if x.dtype == cupy.float32 else x.astype(cupy.float32)
    return x


def is_float32(x: Any) -> bool:
    dt = getattr(x, "dtype", None)
    return dt is not None and str(dt).rsplit(".", 1)[-1] == "float32"


def labels_int32(labels: Any, classes: int) -> Any:
    """CUDA int64 labels as int32 for cuis::cross_entropy: clamped to
    [-1, classes] first, so that a label beyond int32 stays out of range (the
    status then shows the clamped value) instead of wrapping into range."""
    fw = framework_of(labels)
    if fw == TORCH:
        torch = torch_module()
        if labels.dtype == torch.int32:
            return labels
        return labels.clamp(-1, classes).to(torch.int32)
    if fw == CUPY:
        import cupy

        if labels.dtype == cupy.int32:
            return labels
        return cupy.clip(labels, -1, classes).astype(cupy.int32)
    return labels


def stream_handle(stream: Any, like: Any, is_cuda: bool, device: int) -> int:
    """The cudaStream_t to enqueue on, as an integer.

    `stream` may be None (PyTorch: the current stream of the array's device;
    CuPy: its current stream; otherwise the legacy default stream 0), an int
    (a raw cudaStream_t), a torch.cuda.Stream (.cuda_stream), a CuPy stream
    (.ptr) or any object with the CUDA stream protocol (__cuda_stream__)."""
    if stream is None:
        if not is_cuda:
            return 0
        fw = framework_of(like)
        if fw == TORCH:
            torch = torch_module()
            return int(torch.cuda.current_stream(like.device).cuda_stream)
        if fw == CUPY:
            import cupy

            with cupy.cuda.Device(device):
                return int(cupy.cuda.get_current_stream().ptr)
        return 0
    if isinstance(stream, int):
        if stream < 0:
            raise _make_error(int(ErrorCode.invalid_argument), f"stream handle {stream} is negative")
        return stream
    if hasattr(stream, "__cuda_stream__"):
        return int(stream.__cuda_stream__()[1])
    for attr in ("cuda_stream", "ptr", "handle"):
        if hasattr(stream, attr):
            return int(getattr(stream, attr))
    raise _make_error(
        int(ErrorCode.invalid_argument),
        f"stream must be None, an int (cudaStream_t) or a stream object, got {type(stream).__name__}",
    )


def parse_device(device: Any) -> Tuple[str, bool, int]:
    """(framework, is_cuda, index) for a device argument: "cpu" (NumPy),
    "cuda" / "cuda:N" (PyTorch where installed, else CuPy), a torch.device
    (PyTorch) or a CuPy Device (CuPy)."""
    root = type(device).__module__.split(".", 1)[0]
    if root == "torch":
        fw = TORCH
        is_cuda = device.type == "cuda"
        index = device.index if device.index is not None else (torch_module().cuda.current_device() if is_cuda else 0)
        if device.type not in ("cpu", "cuda"):
            raise _make_error(int(ErrorCode.invalid_argument), f"device {device} is not cpu or cuda", kind="device")
        return fw, is_cuda, int(index)
    if root == "cupy":
        return CUPY, True, int(device.id)
    if isinstance(device, str):
        text = device.strip().lower()
        if text == "cpu":
            return NUMPY, False, 0
        if text == "cuda" or text.startswith("cuda:"):
            index = 0
            if ":" in text:
                try:
                    index = int(text.split(":", 1)[1])
                except ValueError:
                    index = -1
            if index < 0:
                raise _make_error(int(ErrorCode.invalid_argument), f"device {device!r} is not cpu, cuda or cuda:N",
                                  kind="device")
            if "torch" in sys.modules or _importable("torch"):
                return TORCH, True, index
            if _importable("cupy"):
                return CUPY, True, index
            raise _make_error(int(ErrorCode.invalid_argument),
                              f"device {device!r}: CUDA outputs need PyTorch or CuPy, and neither is installed",
                              kind="device")
    raise _make_error(int(ErrorCode.invalid_argument),
                      f"device must be 'cpu', 'cuda', 'cuda:N', a torch.device or a CuPy Device, got {device!r}",
                      kind="device")


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def empty_on(fw: str, is_cuda: bool, index: int, shape: Sequence[int], dtype: str) -> Any:
    """An uninitialised array in framework `fw` on a device (for calls that have no input array)."""
    shape = tuple(int(s) for s in shape)
    if fw == TORCH:
        torch = torch_module()
        dev = torch.device("cuda", index) if is_cuda else torch.device("cpu")
        return torch.empty(shape, dtype=getattr(torch, dtype), device=dev)
    if fw == CUPY:
        import cupy

        with cupy.cuda.Device(index):
            return cupy.empty(shape, dtype=dtype)
    return np.empty(shape, dtype=dtype)


def default_stream_for(fw: str, is_cuda: bool, index: int) -> int:
    if not is_cuda:
        return 0
    if fw == TORCH:
        torch = torch_module()
        return int(torch.cuda.current_stream(torch.device("cuda", index)).cuda_stream)
    if fw == CUPY:
        import cupy

        with cupy.cuda.Device(index):
            return int(cupy.cuda.get_current_stream().ptr)
    return 0
