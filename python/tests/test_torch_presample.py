"""cuis.torch.PresampledImportanceSampler: [KF18] presampling (docs/METHOD.md sections 3-5), on the CPU."""

import io
import math

import pytest

torch = pytest.importorskip("torch")

import cuis  # noqa: E402
import cuis.torch as ct  # noqa: E402
from conftest import NO_GPU_REASON, TORCH_CUDA  # noqa: E402

N, B, P, SEED = 64, 8, 32, 5


def make(**kw):
    args = dict(k=0.5, seed=SEED)
    args.update(kw)
    return ct.PresampledImportanceSampler(N, B, P, **args)


class Recorder:
    """A score_fn that records its candidates: row r scores 1 + (r % 5)."""

    def __init__(self, fn=None):
        self.calls = []
        self.fn = fn or (lambda c: (1.0 + (c % 5)).to(torch.float32))

    def __call__(self, cand):
        self.calls.append(cand.clone())
        return self.fn(cand)


def test_exported():
    assert "PresampledImportanceSampler" in ct.__all__
    from cuis.torch_presample import PresampledImportanceSampler

    assert ct.PresampledImportanceSampler is PresampledImportanceSampler


def test_candidates_are_uniform_indices_at_the_documented_offset_and_rows_come_from_them():
    s, rec = make(), Recorder()
    for step in range(6):
        idx, w = s.sample(rec)
        assert idx.dtype == torch.int64 and w.dtype == torch.float32 and idx.shape == w.shape == (B,)
        cand = rec.calls[-1]
        assert cand.dtype == torch.int64 and cand.shape == (P,)
        assert s.offset_at(step) == step * (P + B)
        assert torch.equal(cand, ct.uniform_indices(P, N, seed=SEED, offset=s.offset_at(step)))
        # the same through the top-level API (NumPy on the CPU)
        assert cand.tolist() == cuis.uniform_indices(P, N, seed=SEED, offset=s.offset_at(step)).tolist()
        assert set(idx.tolist()) <= set(cand.tolist())  # dataset rows, drawn from this step's candidates
        assert torch.equal(s.last_candidates, cand)
    assert s.steps == 6 and int(s.rng[1]) == s.offset_at(6)


@pytest.mark.parametrize("opts", [dict(k=0.5), dict(k=1.0), dict(k=0.0, smooth=0.3, power=0.5),
                                  dict(k=0.7, adaptive_smooth=0.2)])
def test_draws_and_weights_equal_the_reference_bit_for_bit(opts):
    s, rec = make(**opts), Recorder()
    weighting = "unbiased" if opts["k"] == 1.0 else "biased"
    for step in range(4):
        idx, w = s.sample(rec)
        cand = rec.calls[-1]
        scores = rec.fn(cand)
        mean = float(scores.sum() / P) if opts.get("adaptive_smooth") else 0.0
        ref_idx, ref_w = cuis.sample(scores, B, weighting=weighting, k=opts["k"], smooth=opts.get("smooth", 0.0),
                                     adaptive_smooth=opts.get("adaptive_smooth", 0.0), mean_loss=mean,
                                     power=opts.get("power", 1.0), candidate_ids=cand, seed=SEED,
                                     offset=s.offset_at(step) + P)
        assert torch.equal(idx, ref_idx) and torch.equal(w, ref_w)


def test_unbiased_weights_use_n_equal_to_p():
    # k = 1, no smoothing: w = 1 / (P p_i) with p_i = s_i / sum(candidate scores), not 1 / (N p_i)
    s, rec = make(k=1.0), Recorder()
    for _ in range(3):
        idx, w = s.sample(rec)
        scores = rec.fn(rec.calls[-1]).double()
        expected = scores.sum() / (P * (1.0 + (idx % 5)).double())
        torch.testing.assert_close(w.double(), expected, rtol=1e-5, atol=0)


