"""The CUDA devices and streams of the cuis functions: `device_count`,
`cuda_available`, the check that a device asked for by name exists, and
keeping PyTorch arrays alive while another stream uses them."""

from __future__ import annotations

from typing import Any

from . import _cuis
from . import _frameworks as fw
from ._errors import ErrorCode, _make_error

__all__ = ["device_count", "cuda_available"]


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


def device_count() -> int:
    """CUDA devices the extension's runtime sees (0 without a GPU or a driver)."""
    return int(_cuis.device_count())


def cuda_available() -> bool:
    """True when at least one CUDA device is usable by cuis."""
    return device_count() > 0
