"""cuis.sample on CPU arrays: the CPU reference, NumPy and PyTorch in and out,
the options of cuis::SampleOptions, the RNG state array, candidate sets."""

import numpy as np
import pytest

import cuis
from conftest import bits, requires_torch, torch

SCORES = np.array([0.5, 0.0, 3.0, 1.5], np.float32)


def test_readme_example_draws():
    # The README's reference_sampler_cpu program: scores {0.5, 0, 3, 1.5}, seed 7, 8 draws.
    idx, w = cuis.sample(SCORES, 8, seed=7)
    assert idx.tolist() == [2, 2, 3, 2, 2, 2, 3, 2]
    assert w.dtype == np.float32 and idx.dtype == np.int64
    # unbiased weights are 1 / (n p_i): p = s / 5
    np.testing.assert_array_equal(w, np.float32(1.0) / (np.float32(4.0) * SCORES[idx] / np.float32(5.0)))


def test_numpy_in_numpy_out():
    r = cuis.sample(SCORES, 16, seed=1)
    assert isinstance(r, tuple) and len(r) == 2
    idx, w = r
    assert type(idx) is np.ndarray and type(w) is np.ndarray
    assert r.indices is idx and r.weights is w
    assert r.status.read().ok and not r.status.on_device
    r.status.check()
    assert 1 not in idx.tolist()  # zero score never drawn


def test_deterministic_and_offset_changes_draws():
    a = cuis.sample(SCORES, 64, seed=3, offset=10)
    b = cuis.sample(SCORES, 64, seed=3, offset=10)
    c = cuis.sample(SCORES, 64, seed=3, offset=11)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(bits(a[1]), bits(b[1]))
    assert not np.array_equal(a[0], c[0])
    # draw j uses counter offset + j: offset 11 is offset 10 shifted by one draw
    np.testing.assert_array_equal(a[0][1:], c[0][:-1])


def test_read_only_array_accepted():
    s = SCORES.copy()
    s.setflags(write=False)
    idx, _ = cuis.sample(s, 4, seed=2)
    np.testing.assert_array_equal(idx, cuis.sample(SCORES, 4, seed=2)[0])


def test_without_replacement_distinct_and_ordered_by_key():
    rng = np.random.default_rng(0)
    s = rng.random(100, dtype=np.float32) + 0.01
    idx, w = cuis.sample(s, 100, replacement=False, seed=5)
    assert sorted(idx.tolist()) == list(range(100))
    idx, w = cuis.sample(s, 10, replacement=False, seed=5)
    assert len(set(idx.tolist())) == 10
    assert np.all(w > 0)


def test_weighting_none_and_biased():
    idx_u, w_u = cuis.sample(SCORES, 32, seed=9)
    idx_n, w_n = cuis.sample(SCORES, 32, seed=9, weighting="none")
    idx_b, w_b = cuis.sample(SCORES, 32, seed=9, weighting="biased", k=0.5)
    np.testing.assert_array_equal(idx_u, idx_n)
    np.testing.assert_array_equal(idx_u, idx_b)
    assert np.all(w_n == 1.0)
    assert not np.array_equal(w_u, w_b)
    # k = 1 is the unbiased weight up to the per-batch rescaling, which is 1 there
    _, w_k1 = cuis.sample(SCORES, 32, seed=9, weighting="biased", k=1.0)
    np.testing.assert_allclose(w_k1, w_u, rtol=1e-6)


def test_smoothing_power_and_adaptive():
    # power 0 makes every score 1 (0^0 = 1 included): uniform
    idx, w = cuis.sample(SCORES, 4000, seed=4, power=0.0)
    counts = np.bincount(idx, minlength=4)
    assert counts.min() > 850
    np.testing.assert_allclose(w, 1.0, rtol=1e-6)
    # smoothing lets the zero score be drawn
    idx, _ = cuis.sample(SCORES, 4000, seed=4, smooth=1.0)
    assert (idx == 1).sum() > 0
    # adaptive smoothing with mean loss m equals additive smoothing with c = a * m (exact in float here)
    a = cuis.sample(SCORES, 64, seed=4, adaptive_smooth=0.5, mean_loss=2.0)
    b = cuis.sample(SCORES, 64, seed=4, smooth=1.0)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(bits(a[1]), bits(b[1]))
    # mean loss as a 1-element array (SampleOptions::d_mean_loss on the device)
    c = cuis.sample(SCORES, 64, seed=4, adaptive_smooth=0.5, mean_loss=np.array([2.0], np.float32))
    np.testing.assert_array_equal(a[0], c[0])


def test_candidate_ids_map_positions():
    ids = np.array([100, 200, 300, 400], np.int64)
    idx_pos, w_pos = cuis.sample(SCORES, 32, seed=6)
    idx_ids, w_ids = cuis.sample(SCORES, 32, seed=6, candidate_ids=ids)
    np.testing.assert_array_equal(idx_ids, ids[idx_pos])
    np.testing.assert_array_equal(bits(w_ids), bits(w_pos))


def test_rng_array_advances_like_offsets():
    state = cuis.rng_state(seed=11, offset=5)
    assert state.dtype == np.int64 and state.tolist() == [11, 5]
    first = cuis.sample(SCORES, 8, rng=state)
    assert state.tolist() == [11, 13]  # advanced by counters_consumed = 8
    second = cuis.sample(SCORES, 8, rng=state)
    np.testing.assert_array_equal(first[0], cuis.sample(SCORES, 8, seed=11, offset=5)[0])
    np.testing.assert_array_equal(second[0], cuis.sample(SCORES, 8, seed=11, offset=13)[0])
    # without replacement the call uses n counters
    cuis.sample(SCORES, 2, rng=state, replacement=False)
    assert state.tolist() == [11, 13 + 8 + 4]
    assert cuis.counters_consumed(4, 2, replacement=False) == 4
    assert cuis.counters_consumed(4, 2) == 2
    # advance_rng=False leaves it
    cuis.sample(SCORES, 8, rng=state, advance_rng=False)
    assert state.tolist() == [11, 25]


