"""cuis.torch.distributed.sample_sharded on R = 1, 2, 3 and 4 CPU ranks (gloo,
spawned processes: conftest.dist_runs runs _dist_scenarios.py once per session,
on 4 processes and the groups of their first R, about 13 s on two cores; each
test here only checks).

Shards of very different sizes (_dist_scenarios.SIZES: for R = 4, 3, 20, 1 and 16
of N = 40). Statistical checks, deterministic for the fixed seeds used:
  global mode: the union of all ranks' draws (3200 R draws) against p_i = t_i / T,
      Pearson chi-square at alpha = 1e-3 (critical value by Wilson-Hilferty);
  both modes: the weighted mean of f over all ranks' draws, (1 / (R b)) sum w f per
      step, averaged over the steps, within 4 standard deviations (two-sided alpha
      6.3e-5 under the normal approximation) of f's plain mean over the N samples,
      the standard deviation computed exactly from the sampling distribution.
"""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

pytest.importorskip("torch")
import _dist  # noqa: E402
import _dist_scenarios as S  # noqa: E402
from conftest import DIST_RANKS, bits  # noqa: E402

import cuis  # noqa: E402

ALPHA_CHI2 = 1e-3
Z = 4.0


def scenario(runs, ranks, name):
    """Every rank's result of one scenario (failing the test if the run, a rank or the scenario failed)."""
    run = runs[ranks]
    if isinstance(run, AssertionError):
        pytest.fail(str(run))
    out = []
    for r, res in enumerate(_dist.ok(run)):
        v = res[name]
        if isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], str) and v[0] == "failed":
            pytest.fail(f"rank {r}, scenario {name}:\n{v[1]}")
        out.append(v)
    return out


def chi2_critical(df: int, alpha: float) -> float:
    """The (1 - alpha) quantile of chi-square(df), Wilson-Hilferty."""
    z = statistics.NormalDist().inv_cdf(1 - alpha)
    return df * (1 - 2 / (9 * df) + z * math.sqrt(2 / (9 * df))) ** 3


def f_values() -> np.ndarray:
    """The function whose mean the weighted draws estimate."""
    i = np.arange(S.N)
    return 1.0 + (i % 5) + np.sin(i)


def offsets(sizes):
    return np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int)


@pytest.mark.parametrize("ranks", DIST_RANKS)
def test_global_mode_draws_follow_the_global_distribution(dist_runs, ranks):
    per_rank = scenario(dist_runs, ranks, "global")
    g = S.global_scores().double().numpy()
    p = g / g.sum()
    b, steps = S.GLOBAL["b"], S.GLOBAL["steps"]
    counts = np.zeros(S.N)
    f = f_values()
    estimates = np.zeros(steps)
    offs = offsets(S.SIZES[ranks])
    for r, rows in enumerate(per_rank):
        for step, (idx, w, count) in enumerate(rows):
            assert idx.shape == (ranks * b,) and np.all(idx[count:] == -1) and np.all(w[count:] == 0)
            got = idx[:count]
            assert np.all((got >= offs[r]) & (got < offs[r] + S.SIZES[ranks][r])), "a draw outside the shard"
            np.add.at(counts, got, 1)
            # unbiased weights 1 / (N p_i), float32 of the exact fixed-point value
            np.testing.assert_allclose(w[:count], 1.0 / (S.N * p[got]), rtol=2e-6)
            estimates[step] += (w[:count] * f[got]).sum() / (ranks * b)
    per_step = [sum(rows[s][2] for rows in per_rank) for s in range(steps)]
    assert per_step == [ranks * b] * steps  # every global draw resolved by exactly one rank
    total = counts.sum()
    assert counts[5] == 0  # a zero score is never drawn
    live = p > 0
    expected = total * p[live]
    chi2 = ((counts[live] - expected) ** 2 / expected).sum()
    assert chi2 < chi2_critical(int(live.sum()) - 1, ALPHA_CHI2), (chi2, total)
    # the weighted mean estimates (1/N) sum of f over the samples that can be drawn (sample 5,
    # score 0, cannot); one draw's variance is sum p (f / (N p))^2 - truth^2, over R b draws a step
    truth = f[live].sum() / S.N
    var1 = (p[live] * (f[live] / (S.N * p[live])) ** 2).sum() - truth ** 2
    sd = math.sqrt(var1 / (ranks * b) / steps)
    assert abs(estimates.mean() - truth) < Z * sd, (estimates.mean(), truth, sd)


