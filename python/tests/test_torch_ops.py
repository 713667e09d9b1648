"""cuis.torch: the custom ops (same draws as cuis.sample, opcheck, FakeTensor,
torch.compile(fullgraph=True) on the CPU) and ImportanceSampler."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import cuis  # noqa: E402
import cuis.torch as ct  # noqa: E402
from conftest import TORCH_CUDA, NO_GPU_REASON, bits  # noqa: E402

import _ops_cases  # noqa: E402

S = torch.tensor([0.5, 0.0, 3.0, 1.5])


def scores(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, generator=g) * 4


@pytest.mark.parametrize("opts", [{}, {"replacement": False}, {"weighting": "biased", "k": 0.5},
                                  {"smooth": 0.25, "power": 0.5}, {"weighting": "none"}])
def test_op_equals_cuis_sample(opts):
    s = scores(3000, 1)
    idx, w = ct.sample(s, 200, seed=2**64 - 5, offset=2**63 + 7, **opts)
    ref = cuis.sample(s, 200, seed=2**64 - 5, offset=2**63 + 7, **opts)
    assert torch.equal(idx, ref[0])
    np.testing.assert_array_equal(bits(w.numpy()), bits(ref[1].numpy()))


def test_rng_op_mutates_state_and_candidates():
    state = cuis.rng_state(3, 10, device=torch.device("cpu"))
    ids = torch.arange(3000) + 1000
    s = scores(3000, 2)
    idx, w, st = ct.sample(s, 50, rng=state, candidate_ids=ids, return_status=True)
    assert state.tolist() == [3, 60]
    assert st.dtype == torch.uint8 and st.numel() == 32
    ct.check_status(st)
    ref = cuis.sample(s, 50, seed=3, offset=10, candidate_ids=ids)
    assert torch.equal(idx, ref[0])
    # mean loss as a tensor goes with rng (SampleOptions::d_mean_loss)
    ml = torch.tensor([2.0])
    a = ct.sample(s, 50, rng=cuis.rng_state(1, 0, device=torch.device("cpu")), adaptive_smooth=0.5, mean_loss=ml)
    b = cuis.sample(s, 50, seed=1, adaptive_smooth=0.5, mean_loss=2.0)
    assert torch.equal(a[0], b[0])


def test_uniform_and_cross_entropy_ops():
    a = ct.uniform_indices(100, 7, seed=4, offset=9)
    assert torch.equal(a, torch.from_numpy(cuis.uniform_indices(100, 7, seed=4, offset=9)))
    state = cuis.rng_state(4, 9, device=torch.device("cpu"))
    b = ct.uniform_indices(100, 7, rng=state)
    assert torch.equal(a, b) and state.tolist() == [4, 109]
    z, y = torch.randn(10, 4), torch.randint(0, 4, (10,))
    loss, norm = ct.cross_entropy_scores(z, y)
    ref = cuis.cross_entropy_scores(z, y)
    assert torch.equal(loss, ref[0]) and torch.equal(norm, ref[1])


def test_op_errors_are_cuis_errors():
    with pytest.raises(cuis.ScoreError) as e:
        ct.sample(torch.tensor([1.0, float("nan")]), 2)
    assert e.value.index == 1
    with pytest.raises(cuis.TooManyDrawsError):
        ct.sample(S, 5, replacement=False)
    with pytest.raises(cuis.LabelError):
        ct.cross_entropy_scores(torch.zeros(2, 3), torch.tensor([0, 3]))
    with pytest.raises(cuis.ArgumentError):
        ct.sample(S, 2, weighting="odd")


def test_opcheck_cpu():
    for op, args in _ops_cases.opcheck_cases():
        torch.library.opcheck(op, args)


def test_fake_tensor_shapes():
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode():
        s = torch.empty(1000)
        idx, w = ct.sample(s, 64, seed=1)
        assert idx.shape == (64,) and idx.dtype == torch.int64 and w.dtype == torch.float32
        loss, norm = ct.cross_entropy_scores(torch.empty(9, 3), torch.empty(9, dtype=torch.int64))
        assert loss.shape == (9,)


def test_torch_compile_fullgraph_cpu():
    def step(logits, labels, seed_tensor):
        loss, norm = ct.cross_entropy_scores(logits, labels)
        idx, w = ct.sample(loss + 0.01, 32, weighting="biased", k=0.5, rng=seed_tensor)
        return idx, w * 2.0, loss.mean()

    compiled = torch.compile(step, fullgraph=True)
    z, y = torch.randn(200, 10), torch.randint(0, 10, (200,))
    st_eager = cuis.rng_state(7, 0, device=torch.device("cpu"))
    st_comp = cuis.rng_state(7, 0, device=torch.device("cpu"))
    for _ in range(2):
        e = step(z, y, st_eager)
        c = compiled(z, y, st_comp)
        assert torch.equal(e[0], c[0])
        np.testing.assert_array_equal(bits(e[1].numpy()), bits(c[1].numpy()))
    assert st_comp.tolist() == [7, 64]  # the mutation of rng survives compilation


# ------------------------------------------------------------ ImportanceSampler


def test_sampler_draws_by_last_loss_and_unseen_get_the_mean():
    sp = ct.ImportanceSampler(100, 4000, k=0.5, device="cpu", seed=1, power=1.0)
    torch.testing.assert_close(sp.scores(), torch.ones(100))  # nothing seen: uniform
    idx, w = sp.sample()
    assert idx.shape == (4000,) and w.dtype == torch.float32
    sp.update(torch.tensor([0, 1, 2]), torch.tensor([10.0, 1.0, 1.0]))
    sp.update(torch.tensor([1]), torch.tensor([4.0]))  # last loss kept
    assert sp.loss[:3].tolist() == [10.0, 4.0, 1.0]
    assert sp.mean_loss().item() == pytest.approx(5.0)
    assert sp.scores()[50].item() == pytest.approx(5.0)  # unseen: the mean observed loss
    idx, w = sp.sample()
    counts = torch.bincount(idx, minlength=100).float()
    total = 10 + 4 + 1 + 97 * 5
    assert abs(counts[0].item() / 4000 - 10 / total) < 0.01
    assert abs(counts[2].item() / 4000 - 1 / total) < 0.01
    # biased weights: higher for rarer samples
    assert w[idx == 2].mean() > w[idx == 0].mean()


def test_sampler_warmup_smoothing_and_state_dict():
    sp = ct.ImportanceSampler(50, 16, k=0.5, seed=3, warmup=2, smooth=0.1, power=0.5)
    for _ in range(2):
        idx, w = sp.sample()
        assert torch.all(w == 1)
    sp.update(torch.arange(50), torch.linspace(0, 5, 50))
    sp.sample()
    state = sp.state_dict()
    a = [sp.sample() for _ in range(3)]
    other = ct.ImportanceSampler(50, 16, k=0.5, seed=99)
    other.load_state_dict(state)
    b = [other.sample() for _ in range(3)]
    for (ia, wa), (ib, wb) in zip(a, b):
        assert torch.equal(ia, ib) and torch.equal(wa, wb)
    assert other.warmup == 2 and other.smooth == pytest.approx(0.1) and other.steps == sp.steps
    with pytest.raises(cuis.ShapeError):
        sp.update(torch.arange(3), torch.ones(2))
    with pytest.raises(cuis.ShapeError):
        ct.ImportanceSampler(10, 4).load_state_dict(state)
    with pytest.raises(cuis.TooManyDrawsError):
        ct.ImportanceSampler(10, 11, replacement=False)
    with pytest.raises(cuis.ArgumentError):
        ct.ImportanceSampler(10, 4, k=2.0)


def test_sampler_nan_loss_reported():
    sp = ct.ImportanceSampler(10, 4)
    sp.update(torch.tensor([3]), torch.tensor([float("nan")]))
    with pytest.raises(cuis.ScoreError) as e:
        sp.sample()  # CPU: at once
    assert e.value.index == 3


@pytest.mark.skipif(not TORCH_CUDA, reason=NO_GPU_REASON)
def test_sampler_cuda_graph_capture():
    sp = ct.ImportanceSampler(10_000, 256, k=0.5, device="cuda", seed=1)
    sp.update(torch.arange(10_000, device="cuda"), torch.rand(10_000, device="cuda"))
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        sp.sample()
    torch.cuda.current_stream().wait_stream(side)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        idx, w = sp.sample()
    g.replay()
    first = idx.clone()
    g.replay()
    torch.cuda.synchronize()
    assert not torch.equal(first, idx)  # the rng tensor advanced on the device
    sp.check()
