"""cuis.torch.ImportanceBatchSampler: ImportanceSampler as a DataLoader's batch_sampler (CPU)."""

import pytest

torch = pytest.importorskip("torch")
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

import cuis  # noqa: E402
import cuis.torch as ct  # noqa: E402

N, B = 64, 8


def dataset():
    return TensorDataset(torch.arange(N, dtype=torch.float32).reshape(N, 1), torch.arange(N))


def make(num_batches=None, **kw):
    return ct.ImportanceBatchSampler(ct.ImportanceSampler(N, B, k=0.5, seed=1, **kw), num_batches)


def test_batches_come_with_their_weights_and_losses_steer_draws():
    bs = make(num_batches=200, warmup=2, power=1.0)  # raw losses: the 100x ratio below
    loader = DataLoader(dataset(), batch_sampler=bs)
    assert len(bs) == 200 and len(loader) == 200
    counts = torch.zeros(N)
    for step, (x, y) in enumerate(loader):
        assert x.shape == (B, 1) and torch.equal(y, bs.indices)
        w = bs.weights
        assert w.shape == (B,) and w.dtype == torch.float32
        if step < 2:
            assert torch.all(w == 1)  # uniform warm-up
        if step >= 100:
            counts += torch.bincount(y, minlength=N)
        # samples 0..7 have a high loss, the others a small one
        bs.update(torch.where(y < 8, torch.tensor(10.0), torch.tensor(0.1)), indices=y)
        assert bs.pending == 0  # num_workers=0: drawn lazily, after the last update
    assert counts[:8].sum() > 0.8 * counts.sum()  # 8 samples of 64 draw most of the batches
    assert bs.sampler.steps == 200


def test_default_len_is_one_epoch_and_weights_differ_after_updates():
    bs = make()
    assert len(bs) == N // B
    it = iter(DataLoader(dataset(), batch_sampler=bs))
    x, y = next(it)
    bs.update(torch.where(y % 2 == 0, 5.0, 1.0))
    bs.sampler.update(torch.arange(N), torch.linspace(0.1, 5, N))
    x, y = next(it)
    assert not torch.all(bs.weights == bs.weights[0])  # biased weights (k = 0.5) vary with the loss


def test_prefetching_workers_keep_each_batch_with_its_weights():
    bs = make(num_batches=12)
    loader = DataLoader(dataset(), batch_sampler=bs, num_workers=2, prefetch_factor=2,
                        multiprocessing_context="spawn")  # no fork: other tests load JAX (threads)
    seen = 0
    for x, y in loader:
        assert bs.pending >= 1
        assert torch.equal(y, bs.indices)  # the oldest unreported batch is the one delivered
        bs.update(y.float() + 1.0, indices=y)
        seen += 1
    assert seen == 12 and bs.pending == 0


def test_state_dict_round_trip():
    bs = make(num_batches=10)
    loader = DataLoader(dataset(), batch_sampler=bs)
    it = iter(loader)
    for _ in range(4):
        x, y = next(it)
        bs.update(y.float())
    state = bs.state_dict()
    assert state["position"] == 4
    rest = []
    for x, y in it:
        rest.append(y)
        bs.update(y.float())
    other = make(num_batches=3)
    other.load_state_dict(state)
    assert len(other) == 10
    again = []
    for x, y in DataLoader(dataset(), batch_sampler=other):
        again.append(y)
        other.update(y.float())
    assert len(again) == 6 and all(torch.equal(a, b) for a, b in zip(rest, again))
    assert len(list(DataLoader(dataset(), batch_sampler=other))) == 10  # then whole passes


def test_state_dict_with_prefetched_batches_redraws_them():
    bs = make(num_batches=10)
    gen = iter(bs)
    first = next(gen)
    next(gen)  # prefetched, not reported
    bs.update(torch.ones(B))
    state = bs.state_dict()
    assert state["steps"] == 1 and state["position"] == 1
    other = make()
    other.load_state_dict(state)
    assert other.sampler.steps == 1 and len(list(iter(other))) == 9 and first


def test_misuse_is_refused_clearly():
    bs = make()
    with pytest.raises(cuis.ArgumentError, match="no batch drawn"):
        bs.weights
    with pytest.raises(cuis.ArgumentError, match="no batch drawn"):
        bs.update(torch.ones(B))
    with pytest.raises(cuis.ArgumentError, match="batch_sampler="):
        next(iter(DataLoader(dataset(), sampler=bs)))
    it = iter(DataLoader(dataset(), batch_sampler=bs))
    x, y = next(it)
    with pytest.raises(cuis.ShapeError, match="8 samples but 3 losses"):
        bs.update(torch.ones(3))
    with pytest.raises(cuis.ArgumentError, match="not those of the oldest batch"):
        bs.update(torch.ones(B), indices=(y + 1) % N)
    bs.update(torch.ones(B))
    with pytest.raises(cuis.ArgumentError, match="no batch drawn"):
        bs.update(torch.ones(B))  # twice for one batch
    with pytest.raises(cuis.ArgumentError, match="in_order"):
        next(iter(DataLoader(dataset(), batch_sampler=bs, num_workers=1, in_order=False,
                                   multiprocessing_context="spawn")))
    with pytest.raises(cuis.ArgumentError, match="ImportanceSampler"):
        ct.ImportanceBatchSampler(object())
    with pytest.raises(cuis.ArgumentError, match="positive"):
        make(num_batches=0)
