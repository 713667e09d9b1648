"""cuis.torch.distributed.DistributedImportanceSampler and
DistributedImportanceBatchSampler on R = 1, 2, 3 and 4 CPU ranks (gloo; the
runs are conftest.dist_runs's, shared with test_torch_distributed.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("torch")
from conftest import DIST_RANKS, bits  # noqa: E402
from test_torch_distributed import scenario  # noqa: E402


@pytest.mark.parametrize("ranks", DIST_RANKS)
@pytest.mark.parametrize("mode", ["stratified", "global"])
def test_state_dict_resumes_exactly(dist_runs, ranks, mode):
    for r, res in enumerate(scenario(dist_runs, ranks, "sampler")):
        rest, again = res[f"resume_{mode}"][:2]
        assert len(rest) == len(again) == 5
        for (i1, w1, c1), (i2, w2, c2) in zip(rest, again):
            assert np.array_equal(i1, i2) and np.array_equal(bits(w1), bits(w2)) and c1 == c2, (r, mode)
            if mode == "stratified":
                assert c1 == 4 and np.all(i1 % ranks == r)  # the strided shard, b draws
            else:
                assert np.all(i1[:c1] % ranks == r) and np.all(i1[c1:] == -1)  # padded to R b


@pytest.mark.parametrize("ranks", DIST_RANKS)
def test_global_mode_counts_add_up_to_the_global_batch(dist_runs, ranks):
    results = scenario(dist_runs, ranks, "sampler")
    for step in range(5):
        assert sum(res["resume_global"][0][step][2] for res in results) == ranks * 4


@pytest.mark.parametrize("ranks", DIST_RANKS)
def test_mean_loss_is_global(dist_runs, ranks):
    results = scenario(dist_runs, ranks, "sampler")
    total = sum(res["resume_stratified"][3] for res in results)
    count = sum(res["resume_stratified"][4] for res in results)
    expected = np.float32(total / count)
    for r, res in enumerate(results):
        assert res["resume_stratified"][2] == expected, r  # the same on every rank
        assert res["resume_stratified"][5] == list(range(r, 45, ranks))  # DistributedSampler's split


@pytest.mark.parametrize("ranks", DIST_RANKS)
def test_options_that_disagree_are_refused_on_every_rank(dist_runs, ranks):
    results = [res["disagree"] for res in scenario(dist_runs, ranks, "sampler")]
    if ranks == 1:
        assert results[0][0] == "ok"
        return
    for res in results:
        assert res[:2] == ("raised", "ShardError") and f"rank {ranks - 1} passed another k" in res[4], res


@pytest.mark.parametrize("ranks", [r for r in DIST_RANKS if r > 1])
def test_state_of_another_rank_count_is_refused(dist_runs, ranks):
    for res in scenario(dist_runs, ranks, "sampler"):
        got = res["other_ranks"]
        assert got[:2] == ("raised", "ShardError"), got
        assert f"saved with {ranks - 1} ranks, this run has {ranks}" in got[4]


@pytest.mark.parametrize("ranks", DIST_RANKS)
def test_batch_sampler_in_a_data_loader(dist_runs, ranks):
    results = scenario(dist_runs, ranks, "batch_sampler")
    for drop_last in (False, True):
        used = ranks * (37 // ranks) if drop_last else 37
        lengths = {res[drop_last][0] for res in results}
        assert lengths == {math.ceil(used / (3 * ranks))}  # the same len on every rank
        for r, res in enumerate(results):
            length, batches, epoch = res[drop_last]
            assert epoch == 1 and len(batches) == length
            n_r = len(range(r, used, ranks))
            for step, (x, w) in enumerate(batches):
                assert x.shape == (3,) and np.all(x % ranks == r) and np.all(x < used)
                assert w.shape == (3,) and w.dtype == np.float32
                if step == 0:  # warm-up: uniform over the shard, weight R n_r / N
                    assert np.all(bits(w) == bits(np.float32(ranks * n_r / used)))
