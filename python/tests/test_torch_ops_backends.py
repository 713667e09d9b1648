"""cuis.torch's two registrations of torch.ops.cuis.*: C++ (libcuis_torch.so,
the stable ABI) and the Python fallback (torch.library.custom_op). The test
process uses the C++ ops; a child process with CUIS_TORCH_OPS=python makes the
same calls (_ops_cases.py), and every output and every error must agree bit
for bit; opcheck passes on the fallback too. The C++ ops' own opcheck,
FakeTensor and torch.compile tests are in test_torch_ops.py."""

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import cuis  # noqa: E402
import cuis.torch as ct  # noqa: E402
from cuis import _torch_ops  # noqa: E402
from conftest import NO_GPU_REASON, TORCH_CUDA  # noqa: E402

import _ops_cases  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent


def _child(env_value, *args, code=None):
    env = dict(os.environ, CUIS_TORCH_OPS=env_value)
    cmd = [sys.executable] + (["-c", code] if code else [str(HERE / "_ops_cases.py"), *args])
    return subprocess.run(cmd, env=env, cwd=HERE, capture_output=True, text=True, timeout=600)


def test_cpp_ops_are_the_ones_loaded():
    # scripts/test-python builds with CUIS_TORCH_OPS=ON and sets CUIS_REQUIRE_TORCH_OPS: no silent fallback.
    if os.environ.get("CUIS_TORCH_OPS", "").strip().lower() == "python":
        pytest.skip("CUIS_TORCH_OPS=python chose the Python registration")
    if os.environ.get("CUIS_REQUIRE_TORCH_OPS") or os.path.exists(_torch_ops.LIBRARY):
        assert ct.OPS_BACKEND == "cpp", ct.OPS_NOTE
        assert torch.ops.cuis.sample.default._schema.arguments[1].type.kind() == "IntType"


def _equal(a, b):
    if a.dtype.is_floating_point:
        return a.dtype == b.dtype and torch.equal(a.view(torch.int32 if a.element_size() == 4 else torch.int16),
                                                  b.view(torch.int32 if b.element_size() == 4 else torch.int16))
    return a.dtype == b.dtype and torch.equal(a, b)


def _compare(device, tmp_path):
    out = tmp_path / "python_ops.pt"
    r = _child("python", str(out), device)
    assert r.returncode == 0, r.stderr[-3000:]
    theirs = torch.load(out, weights_only=False)
    assert theirs["backend"] == "python"
    ours = _ops_cases.run(device)
    assert set(ours) == set(theirs["results"])
    for name, mine in ours.items():
        other = theirs["results"][name]
        assert mine[0] == other[0], (name, mine, other)
        if mine[0] == "ok":
            assert len(mine[1]) == len(other[1]), name
            for a, b in zip(mine[1], other[1]):
                assert _equal(a, b), (name, a, b)
        else:
            assert mine[1:3] == other[1:3], (name, mine, other)          # class, code
            assert mine[4] == other[4] or (mine[4] and np.isnan(mine[4][2]) and np.isnan(other[4][2])), name
            assert mine[3] == other[3], (name, mine[3], other[3])        # the message
    return ours


def test_python_fallback_equals_cpp_ops_cpu(tmp_path):
    if ct.OPS_BACKEND != "cpp":
        pytest.skip(f"the C++ ops are not loaded: {ct.OPS_NOTE}")
    ours = _compare("cpu", tmp_path)
    assert ours["negative_score"][1:3] == ("ScoreError", int(cuis.ErrorCode.negative_score))
    assert ours["negative_score"][4][1:3] == (17, float(np.float32(-0.1)))  # index and exact value
    assert ours["huge_label"][4][1:3] == (5, float(2**40))
    assert ours["float64"][1] == "DTypeError" and ours["strided"][1] == "ArgumentError"


@pytest.mark.skipif(not TORCH_CUDA, reason=NO_GPU_REASON)
def test_python_fallback_equals_cpp_ops_cuda(tmp_path):
    if ct.OPS_BACKEND != "cpp":
        pytest.skip(f"the C++ ops are not loaded: {ct.OPS_NOTE}")
    _compare("cuda", tmp_path)