def test_rng_state_full_uint64_range():
    top = (1 << 64) - 1
    state = cuis.rng_state(seed=top, offset=top - 3)
    assert state.tolist() == [-1, -4]  # the uint64 bits, as int64
    a = cuis.sample(SCORES, 8, rng=state)
    b = cuis.sample(SCORES, 8, seed=top, offset=top - 3)
    np.testing.assert_array_equal(a[0], b[0])
    assert state.tolist() == [-1, 4]  # offset wraps modulo 2^64, as on the device


def test_large_n_many_tiles():
    # n spanning several 2048-item tiles, one heavy item in the last tile
    s = np.full(10_000, 1.0, np.float32)
    s[9_999] = 10_000.0
    idx, w = cuis.sample(s, 2000, seed=1)
    frac = (idx == 9_999).mean()
    assert 0.45 < frac < 0.55  # p = 10000 / 19999
    assert idx.min() >= 0 and idx.max() < 10_000


@requires_torch
def test_torch_in_torch_out():
    s = torch.tensor(SCORES)
    idx, w = cuis.sample(s, 8, seed=7)
    assert isinstance(idx, torch.Tensor) and isinstance(w, torch.Tensor)
    assert idx.dtype == torch.int64 and w.dtype == torch.float32 and idx.device.type == "cpu"
    ref = cuis.sample(SCORES, 8, seed=7)
    assert idx.tolist() == ref[0].tolist()
    np.testing.assert_array_equal(bits(w.numpy()), bits(ref[1]))


@requires_torch
def test_torch_requires_grad_and_views():
    s = torch.tensor(SCORES, requires_grad=True) * 1.0  # a tensor in a graph
    idx, _ = cuis.sample(s, 8, seed=7)
    assert idx.tolist() == [2, 2, 3, 2, 2, 2, 3, 2]
    # a contiguous slice (offset into storage) is fine
    big = torch.tensor(np.concatenate([np.ones(3, np.float32), SCORES]))
    idx2, _ = cuis.sample(big[3:], 8, seed=7)
    assert idx2.tolist() == idx.tolist()


@requires_torch
def test_torch_rng_and_candidates():
    state = cuis.rng_state(seed=11, offset=5, device=torch.device("cpu"))
    assert isinstance(state, torch.Tensor)
    ids = torch.tensor([7, 8, 9, 10])
    idx, _ = cuis.sample(torch.tensor(SCORES), 8, rng=state, candidate_ids=ids)
    assert state.tolist() == [11, 13]
    ref = cuis.sample(SCORES, 8, seed=11, offset=5)[0]
    assert idx.tolist() == (ref + 7).tolist()


def test_uniform_indices_cpu():
    a = cuis.uniform_indices(1000, 17, seed=3, offset=100)
    assert a.dtype == np.int64 and a.min() >= 0 and a.max() < 17
    b = cuis.uniform_indices(1000, 17, seed=3, offset=101)
    np.testing.assert_array_equal(a[1:], b[:-1])
    state = cuis.rng_state(3, 100)
    c = cuis.uniform_indices(1000, 17, rng=state)
    np.testing.assert_array_equal(a, c)
    assert state.tolist() == [3, 1100]
    assert len(set(cuis.uniform_indices(5000, 17, seed=1).tolist())) == 17


@requires_torch
def test_uniform_indices_torch_cpu():
    a = cuis.uniform_indices(50, 9, seed=2, device=torch.device("cpu"))
    assert isinstance(a, torch.Tensor) and a.dtype == torch.int64
    assert a.tolist() == cuis.uniform_indices(50, 9, seed=2).tolist()


def test_sample_is_goodness_of_fit():
    # chi-square of 20000 draws over 8 items against p = t / sum t, at a loose level
    s = np.array([1, 2, 3, 4, 0.5, 0.25, 8, 1], np.float32)
    idx, _ = cuis.sample(s, 20000, seed=123)
    counts = np.bincount(idx, minlength=8)
    expected = 20000 * s / s.sum()
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 30  # 7 degrees of freedom: p < 1e-4


def test_jax_cpu_arrays_in_jax_out():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    s = jnp.asarray(SCORES)
    idx, w = cuis.sample(s, 8, seed=7)
    assert isinstance(idx, jax.Array) and isinstance(w, jax.Array)
    assert np.asarray(idx).tolist() == [2, 2, 3, 2, 2, 2, 3, 2]
    ref = cuis.sample(SCORES, 8, seed=7, weighting="biased")
    got = cuis.sample(s.astype(jnp.bfloat16), 8, seed=7, weighting="biased")  # exact widening
    np.testing.assert_array_equal(bits(np.asarray(got[1])), bits(ref[1]))
    loss, norm = cuis.cross_entropy_scores(jnp.zeros((3, 4), jnp.float32), jnp.array([0, 1, 3]))
    np.testing.assert_allclose(np.asarray(loss), np.log(4.0), rtol=1e-6)


def test_unknown_cpu_dlpack_producer_gets_numpy():
    class Producer:  # any object with the DLPack protocol
        def __init__(self, a):
            self.a = a

        def __dlpack__(self, **kw):
            return self.a.__dlpack__(**kw)

        def __dlpack_device__(self):
            return self.a.__dlpack_device__()

    idx, w = cuis.sample(Producer(SCORES), 8, seed=7)
    assert type(idx) is np.ndarray and idx.tolist() == [2, 2, 3, 2, 2, 2, 3, 2]
