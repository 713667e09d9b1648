"""cuis.torch.distributed on CUDA (NCCL, one GPU per rank; R = 1 on a one-GPU
machine, 2 where there are two), against the CPU path (gloo) bit for bit, and
a NaN score with and without check=True. Skipped without a GPU."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import TORCH_CUDA, bits, requires_gpu, torch

pytestmark = requires_gpu


@pytest.fixture(scope="module")
def gpu_run():
    import _dist
    import _dist_scenarios as S

    ranks = min(2, torch.cuda.device_count()) if TORCH_CUDA else 1
    return ranks, _dist.ok(_dist.run_ranks(S.sc_gpu, ranks, backend="nccl"))


def test_cuda_equals_the_cpu_path(gpu_run):
    ranks, results = gpu_run
    for r, (rows, _, _, _) in enumerate(results):
        assert len(rows) == 6
        for mode, weighting, cpu, gpu, status, rng in rows:
            assert status[0] == 0, (r, mode, weighting, status)
            assert np.array_equal(cpu[0], gpu[0]) and np.array_equal(bits(cpu[1]), bits(gpu[1])), (mode, weighting)
            assert int(cpu[2][0]) == int(gpu[2][0])
            assert rng == [5, 9 + ranks * 16]  # advanced on the device by R b


def test_cuda_bad_score_reaches_every_rank(gpu_run):
    ranks, results = gpu_run
    for r, (_, checked, unchecked, _) in enumerate(results):
        assert checked[:2] == ("raised", "ScoreError") and checked[3][4] == ranks - 1, checked
        status, idx, w, count, raised = unchecked
        assert status[0] == int(checked[2]) and status[4] == ranks - 1
        assert count == 0 and np.all(idx == -1) and np.all(w == 0)
        assert raised[:2] == ("raised", "ScoreError") and raised[4] == checked[4]  # the CPU path's message


def test_cuda_sampler_draws_as_on_the_cpu(gpu_run):
    _, results = gpu_run
    for r, (_, _, _, (on_gpu, on_cpu)) in enumerate(results):
        for (i1, w1, c1), (i2, w2, c2) in zip(on_gpu, on_cpu):
            assert np.array_equal(i1, i2) and np.array_equal(bits(w1), bits(w2)) and c1 == c2, r