def test_scores_that_favour_some_rows_shift_the_draws():
    # rows 0..7 score 10, the others 0.1. Under uniform draws a draw is one of rows 0..7 with
    # probability 1/8; with 100 steps of B = 16 (n = 1600 draws) Hoeffding's bound puts
    # P(count >= n/8 + sqrt(n ln(1/alpha) / 2)) below alpha = 1e-9 (threshold 329 of 1600).
    s = ct.PresampledImportanceSampler(N, 16, 64, k=0.5, seed=11)
    fn = lambda c: torch.where(c < 8, torch.tensor(10.0), torch.tensor(0.1))  # noqa: E731
    n, favoured = 0, 0
    for _ in range(100):
        idx, _ = s.sample(fn)
        n += idx.numel()
        favoured += int((idx < 8).sum())
    alpha = 1e-9
    bound = n / 8 + math.sqrt(n * math.log(1 / alpha) / 2)
    assert favoured > bound, (favoured, bound)
    # and a uniform score leaves them at about 1/8 (same alpha, two-sided)
    s = ct.PresampledImportanceSampler(N, 16, 64, k=0.5, seed=11)
    favoured = sum(int((s.sample(lambda c: torch.ones(64))[0] < 8).sum()) for _ in range(100))
    assert abs(favoured - n / 8) < math.sqrt(n * math.log(2 / alpha) / 2)


def test_warmup_is_uniform_with_unit_weights_and_no_scoring():
    s, rec = make(warmup=3), Recorder()
    for step in range(3):
        idx, w = s.sample(rec)
        assert rec.calls == []
        assert torch.equal(w, torch.ones(B)) and s.offset_at(step) == step * B
        assert torch.equal(idx, ct.uniform_indices(B, N, seed=SEED, offset=step * B))
    idx, w = s.sample(rec)
    assert len(rec.calls) == 1 and s.offset_at(3) == 3 * B
    assert torch.equal(rec.calls[0], ct.uniform_indices(P, N, seed=SEED, offset=3 * B))
    assert int(s.rng[1]) == s.offset_at(4) == 3 * B + P + B


def test_tau_is_the_moving_average_of_rms_over_mean():
    s = make()
    s.sample(lambda c: torch.ones(P))
    assert s.tau.dtype == torch.float64 and float(s.tau) == pytest.approx(1.0)
    skew = torch.ones(P)
    skew[0] = 20.0
    s.sample(lambda c: skew)
    tau2 = math.sqrt(P * float((skew.double() ** 2).sum())) / float(skew.double().sum())
    assert float(s.last_tau) == pytest.approx(tau2)
    assert float(s.tau) == pytest.approx(0.9 * 1.0 + 0.1 * tau2)


def test_tau_switch_draws_uniformly_below_the_threshold():
    s = make(tau_threshold="auto")
    assert s.tau_threshold == pytest.approx((P + 3 * B) / (3 * B))
    cands = []
    idx, w = s.sample(lambda c: (cands.append(c), torch.ones(P))[1])
    assert not bool(s.last_importance) and torch.equal(idx, cands[0][:B]) and torch.equal(w, torch.ones(B))
    skew = torch.full((P,), 1e-3)
    skew[:2] = 50.0  # tau = sqrt(P sum s^2) / sum s, about 4 > 2.33
    for _ in range(60):
        idx, w = s.sample(lambda c: skew)
    assert bool(s.last_importance) and float(s.tau) > s.tau_threshold
    assert not torch.equal(w, torch.ones(B))
    # off by default: always by importance
    s = make()
    s.sample(lambda c: torch.ones(P))
    assert bool(s.last_importance) and s.tau_threshold is None


