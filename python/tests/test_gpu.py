"""The GPU path, with PyTorch CUDA tensors: equal to the CPU reference bit for
bit, statuses on the device, the caller's stream, CUDA graphs with the RNG
state in device memory. Skipped, saying why, where there is no GPU."""

import numpy as np
import pytest

import cuis
from conftest import TORCH_CUDA, NO_GPU_REASON, bits, torch

pytestmark = pytest.mark.skipif(not TORCH_CUDA, reason=NO_GPU_REASON)


def scores(n, seed=0):
    rng = np.random.default_rng(seed)
    s = rng.gamma(0.7, 2.0, n).astype(np.float32)
    s[rng.integers(0, n, n // 10)] = 0.0
    return s


OPTION_SETS = [
    {},
    {"replacement": False},
    {"weighting": "biased", "k": 0.5},
    {"smooth": 0.125, "power": 0.5},
    {"adaptive_smooth": 0.5, "mean_loss": 1.5},
    {"weighting": "none"},
    {"replacement": False, "weighting": "biased", "k": 0.75, "smooth": 0.25},
]


@pytest.mark.parametrize("n", [1000, 2048, 70_000])
@pytest.mark.parametrize("opts", OPTION_SETS)
def test_cuda_equals_cpu_bit_for_bit(n, opts):
    s = scores(n, n)
    b = 500
    want = cuis.sample(s, b, seed=7, offset=123, **opts)
    got = cuis.sample(torch.from_numpy(s).cuda(), b, seed=7, offset=123, check=True, **opts)
    assert got[0].device.type == "cuda" and got[1].device.type == "cuda"
    assert got[0].dtype == torch.int64 and got[1].dtype == torch.float32
    np.testing.assert_array_equal(got[0].cpu().numpy(), want[0])
    np.testing.assert_array_equal(bits(got[1].cpu().numpy()), bits(want[1]))


def test_candidate_ids_and_16_bit_scores_on_device():
    s = scores(5000, 1)
    ids = np.arange(5000, dtype=np.int64) * 3
    want = cuis.sample(s.astype(np.float16), 256, seed=2, candidate_ids=ids)
    for dtype in (torch.float16, torch.float32):
        t = torch.from_numpy(s.astype(np.float16).astype(np.float32)).to(dtype).cuda()
        got = cuis.sample(t, 256, seed=2, candidate_ids=torch.from_numpy(ids).cuda(), check=True)
        np.testing.assert_array_equal(got[0].cpu().numpy(), want[0])
        np.testing.assert_array_equal(bits(got[1].cpu().numpy()), bits(want[1]))
    bf = torch.from_numpy(s).to(torch.bfloat16)
    want = cuis.sample(bf, 256, seed=2)
    got = cuis.sample(bf.cuda(), 256, seed=2, check=True)
    np.testing.assert_array_equal(got[0].cpu().numpy(), want[0].numpy())


def test_score_error_goes_to_the_status():
    s = torch.ones(100, device="cuda")
    s[37] = float("nan")
    r = cuis.sample(s, 10, seed=1)  # no host sync, no exception
    assert r.status.on_device
    info = r.status.read()
    assert info.code == cuis.ErrorCode.nan_score and info.index == 37
    with pytest.raises(cuis.ScoreError) as e:
        r.status.check()
    assert e.value.index == 37 and "score 37 is NaN" in str(e.value)
    assert torch.all(r.indices == -1) and torch.all(r.weights == 0)
    with pytest.raises(cuis.ScoreError):
        cuis.sample(s, 10, check=True)
    s[37] = -2.0
    with pytest.raises(cuis.ScoreError) as e:
        cuis.sample(s, 10, check=True)
    assert e.value.code == cuis.ErrorCode.negative_score and e.value.value == -2.0


def test_status_buffer_reused():
    s = torch.ones(10, device="cuda")
    st = cuis.new_status(s)
    assert st.dtype == torch.uint8 and st.numel() == 32 and st.device == s.device
    r = cuis.sample(s, 4, status=st)
    assert r.status.buffer is st and r.status.ok
    s[0] = float("inf")
    r = cuis.sample(s, 4, status=st)
    assert r.status.read().code == cuis.ErrorCode.inf_score


def test_device_mismatch_and_too_many_draws():
    with pytest.raises(cuis.DeviceMismatchError):
        cuis.sample(torch.ones(4, device="cuda"), 2, candidate_ids=torch.arange(4))
    with pytest.raises(cuis.DeviceMismatchError):
        cuis.sample(torch.ones(4), 2, candidate_ids=torch.arange(4, device="cuda"))
    with pytest.raises(cuis.TooManyDrawsError):
        cuis.sample(torch.ones(4, device="cuda"), 5, replacement=False)


def test_rng_tensor_advances_on_device():
    s = torch.from_numpy(scores(3000, 3)).cuda()
    state = cuis.rng_state(9, 40, device="cuda")
    a = cuis.sample(s, 64, rng=state)
    b = cuis.sample(s, 64, rng=state)
    assert state.tolist() == [9, 40 + 128]
    np.testing.assert_array_equal(a[0].cpu().numpy(), cuis.sample(s.cpu(), 64, seed=9, offset=40)[0].numpy())
    np.testing.assert_array_equal(b[0].cpu().numpy(), cuis.sample(s.cpu(), 64, seed=9, offset=104)[0].numpy())


def test_mean_loss_on_device():
    s = torch.from_numpy(scores(3000, 4)).cuda()
    ml = torch.tensor([1.5], device="cuda")
    a = cuis.sample(s, 64, seed=1, adaptive_smooth=0.5, mean_loss=ml, check=True)
    b = cuis.sample(s.cpu(), 64, seed=1, adaptive_smooth=0.5, mean_loss=1.5)
    np.testing.assert_array_equal(a[0].cpu().numpy(), b[0].numpy())


def test_cuda_graph_replays_draw_afresh_with_rng_tensor():
    s = torch.from_numpy(scores(10_000, 5)).cuda()
    state = cuis.rng_state(5, 0, device="cuda")
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up outside capture
        cuis.sample(s, 64, rng=state)
    torch.cuda.current_stream().wait_stream(side)
    state.copy_(torch.tensor([5, 0]))
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        idx, w = cuis.sample(s, 64, rng=state)
    outs = []
    for _ in range(3):
        g.replay()
        outs.append(idx.clone())
    torch.cuda.synchronize()
    assert state.tolist() == [5, 3 * 64]
    for i, out in enumerate(outs):
        want = cuis.sample(s.cpu(), 64, seed=5, offset=64 * i)[0]
        np.testing.assert_array_equal(out.cpu().numpy(), want.numpy())


def test_cuda_graph_bakes_python_ints():
    s = torch.from_numpy(scores(10_000, 6)).cuda()
    cuis.sample(s, 32, seed=3)  # warm-up
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        idx, _ = cuis.sample(s, 32, seed=3, offset=0)
    outs = []
    for _ in range(2):
        g.replay()
        outs.append(idx.clone())
    torch.cuda.synchronize()
    assert torch.equal(outs[0], outs[1])


def test_runs_on_the_callers_stream():
    s = torch.from_numpy(scores(50_000, 7)).cuda()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        a = cuis.sample(s, 128, seed=1)
        assert a.status.stream == side.cuda_stream
    b = cuis.sample(s, 128, seed=1, stream=side)
    side.synchronize()
    assert torch.equal(a[0], b[0])


def test_uniform_indices_cuda_equals_cpu():
    a = cuis.uniform_indices(10_000, 977, seed=4, offset=33, device="cuda")
    assert isinstance(a, torch.Tensor) and a.device.type == "cuda"
    b = cuis.uniform_indices(10_000, 977, seed=4, offset=33)
    np.testing.assert_array_equal(a.cpu().numpy(), b)
    state = cuis.rng_state(4, 33, device="cuda")
    c = cuis.uniform_indices(10_000, 977, rng=state)
    assert c.device.type == "cuda" and state.tolist() == [4, 10_033]
    np.testing.assert_array_equal(c.cpu().numpy(), b)


def test_cross_entropy_cuda_close_to_cpu():
    z = torch.randn(300, 17) * 4
    y = torch.randint(0, 17, (300,))
    want = cuis.cross_entropy_scores(z, y)
    got = cuis.cross_entropy_scores(z.cuda(), y.cuda(), check=True)
    torch.testing.assert_close(got[0].cpu(), want[0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(got[1].cpu(), want[1], rtol=1e-5, atol=1e-5)
    y[5] = 17
    y[9] = -1
    r = cuis.cross_entropy_scores(z.cuda(), y.cuda())
    info = r.status.read()
    assert info.code == cuis.ErrorCode.invalid_label and info.index == 5
    with pytest.raises(cuis.LabelError):
        r.status.check()


def test_cupy_arrays_if_installed():
    cupy = pytest.importorskip("cupy")
    s = cupy.asarray(scores(2000, 8))
    idx, w = cuis.sample(s, 100, seed=1, check=True)
    assert isinstance(idx, cupy.ndarray)
    want = cuis.sample(cupy.asnumpy(s), 100, seed=1)
    np.testing.assert_array_equal(cupy.asnumpy(idx), want[0])
