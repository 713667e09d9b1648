"""cuis.cross_entropy_scores on CPU arrays: the CPU reference's loss and
gradient-norm bound against a float64 NumPy computation."""

import numpy as np

import cuis
from conftest import requires_torch, torch


def reference(z, y):
    z = z.astype(np.float64)
    m = z.max(axis=1, keepdims=True)
    e = np.exp(z - m)
    p = e / e.sum(axis=1, keepdims=True)
    loss = (m[:, 0] + np.log(e.sum(axis=1))) - z[np.arange(len(y)), y]
    d = p.copy()
    d[np.arange(len(y)), y] -= 1.0
    return loss, np.sqrt((d * d).sum(axis=1))


def test_matches_float64_reference():
    rng = np.random.default_rng(1)
    z = (rng.standard_normal((64, 10)) * 3).astype(np.float32)
    y = rng.integers(0, 10, 64)
    loss, norm = cuis.cross_entropy_scores(z, y)
    want_loss, want_norm = reference(z, y)
    assert loss.dtype == np.float32 and norm.dtype == np.float32
    np.testing.assert_allclose(loss, want_loss, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(norm, want_norm, rtol=1e-6, atol=1e-6)
    assert np.all(norm <= np.sqrt(2) + 1e-6)


def test_extreme_logits_are_stable():
    z = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]], np.float32)
    loss, norm = cuis.cross_entropy_scores(z, np.array([0, 0]))
    assert loss[0] == 0.0 and np.isclose(loss[1], 2e4)
    assert np.isfinite(norm).all()


def test_int32_and_int64_labels_agree():
    z = np.random.default_rng(2).standard_normal((8, 4)).astype(np.float32)
    y = np.array([0, 1, 2, 3, 3, 2, 1, 0])
    a = cuis.cross_entropy_scores(z, y.astype(np.int64))
    b = cuis.cross_entropy_scores(z, y.astype(np.int32))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a.grad_norm, b.grad_norm)
    assert a.status.read().ok


@requires_torch
def test_torch_in_torch_out_and_scores_feed_the_sampler():
    z = torch.randn(32, 5, requires_grad=True)
    y = torch.randint(0, 5, (32,))
    loss, norm = cuis.cross_entropy_scores(z, y)
    assert isinstance(loss, torch.Tensor) and loss.dtype == torch.float32
    want = torch.nn.functional.cross_entropy(z.detach(), y, reduction="none")
    torch.testing.assert_close(loss, want, rtol=1e-5, atol=1e-5)
    idx, w = cuis.sample(norm, 8, seed=1)  # draw by the gradient-norm bound
    assert idx.shape == (8,) and torch.all(w > 0)