@pytest.mark.parametrize("opts", [dict(warmup=2), dict(warmup=0, tau_threshold=1.5, adaptive_smooth=0.1)])
def test_state_dict_round_trip_resumes_exactly(opts):
    def fn(c):
        return (1.0 + (c * 7 % 11)).to(torch.float32)

    a = make(**opts)
    for _ in range(4):
        a.sample(fn)
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    expected = [a.sample(fn) for _ in range(6)]
    b = ct.PresampledImportanceSampler(N, B, P, k=0.5, seed=99, **opts)
    buf.seek(0)
    b.load_state_dict(torch.load(buf))
    assert b.steps == 4
    for ei, ew in expected:
        idx, w = b.sample(fn)
        assert torch.equal(idx, ei) and torch.equal(w, ew)
    assert torch.equal(a.tau, b.tau) and torch.equal(a.rng, b.rng)
    with pytest.raises(cuis.ShapeError):
        ct.PresampledImportanceSampler(N + 1, B, P).load_state_dict(a.state_dict())


def test_bad_arguments_raise_cuis_errors():
    with pytest.raises(cuis.TooManyDrawsError, match="presample"):
        ct.PresampledImportanceSampler(N, 16, 8)
    with pytest.raises(cuis.ArgumentError):
        ct.PresampledImportanceSampler(N, B, P, k=2.0)
    with pytest.raises(cuis.ArgumentError):
        ct.PresampledImportanceSampler(N, B, P, warmup=-1)
    with pytest.raises(cuis.ArgumentError):
        ct.PresampledImportanceSampler(N, B, P, tau_threshold="sometimes")
    with pytest.raises(cuis.ArgumentError):
        ct.PresampledImportanceSampler(N, B, P, tau_threshold=float("nan"))
    with pytest.raises(cuis.ArgumentError):
        ct.PresampledImportanceSampler(0, B, P)
    s = make()
    with pytest.raises(cuis.ShapeError, match="shape"):
        s.sample(lambda c: torch.ones(P - 1))
    with pytest.raises(cuis.ShapeError):
        s.sample(lambda c: torch.ones(P, 1))
    with pytest.raises(cuis.DTypeError, match="float64"):
        s.sample(lambda c: torch.ones(P, dtype=torch.float64))
    with pytest.raises(cuis.DTypeError):
        s.sample(lambda c: c)  # int64 scores
    with pytest.raises(cuis.DTypeError):
        s.sample(lambda c: [1.0] * P)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -1.0])
def test_bad_scores_raise_score_error_naming_the_candidate(bad):
    s, seen = make(), []

    def fn(c):
        seen.append(c)
        x = torch.ones(P)
        x[13] = bad
        return x

    with pytest.raises(cuis.ScoreError) as info:
        s.sample(fn)
    assert info.value.index == 13
    assert f"candidate 13 of step 0: dataset row {int(seen[0][13])}" in str(info.value)


def test_16_bit_scores_and_grad_are_accepted():
    s = make()
    idx, w = s.sample(lambda c: (1.0 + (c % 3)).to(torch.bfloat16))
    assert idx.shape == (B,)
    x = torch.ones(P, requires_grad=True)
    idx, w = s.sample(lambda c: x * 2)
    assert not w.requires_grad


@pytest.mark.skipif(not TORCH_CUDA, reason=NO_GPU_REASON)
def test_cuda_equals_cpu_without_host_sync_and_check_names_the_candidate():
    opts = dict(warmup=1, tau_threshold=1.05, adaptive_smooth=0.1)
    cpu, gpu = make(**opts), make(device="cuda", **opts)

    def fn(c):
        return (1.0 + (c * 7 % 11)).to(torch.float32)  # small integers: sums exact in any order

    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        out = [gpu.sample(fn) for _ in range(5)]
    finally:
        torch.cuda.set_sync_debug_mode(0)
    gpu.check()
    for idx, w in out:
        ci, cw = cpu.sample(fn)
        assert idx.is_cuda and torch.equal(idx.cpu(), ci) and torch.equal(w.cpu(), cw)
    assert torch.equal(gpu.rng.cpu(), cpu.rng) and torch.equal(gpu.tau.cpu(), cpu.tau)
    bad = torch.ones(P, device="cuda")
    bad[7] = float("nan")
    gpu.sample(lambda c: bad)  # no raise: the error is on the device
    with pytest.raises(cuis.ScoreError, match="candidate 7 of step 5: dataset row") as info:
        gpu.check()
    assert info.value.index == 7