def test_direct_cpp_op_error_is_tagged():
    if ct.OPS_BACKEND != "cpp":
        pytest.skip(f"the C++ ops are not loaded: {ct.OPS_NOTE}")
    s = torch.tensor([1.0, -0.1, 2.0])
    with pytest.raises(RuntimeError) as e:
        torch.ops.cuis.sample(s, 2, True, 1, 0.5, 0.0, 0.0, 0.0, 1.0, None, 0, 0)
    assert str(e.value).startswith(f"[cuis:{int(cuis.ErrorCode.negative_score)}::1:")
    err = _torch_ops.op_error(e.value)
    assert isinstance(err, cuis.ScoreError) and err.index == 1 and err.value == float(np.float32(-0.1))
    assert str(err) == "score 1 is negative (value -0.1) [cuis::Error::negative_score]"
    with pytest.raises(RuntimeError, match=r"^\[cuis:\d+:dtype\] scores has dtype int64"):
        torch.ops.cuis.sample(torch.arange(3), 2, True, 1, 0.5, 0.0, 0.0, 0.0, 1.0, None, 0, 0)
    assert _torch_ops.op_error(RuntimeError("unrelated")) is None


def test_tag_parsing():
    e = _torch_ops.op_error(RuntimeError("[cuis:10::3:7fc00001:0:0] score 3 is NaN (value nan)\nmore: [x]"))
    assert isinstance(e, cuis.ScoreError) and e.index == 3 and np.isnan(e.value)
    assert e.message == "score 3 is NaN (value nan)\nmore: [x]"
    e = _torch_ops.op_error(RuntimeError("[cuis:12::-1:bdcccccd:0:2] m"))
    assert e.value == float(np.float32(-0.1)) and e.rank == 2
    assert isinstance(_torch_ops.op_error(RuntimeError("[cuis:2:device] x on cuda:1")), cuis.DeviceMismatchError)
    assert _torch_ops.op_error(RuntimeError("[cuis:9999:] not a code")) is None  # left a RuntimeError
    assert _torch_ops.op_error(RuntimeError("[cuis:10::3:nan:0:0] old form")) is None


def test_wrappers_pass_inputs_detached():
    z = torch.randn(6, 4, requires_grad=True)
    y = torch.tensor([0, 1, 2, 3, 0, 1])
    loss, norm = ct.cross_entropy_scores(z, y)
    assert not loss.requires_grad and loss.grad_fn is None and not norm.requires_grad
    s = (torch.rand(50) + 0.1).requires_grad_()
    idx, w = ct.sample(s, 5, seed=1)
    assert not w.requires_grad and w.grad_fn is None
    ref = ct.sample(s.detach(), 5, seed=1)
    assert torch.equal(idx, ref[0]) and torch.equal(w, ref[1])


def test_cpp_op_refusals():
    if ct.OPS_BACKEND != "cpp":
        pytest.skip(f"the C++ ops are not loaded: {ct.OPS_NOTE}")
    s = torch.rand(10)
    with pytest.raises(RuntimeError, match=r"^\[cuis:2:\] weighting code 7 is not 0, 1 or 2$"):
        torch.ops.cuis.sample(s, 2, True, 7, 0.5, 0.0, 0.0, 0.0, 1.0, None, 0, 0)
    with pytest.raises(cuis.ArgumentError, match="scores is not a dense"):
        ct.sample(s.to_sparse(), 2)
    with pytest.raises(cuis.DeviceMismatchError, match="device type"):
        ct.uniform_indices(4, 10, device="meta")
    # torch's allocator refusing the output (1 PiB: beyond any address space) is cuis's out_of_memory
    with pytest.raises(cuis.OutOfMemoryError, match=r"torch could not allocate 140737488355328 x 8 bytes on cpu"):
        ct.uniform_indices(2**47, 10)


@pytest.mark.skipif(not TORCH_CUDA, reason=NO_GPU_REASON)
def test_cuda_without_index_is_the_current_device():
    dev = torch.device("cuda", torch.cuda.current_device())
    assert ct.uniform_indices(5, 10, device="cuda").device == dev
    assert torch.equal(ct.uniform_indices(5, 10, seed=3, device="cuda").cpu(), ct.uniform_indices(5, 10, seed=3))


def test_opcheck_python_fallback():
    code = """
import torch, cuis.torch as ct, _ops_cases
assert ct.OPS_BACKEND == "python", ct.OPS_NOTE
for op, args in _ops_cases.opcheck_cases():
    torch.library.opcheck(op, args)
print("opcheck ok")
"""
    r = _child("python", code=code)
    assert r.returncode == 0 and "opcheck ok" in r.stdout, r.stderr[-3000:]


def test_ops_backend_setting_is_checked():
    r = _child("bogus", code="import cuis.torch")
    assert r.returncode != 0 and "CUIS_TORCH_OPS='bogus': expected auto, cpp or python" in r.stderr
    r = _child("cpp", code="import cuis.torch as ct; print(ct.OPS_BACKEND)")
    if os.path.exists(_torch_ops.LIBRARY):
        assert r.returncode == 0 and r.stdout.strip() == "cpp", r.stderr[-2000:]
    else:
        assert r.returncode != 0 and "CUIS_TORCH_OPS=cpp" in r.stderr
