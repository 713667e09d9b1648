"""Shared helpers of the Python package's tests (pytest, from the repository root:
`python -m pytest python/tests`). They test the installed package `cuis`."""

from __future__ import annotations

import ctypes
import os
import pathlib
import shutil

# JAX on a GPU machine would take the GPU by default (and preallocate most of its
# memory): the JAX tests are about JAX CPU arrays (JAX CUDA arrays are refused).
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import cuis  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[2]

try:
    import torch
except ImportError:  # pragma: no cover - the test command installs torch
    torch = None

HAS_GPU = cuis.device_count() > 0
TORCH_CUDA = torch is not None and torch.cuda.is_available() and HAS_GPU
if not HAS_GPU:
    NO_GPU_REASON = "no CUDA device on this machine (cuis.device_count() == 0): the GPU tests run where one is present"
elif torch is None:
    NO_GPU_REASON = "PyTorch is not installed: the GPU tests use torch CUDA tensors"
else:
    NO_GPU_REASON = "PyTorch cannot use the GPU here (torch.cuda.is_available() is False)"

if os.environ.get("CUIS_REQUIRE_GPU") and not TORCH_CUDA:  # scripts/gpu-check: skipping is failing
    pytest.exit(f"CUIS_REQUIRE_GPU is set but the GPU tests would skip: {NO_GPU_REASON}", returncode=1)

requires_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
requires_gpu = pytest.mark.skipif(not TORCH_CUDA, reason=NO_GPU_REASON)


def cli_path() -> pathlib.Path | None:
    """The cuis-sample tool: $CUIS_SAMPLE, else the default build folder's."""
    env = os.environ.get("CUIS_SAMPLE")
    if env:
        return pathlib.Path(env)
    for candidate in (REPO / "build" / "src" / "cli" / "cuis-sample", shutil.which("cuis-sample")):
        if candidate and pathlib.Path(candidate).is_file():
            return pathlib.Path(candidate)
    return None


@pytest.fixture(scope="session")
def cuis_sample_cli() -> pathlib.Path:
    path = cli_path()
    if path is None:
        pytest.skip("cuis-sample not found: set CUIS_SAMPLE (scripts/test does) or build build/src/cli/cuis-sample")
    if not path.is_file():
        pytest.fail(f"CUIS_SAMPLE={path} does not exist")
    return path


def bits(a) -> np.ndarray:
    """The float32 bit patterns of an array (for bit-for-bit comparisons)."""
    return np.ascontiguousarray(np.asarray(a, dtype=np.float32)).view(np.uint32)


# ------------------------------------------------------------------ DLPack fakes


class _DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class _DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class _DLTensor(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.c_void_p),
        ("device", _DLDevice),
        ("ndim", ctypes.c_int32),
        ("dtype", _DLDataType),
        ("shape", ctypes.POINTER(ctypes.c_int64)),
        ("strides", ctypes.POINTER(ctypes.c_int64)),
        ("byte_offset", ctypes.c_uint64),
    ]


_DELETER = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


class _DLManagedTensor(ctypes.Structure):
    _fields_ = [("dl_tensor", _DLTensor), ("manager_ctx", ctypes.c_void_p), ("deleter", _DELETER)]


_PyCapsule_New = ctypes.pythonapi.PyCapsule_New
_PyCapsule_New.restype = ctypes.py_object
_PyCapsule_New.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]

_DTYPES = {"float32": (2, 32), "float16": (2, 16), "int64": (0, 64), "int32": (0, 32), "uint8": (1, 8)}


class FakeDeviceArray:
    """A DLPack producer that claims to live on a CUDA device (or another
    device type) without any memory there: lets the CPU-only tests reach the
    device checks and the no-device path. Its data must never be read."""

    def __init__(self, shape, dtype="float32", device_type=2, device_id=0):
        self.shape = tuple(shape)
        self.dtype = dtype
        self._device = (device_type, device_id)
        self._host = np.zeros(max(1, int(np.prod(self.shape))) * 8, np.uint8)  # never read: a valid address
        self._keep = []

    def __dlpack_device__(self):
        return self._device

    def __dlpack__(self, stream=None, max_version=None, dl_device=None, copy=None):  # noqa: ARG002
        shape = (ctypes.c_int64 * max(1, len(self.shape)))(*self.shape)
        mt = _DLManagedTensor()
        mt.dl_tensor.data = self._host.ctypes.data
        mt.dl_tensor.device = _DLDevice(*self._device)
        mt.dl_tensor.ndim = len(self.shape)
        code, nbits = _DTYPES[self.dtype]
        mt.dl_tensor.dtype = _DLDataType(code, nbits, 1)
        mt.dl_tensor.shape = ctypes.cast(shape, ctypes.POINTER(ctypes.c_int64))
        mt.dl_tensor.strides = ctypes.POINTER(ctypes.c_int64)()
        mt.dl_tensor.byte_offset = 0
        mt.deleter = _DELETER()
        self._keep.append((shape, mt))  # alive while a consumer may hold the capsule
        return _PyCapsule_New(ctypes.addressof(mt), b"dltensor", None)


@pytest.fixture
def fake_cuda():
    return FakeDeviceArray


# ------------------------------------------------------------------ ranks (cuis.torch.distributed)

DIST_RANKS = (1, 2, 3, 4)


@pytest.fixture(scope="session")
def dist_runs(tmp_path_factory):
    """Every scenario of _dist_scenarios.py on R = 1, 2, 3 and 4 ranks of a CPU process group
    (gloo): one spawn of 4 processes, the groups of the first R of them in turn (R = 4: the
    default group), so that the R's run loads a state the run with R - 1 ranks saved; about
    12 s on two cores. {R: [rank 0's results, ...]}, or for every R the error of a run that hung."""
    pytest.importorskip("torch")
    import _dist
    import _dist_scenarios

    shared = str(tmp_path_factory.mktemp("dist"))
    world = max(DIST_RANKS)
    try:
        per_process = _dist.run_ranks(_dist_scenarios.run_nested, world, shared, DIST_RANKS)
    except AssertionError as e:  # a run that hung: every test fails with this
        return {r: e for r in DIST_RANKS}
    return {r: [p if isinstance(p, _dist.RankFailure) else p[r] for p in per_process[:r]] for r in DIST_RANKS}
