"""examples/ddp_fashion_mnist.py: a short DDP run on two CPU ranks (torchrun,
gloo, a rendezvous on 127.0.0.1; synthetic data), both methods, global mode
(the draws per rank vary and must add up to the global batch); about 12 s."""

import subprocess
import sys

import pytest

pytest.importorskip("torch")
from conftest import REPO  # noqa: E402

SCRIPT = REPO / "examples" / "ddp_fashion_mnist.py"
STEPS, B = 20, 32


def test_ddp_fashion_mnist_two_ranks(tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(SCRIPT),
           "--data-dir", str(tmp_path), "--synthetic", "--train-size", "2000", "--eval-size", "1000",
           "--steps", str(STEPS), "--batch-size", str(B), "--warmup", "5", "--mode", "global", "--threads", "1",
           "--device", "cpu"]  # gloo on the CPU: a GPU machine may have one GPU for two ranks
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert "synthetic data" in out and "2 ranks on cpu (gloo)" in out
    rows = {row[0]: row for row in map(str.split, out.splitlines()) if row[:1] in (["uniform"], ["importance"])}
    assert set(rows) == {"uniform", "importance"}, out
    for row in rows.values():
        assert row[1] == str(STEPS) and row[4].endswith("%") and row[5] == "yes"  # the ranks' parameters agree
    landed = [line for line in out.splitlines() if line.startswith("draws trained on per rank (importance):")]
    assert len(landed) == 1, out
    counts = [float(v) for v in landed[0].split(":")[1].split("(")[0].split(",")]
    assert len(counts) == 2 and sum(counts) == 2 * B * STEPS  # every global draw trained on by one rank


def test_ddp_fashion_mnist_needs_torchrun():
    r = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "torchrun" in r.stderr
