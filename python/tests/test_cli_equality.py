"""Bit-for-bit equality with the cuis-sample tool (a separate C++ consumer of
the library): the same scores, seed, offset and options give the same indices
and the same float32 weights from Python (NumPy and PyTorch inputs) as from
`cuis-sample --device cpu`."""

import subprocess

import numpy as np
import pytest

import cuis
from conftest import bits, requires_torch, torch


def run_cli(cli, scores_file, count, seed, offset=0, extra=()):
    cmd = [str(cli), "--weights", str(scores_file), "--count", str(count), "--seed", str(seed), "--offset",
           str(offset), "--device", "cpu", *extra]
    p = subprocess.run(cmd, capture_output=True, text=True)
    assert p.returncode == 0, f"{' '.join(cmd)}: {p.stderr}"
    out = p.stdout
    idx, w = [], []
    for line in out.splitlines():
        i, v = line.split(",")
        idx.append(int(i))
        w.append(np.float32(float(v)))  # printed with %.9g: round-trips float32 exactly
    return np.array(idx, np.int64), np.array(w, np.float32)


def make_scores(n, seed):
    rng = np.random.default_rng(seed)
    s = rng.gamma(0.7, 2.0, n).astype(np.float32)
    s[rng.integers(0, n, n // 10)] = 0.0  # some zeros
    s[rng.integers(0, n, 3)] *= 1e6       # a few heavy items
    return s


# (n, count, seed, offset, python options, cli flags)
CASES = [
    ("unbiased", 4, 8, 7, 0, {}, []),
    ("unbiased-tiles", 5000, 3000, 42, 123456789, {}, []),
    ("without-replacement", 300, 120, 3, 17, {"replacement": False}, ["--without-replacement"]),
    ("without-replacement-all", 64, 64, 5, 0, {"replacement": False, "smooth": 0.5},
     ["--without-replacement", "--smooth", "0.5"]),
    ("biased", 2500, 700, 11, 99, {"weighting": "biased", "k": 0.5}, ["--k", "0.5"]),
    ("biased-negative-k", 100, 50, 12, 0, {"weighting": "biased", "k": -0.25}, ["--k", "-0.25"]),
    ("smooth", 3000, 500, 13, 2**40, {"smooth": 0.125}, ["--smooth", "0.125"]),
    ("power", 1000, 400, 14, 0, {"power": 0.5, "smooth": 0.5}, ["--power", "0.5", "--smooth", "0.5"]),
    ("biased-without-replacement-smooth", 400, 100, 15, 5,
     {"replacement": False, "weighting": "biased", "k": 0.75, "smooth": 0.25},
     ["--without-replacement", "--k", "0.75", "--smooth", "0.25"]),
    ("large-seed-offset", 50, 40, 2**64 - 1, 2**64 - 10, {}, []),
]


@pytest.mark.parametrize("name,n,count,seed,offset,opts,flags", CASES, ids=[c[0] for c in CASES])
def test_numpy_matches_cli(cuis_sample_cli, tmp_path, name, n, count, seed, offset, opts, flags):
    scores = make_scores(n, seed % 1000) if n > 4 else np.array([0.5, 0.0, 3.0, 1.5], np.float32)
    path = tmp_path / "scores.f32"
    scores.astype("<f4").tofile(path)
    want_idx, want_w = run_cli(cuis_sample_cli, path, count, seed, offset, flags)
    idx, w = cuis.sample(scores, count, seed=seed, offset=offset, **opts)
    np.testing.assert_array_equal(idx, want_idx)
    np.testing.assert_array_equal(bits(w), bits(want_w))


@requires_torch
@pytest.mark.parametrize("name,n,count,seed,offset,opts,flags", CASES[:5], ids=[c[0] for c in CASES[:5]])
def test_torch_matches_cli(cuis_sample_cli, tmp_path, name, n, count, seed, offset, opts, flags):
    scores = make_scores(n, seed % 1000) if n > 4 else np.array([0.5, 0.0, 3.0, 1.5], np.float32)
    path = tmp_path / "scores.f32"
    scores.astype("<f4").tofile(path)
    want_idx, want_w = run_cli(cuis_sample_cli, path, count, seed, offset, flags)
    idx, w = cuis.sample(torch.from_numpy(scores), count, seed=seed, offset=offset, **opts)
    assert isinstance(idx, torch.Tensor)
    np.testing.assert_array_equal(idx.numpy(), want_idx)
    np.testing.assert_array_equal(bits(w.numpy()), bits(want_w))


def test_cli_rejects_what_python_rejects(cuis_sample_cli, tmp_path):
    # A NaN cannot be written to a score file the tool accepts; a text file with
    # a negative score is refused by both, naming the item.
    path = tmp_path / "scores.txt"
    path.write_text("1\n-2\n3\n")
    p = subprocess.run([str(cuis_sample_cli), "--weights", str(path), "--count", "2", "--seed", "1", "--device",
                        "cpu"], capture_output=True, text=True)
    assert p.returncode == 1
    with pytest.raises(cuis.ScoreError) as e:
        cuis.sample(np.array([1, -2, 3], np.float32), 2, seed=1)
    assert e.value.index == 1 and e.value.value == -2.0
