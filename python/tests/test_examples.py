"""examples/fashion_mnist.py: a short run (uniform vs. ImportanceSampler) completes and prints both."""

import pathlib
import subprocess
import sys

import pytest

pytest.importorskip("torch")
from conftest import REPO  # noqa: E402

SCRIPT = REPO / "examples" / "fashion_mnist.py"
DATA = pathlib.Path("/usr/share/datasets/fashion-mnist")
SHORT = ["--steps", "30", "--batch-size", "64", "--warmup", "5", "--eval-size", "2000", "--device", "cpu",
         "--threads", "2"]


def run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120)


def check_table(out):
    rows = {row[0]: row for row in map(str.split, out.splitlines()) if row[:1] in (["uniform"], ["importance"])}
    assert set(rows) == {"uniform", "importance"}, out
    for row in rows.values():
        assert row[1] == "30" and row[4].endswith("%")
        assert float(row[3]) > 0


@pytest.mark.skipif(not all((DATA / f"{name}-ubyte.gz").is_file() for name in
                            ("train-images-idx3", "train-labels-idx1", "t10k-images-idx3", "t10k-labels-idx1")),
                    reason=f"Fashion-MNIST is not installed in {DATA} (Debian package fashion-mnist)")
def test_fashion_mnist_short_run():
    r = run(*SHORT)
    assert r.returncode == 0, r.stderr
    assert "fashion-mnist" in r.stdout
    check_table(r.stdout)


def test_fashion_mnist_missing_data_and_synthetic(tmp_path):
    r = run("--data-dir", str(tmp_path), *SHORT)
    assert r.returncode == 2 and "Fashion-MNIST not found" in r.stderr and "--synthetic" in r.stderr
    r = run("--data-dir", str(tmp_path), "--synthetic", *SHORT)
    assert r.returncode == 0, r.stderr
    assert "synthetic data" in r.stdout
    check_table(r.stdout)