@pytest.mark.parametrize("ranks", DIST_RANKS)
def test_stratified_weighted_mean_converges_to_the_dataset_mean(dist_runs, ranks):
    per_rank = scenario(dist_runs, ranks, "stratified")
    sizes, offs = S.SIZES[ranks], offsets(S.SIZES[ranks])
    t = S.stratified_scores(ranks).double().numpy()
    f = f_values()
    b, steps = S.STRATIFIED["b"], S.STRATIFIED["steps"]
    estimates = np.zeros(steps)
    var = 0.0  # of one step's estimate: sum over shards of one draw's variance / (R^2 b)
    for r, rows in enumerate(per_rank):
        lo, hi = offs[r], offs[r] + sizes[r]
        W = t[lo:hi].sum()
        if W > 0:
            q = t[lo:hi] / W
            wf = ranks * W * f[lo:hi] / (S.N * t[lo:hi])
        else:  # a shard of zeros: uniform draws, weight R n_r / N
            q = np.full(sizes[r], 1.0 / sizes[r])
            wf = ranks * sizes[r] / S.N * f[lo:hi]
        var += ((q * wf ** 2).sum() - (q * wf).sum() ** 2) / (ranks ** 2 * b)
        for step, (idx, w, count) in enumerate(rows):
            assert count == b and np.all((idx >= lo) & (idx < hi))
            if W > 0:
                np.testing.assert_allclose(w, ranks * W / (S.N * t[idx]), rtol=2e-6)
            else:
                assert np.all(bits(w) == bits(np.float32(ranks * sizes[r] / S.N)))
            estimates[step] += (w * f[idx]).sum() / (ranks * b)
    if ranks > 1:  # the zero shard is drawn uniformly: every one of its samples appears
        drawn = np.concatenate([idx for idx, _, _ in per_rank[0]])
        assert set(drawn.tolist()) == set(range(sizes[0]))
    sd = math.sqrt(var / steps)
    assert abs(estimates.mean() - f.mean()) < Z * sd, (estimates.mean(), f.mean(), sd)


@pytest.mark.parametrize("ranks", DIST_RANKS)
def test_strided_shards_resolve_global_indices(dist_runs, ranks):
    per_rank = scenario(dist_runs, ranks, "strided")
    g = S.global_scores().double().numpy()
    p = g / g.sum()
    assert sum(count for _, _, count in per_rank) == ranks * 64
    for r, (idx, w, count) in enumerate(per_rank):
        got = idx[:count]
        assert np.all(got % ranks == r) and np.all(idx[count:] == -1)
        np.testing.assert_allclose(w[:count], 1.0 / (S.N * p[got]), rtol=2e-6)


def test_one_rank_equals_cuis_sample_bit_for_bit(dist_runs):
    """R = 1: both modes return exactly cuis.sample's indices and weights (the CPU references
    cuis::ref::shard_* and cuis::ref::sample), for every weighting, with smoothing, with a
    shard given by global indices (candidate_ids) and with an rng tensor."""
    (rows,) = scenario(dist_runs, 1, "r1_equals_sample")
    assert len(rows) == 6
    for mode, weighting, arrays, rng in rows:
        a_i, a_w, b_i, b_w, c_i, c_w, d_i, d_w, e_i, e_w = arrays
        for (xi, xw), (yi, yw) in [((a_i, a_w), (b_i, b_w)), ((c_i, c_w), (d_i, d_w)), ((e_i, e_w), (a_i, a_w))]:
            assert np.array_equal(xi, yi), (mode, weighting)
            assert np.array_equal(bits(xw), bits(yw)), (mode, weighting)
        assert rng == [5, 123 + 100]  # advanced by R b


@pytest.mark.parametrize("ranks", DIST_RANKS)
def test_same_seed_same_ranks_same_draws(dist_runs, ranks):
    for r, by_mode in enumerate(scenario(dist_runs, ranks, "same_seed")):
        for mode, (first, again, by_rng, rng) in by_mode.items():
            for (i1, w1, _), (i2, w2, _), (i3, w3) in zip(first, again, by_rng):
                assert np.array_equal(i1, i2) and np.array_equal(bits(w1), bits(w2)), (r, mode)
                assert np.array_equal(i1, i3) and np.array_equal(bits(w1), bits(w3)), (r, mode)
            assert rng == [11, 3 * ranks * 8]


def _raised(results, cls, code):
    """Every rank raised `cls` with `code`; returns their statuses."""
    for r, res in enumerate(results):
        assert res[0] == "raised" and res[1] == cls and res[2] == int(code), (r, res)
    return [res[3] for res in results]


def _same_everywhere(statuses):
    assert all(repr(s) == repr(statuses[0]) for s in statuses), statuses  # repr: NaN values compare


@pytest.mark.parametrize("ranks", DIST_RANKS)
def test_bad_scores_reach_every_rank(dist_runs, ranks):
    faults = scenario(dist_runs, ranks, "faults")
    last, offs = ranks - 1, offsets(S.SIZES[ranks])
    C = cuis.ErrorCode
    for name, code, rank, index in [("nan_last", C.nan_score, last, offs[last] + 1),
                                    ("inf_first", C.inf_score, 0, 0),
                                    ("negative_first_global", C.negative_score, 0, 2)]:
        statuses = _raised([f[name] for f in faults], "ScoreError", code)
        _same_everywhere(statuses)
        assert statuses[0][4] == rank and statuses[0][1] == index, (name, statuses[0])
        assert f"in the shard of rank {rank}" in faults[0][name][4]
    _same_everywhere(_raised([f["all_zero"] for f in faults], "ScoreError", C.zero_total))
    assert all(f["recovered"][0] == "ok" for f in faults)  # the ranks are still in step


