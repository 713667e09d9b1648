"""The calls that test_torch_ops_backends.py makes through both registrations
of torch.ops.cuis.* (C++ in the test process, Python in a child process with
CUIS_TORCH_OPS=python): every op with several option sets, 16-bit inputs and
failing inputs. `run(device)` returns {case: tensors or the error's (class,
code, message, status)}; as a script it saves that with torch.save.

    python _ops_cases.py OUT DEVICE
"""

import sys

import torch

import cuis
import cuis.torch as ct


def _scores(n, seed, dtype=torch.float32, device="cpu"):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, generator=g) * 4).to(dtype).to(device)


def _cases(dev):
    s = _scores(3000, 1, device=dev)
    ids = (torch.arange(3000) * 3 + 7).to(dev)
    z = torch.randn(40, 7, generator=torch.Generator().manual_seed(5)).to(dev)
    y = torch.randint(0, 7, (40,), generator=torch.Generator().manual_seed(6)).to(dev)
    bad = s.clone()
    bad[17] = -0.1
    nan = s.clone()
    nan[2999] = float("nan")
    yield "default", lambda: ct.sample(s, 200, seed=2**64 - 5, offset=2**63 + 7)
    yield "no_replacement", lambda: ct.sample(s, 200, replacement=False, seed=3, candidate_ids=ids)
    yield "biased_smooth", lambda: ct.sample(s, 100, weighting="biased", k=0.3, smooth=0.25, power=0.5, seed=4)
    yield "adaptive", lambda: ct.sample(s, 100, adaptive_smooth=0.5, mean_loss=1.25, weighting="none", seed=5)
    yield "float16", lambda: ct.sample(_scores(500, 2, torch.float16, dev), 64, seed=6)
    yield "bfloat16", lambda: ct.sample(_scores(500, 3, torch.bfloat16, dev), 64, seed=7, replacement=False)

    def with_rng():
        state = cuis.rng_state(9, 11, device=torch.device(dev))
        a = ct.sample(s, 50, rng=state, candidate_ids=ids, adaptive_smooth=0.5,
                      mean_loss=torch.tensor([2.0], device=dev))
        b = ct.sample(s, 50, rng=state, replacement=False)
        c = ct.sample(s, 50, rng=state, advance_rng=False)
        return (*a, *b, *c, state)

    yield "rng", with_rng
    yield "uniform", lambda: ct.uniform_indices(300, 1000, seed=2**64 - 1, offset=5, device=dev)

    def uniform_rng():
        state = cuis.rng_state(1, 2**64 - 10, device=torch.device(dev))
        return ct.uniform_indices(30, 7, rng=state), ct.uniform_indices(30, 7, rng=state, advance_rng=False), state

    yield "uniform_rng", uniform_rng
    yield "cross_entropy", lambda: ct.cross_entropy_scores(z, y)
    yield "cross_entropy_int32_f16", lambda: ct.cross_entropy_scores(z.half(), y.int())
    yield "cross_entropy_bf16", lambda: ct.cross_entropy_scores(z.bfloat16(), y)

    def checked(fn):
        def run():
            out = fn()
            ct.check_status(out[-1])  # CUDA: the status tensor; CPU: a success status (raised at once)
            return out
        return run

    yield "negative_score", checked(lambda: ct.sample(bad, 8, return_status=True))
    yield "nan_score", checked(lambda: ct.sample(nan, 8, replacement=False, return_status=True))
    yy = y.clone()
    yy[3] = 7
    yield "bad_label", checked(lambda: ct.cross_entropy_scores(z, yy, return_status=True))
    yy64 = y.clone()
    yy64[5] = 2**40
    yield "huge_label", checked(lambda: ct.cross_entropy_scores(z, yy64, return_status=True))
    zz = z.clone()
    zz[8, 2] = float("inf")
    yield "inf_logit", checked(lambda: ct.cross_entropy_scores(zz, y, return_status=True))
    yield "too_many", lambda: ct.sample(s[:10], 11, replacement=False)
    yield "zero_draws", lambda: ct.sample(s, 0)
    yield "float64", lambda: ct.sample(s.double(), 4)
    yield "two_dims", lambda: ct.sample(s.reshape(30, 100), 4)
    yield "strided", lambda: ct.sample(s[::2], 4)
    yield "bad_k", lambda: ct.sample(s, 4, weighting="biased", k=1.5)
    yield "bad_power", lambda: ct.sample(s, 4, power=2.0)
    yield "ids_dtype", lambda: ct.sample(s, 4, candidate_ids=ids.int())
    yield "ids_extent", lambda: ct.sample(s, 4, candidate_ids=ids[:10])
    yield "rng_extent", lambda: ct.sample(s, 4, rng=torch.zeros(3, dtype=torch.int64, device=dev))
    yield "labels_extent", lambda: ct.cross_entropy_scores(z, y[:5])
    yield "logits_1d", lambda: ct.cross_entropy_scores(z[0], y[:1])
    yield "uniform_empty", lambda: ct.uniform_indices(0, 10, device=dev)
    if cuis.device_count() == 0:  # "cuda" without an index where there is no GPU: NoDeviceError
        yield "uniform_no_gpu", lambda: ct.uniform_indices(4, 10, device="cuda")


def opcheck_cases():
    """(op, args) pairs for torch.library.opcheck on the CPU: every op, with and without options."""
    g = torch.Generator().manual_seed(3)
    s = torch.rand(500, generator=g) * 4
    ids = torch.arange(500) * 2
    return [
        (torch.ops.cuis.sample.default, (s, 16, True, 1, 0.5, 0.0, 0.0, 0.0, 1.0, None, 1, 0)),
        (torch.ops.cuis.sample.default, (s, 16, False, 2, 0.5, 0.1, 0.0, 0.0, 0.5, ids, -3, 5)),
        (torch.ops.cuis.sample_rng.default,
         (s, 16, True, 2, 0.5, 0.0, 0.5, 0.0, 1.0, None, torch.tensor([1, 2]), torch.tensor([1.5]), True)),
        (torch.ops.cuis.uniform_indices.default, (32, 10, 1, 2, torch.device("cpu"))),
        (torch.ops.cuis.uniform_indices_rng.default, (torch.tensor([1, 2]), 32, 10, True)),
        (torch.ops.cuis.cross_entropy_scores.default, (torch.randn(8, 5, generator=g),
                                                       torch.randint(0, 5, (8,), generator=g))),
    ]


def run(dev):
    out = {}
    for name, fn in _cases(dev):
        try:
            r = fn()
            out[name] = ("ok", tuple(t.cpu() for t in (r if isinstance(r, tuple) else (r,))))
        except cuis.Error as e:
            out[name] = ("error", type(e).__name__, int(e.code), e.message,
                         None if e.status is None else tuple(e.status))
    return out


if __name__ == "__main__":
    torch.save({"backend": ct.OPS_BACKEND, "results": run(sys.argv[2])}, sys.argv[1])
