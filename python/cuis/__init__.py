"""cuis: importance sampling for deep-network training, on the GPU.

Python bindings of the cuis C++/CUDA library. Arrays come in through DLPack
without a copy (NumPy, PyTorch, CuPy, JAX); CPU arrays run the library's CPU
reference and CUDA arrays its GPU path on the caller's stream; results come
back in the caller's framework, on the same device. The same seed and offset
give the same indices and weights everywhere, bit for bit.

    import cuis
    idx, w = cuis.sample(losses, 128, weighting="biased", k=0.5, seed=1, offset=step * 128)

Functions: `sample`, `uniform_indices`, `cross_entropy_scores`, `rng_state`,
`new_status`, `counters_consumed`, `device_count`, `cuda_available`.
Errors: `cuis.Error` and its subclasses, each with the C++ error code
(`cuis.ErrorCode`). PyTorch integration: `cuis.torch`; across data-parallel
ranks (torch.distributed): `cuis.torch.distributed`.
"""

from ._devices import cuda_available, device_count
from ._errors import (
    ArgumentError,
    CudaError,
    DeviceError,
    DeviceMismatchError,
    DTypeError,
    Error,
    ErrorCode,
    InputError,
    InternalError,
    LabelError,
    NoDeviceError,
    OutOfMemoryError,
    ScoreError,
    ShapeError,
    ShardError,
    StatusInfo,
    TooManyDrawsError,
)
from ._loss import cross_entropy_scores
from ._results import LossResult, SampleResult, Status, new_status
from ._rng import rng_state, uniform_indices
from ._sample import counters_consumed, sample

__version__ = "0.1.0"

__all__ = [
    "sample",
    "uniform_indices",
    "cross_entropy_scores",
    "rng_state",
    "new_status",
    "counters_consumed",
    "device_count",
    "cuda_available",
    "Status",
    "StatusInfo",
    "SampleResult",
    "LossResult",
    "ErrorCode",
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