@pytest.mark.parametrize("ranks", DIST_RANKS)
def test_ranks_that_disagree_all_get_shard_mismatch(dist_runs, ranks):
    faults = scenario(dist_runs, ranks, "faults")
    C = cuis.ErrorCode
    # (scenario, what the status's index names: 1 RNG, 2 options, 3 mean loss)
    for name, why in [("seed_last", 1), ("k_last", 2), ("weighting_last", 2), ("num_samples_last", 2),
                      ("mean_loss_last", 3)]:
        results = [f[name] for f in faults]
        if ranks == 1 and name != "num_samples_last":
            assert results[0][0] == "ok"  # one rank agrees with itself
            continue
        statuses = _raised(results, "ShardError", C.shard_mismatch)
        _same_everywhere(statuses)
        if ranks > 1:
            assert statuses[0][1] == why and statuses[0][4] == ranks - 1, (name, statuses[0])
    # shard sizes that do not add up to num_samples
    statuses = _raised([f["sizes"] for f in faults], "ShardError", C.shard_mismatch)
    _same_everywhere(statuses)
    assert statuses[0][1] == 4 and f"add up to {S.N}, not to num_samples = {S.N + 1}" in faults[0]["sizes"][4]


@pytest.mark.parametrize("ranks", DIST_RANKS)
def test_argument_error_on_one_rank_is_reported_to_all(dist_runs, ranks):
    results = [f["dtype_last"] for f in scenario(dist_runs, ranks, "faults")]
    assert results[-1][:3] == ("raised", "DTypeError", int(cuis.ErrorCode.invalid_argument))
    for res in results[:-1]:
        assert res[1] == "ShardError" and res[3][4] == ranks - 1 and "failed before the exchange" in res[4], res


@pytest.mark.parametrize("ranks", DIST_RANKS)
def test_foreign_exception_on_one_rank_is_reported_to_all(dist_runs, ranks):
    # Not a cuis error (here a TypeError from an unhashable mode): the rank still takes part in
    # the exchange, so the others are told instead of waiting in the all-gather.
    results = [f["foreign_last"] for f in scenario(dist_runs, ranks, "faults")]
    assert results[-1][:2] == ("raised", "TypeError"), results[-1]
    for res in results[:-1]:
        assert res[1] == "ShardError" and res[3][4] == ranks - 1 and "failed before the exchange" in res[4], res


@pytest.mark.parametrize("ranks", DIST_RANKS)
def test_capacity_exceeded_on_every_rank(dist_runs, ranks):
    results = [f["capacity"] for f in scenario(dist_runs, ranks, "faults")]
    statuses = _raised(results, "ShardError", cuis.ErrorCode.capacity_exceeded)
    _same_everywhere(statuses)
    assert statuses[0][2] == 1.0 and statuses[0][1] > 1  # more than the capacity of 1 on that rank


@pytest.mark.parametrize("ranks", [r for r in DIST_RANKS if r > 1])
def test_a_rank_with_an_empty_shard(dist_runs, ranks):
    faults = scenario(dist_runs, ranks, "faults")
    idx, w, count = faults[0]["empty_stratified"]
    assert count == 0 and np.all(idx == -1) and np.all(w == 0)  # stratified: all padding
    assert all(f["empty_stratified"][2] == 8 for f in faults[1:])
    idx, w, count = faults[0]["empty_global"]
    assert count == 0 and np.all(idx == -1)  # no mass: no global draw lands there
    assert sum(f["empty_global"][2] for f in faults) == ranks * 8


def test_without_a_process_group():
    import torch

    import cuis.torch.distributed as cd

    with pytest.raises(cuis.ArgumentError, match="not initialised"):
        cd.sample_sharded(torch.ones(4), 2, shard_offset=0, num_samples=4)


def test_import_forms_and_error_classes():
    import cuis.torch
    import cuis.torch.distributed as cd
    from cuis.torch.distributed import DistributedImportanceBatchSampler, DistributedImportanceSampler, sample_sharded

    assert cuis.torch.distributed is cd and cd.sample_sharded is sample_sharded
    assert DistributedImportanceSampler.__name__ in dir(cd) and DistributedImportanceBatchSampler.__doc__
    for code in (cuis.ErrorCode.shard_mismatch, cuis.ErrorCode.capacity_exceeded):
        e = cuis._errors._make_error(int(code), "x", (int(code), 1, 2.0, 0, 3))
        assert isinstance(e, cuis.ShardError) and isinstance(e, cuis.InputError) and e.rank == 3


def test_every_public_name_has_a_docstring():
    import inspect

    import cuis.torch.distributed as cd

    assert cd.__doc__
    for name in cd.__all__:
        obj = getattr(cd, name)
        assert inspect.getdoc(obj), name
        for attr, member in vars(obj).items():
            if not attr.startswith("_") and (inspect.isfunction(member) or isinstance(member, property)):
                assert inspect.getdoc(member), f"{name}.{attr}"
