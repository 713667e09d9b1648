"""float16 and bfloat16 scores and logits are widened exactly to float32:
every one of the 65536 bit patterns, and the draws equal those of the widened
float32 array, bit for bit."""

import numpy as np
import pytest

import cuis
from cuis import _cuis
from conftest import bits, requires_torch, torch

ALL16 = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)


def widen(src):
    out = np.empty(len(src), np.float32)
    _cuis.widen_cpu(src, out)
    return out


def test_float16_every_bit_pattern_exact():
    h = ALL16.view(np.float16)
    got = widen(h)
    want = h.astype(np.float32)
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(got), nan)
    np.testing.assert_array_equal(bits(got)[~nan], bits(want)[~nan])
    # NaN keeps its sign and payload (shifted into the float's mantissa)
    np.testing.assert_array_equal(bits(got)[nan] >> 13 << 13, bits(got)[nan])
    np.testing.assert_array_equal((bits(got)[nan] >> 13) & 0x3FF, ALL16[nan] & 0x3FF)


@requires_torch
def test_bfloat16_every_bit_pattern_exact():
    b = torch.from_numpy(ALL16.view(np.int16)).view(torch.bfloat16)
    got = widen(b)
    want = b.float().numpy()
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(got), nan)
    np.testing.assert_array_equal(bits(got)[~nan], bits(want)[~nan])
    np.testing.assert_array_equal(bits(got), ALL16.astype(np.uint32) << 16)


@requires_torch
def test_float16_torch_matches_torch_widening():
    h = torch.from_numpy(ALL16.view(np.int16)).view(torch.float16)
    got = widen(h)
    want = h.float().numpy()
    nan = np.isnan(want)
    np.testing.assert_array_equal(bits(got)[~nan], bits(want)[~nan])


def scores16(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random(n) * 100).astype(np.float16)


@pytest.mark.parametrize("opts", [{}, {"replacement": False}, {"weighting": "biased", "k": 0.5}, {"smooth": 0.3}])
def test_float16_draws_equal_float32_draws(opts):
    s16 = scores16()
    a = cuis.sample(s16, 500, seed=8, **opts)
    b = cuis.sample(s16.astype(np.float32), 500, seed=8, **opts)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(bits(a[1]), bits(b[1]))


@requires_torch
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_torch_16bit_draws_equal_float32_draws(dtype):
    s = torch.from_numpy(scores16().astype(np.float32)).to(getattr(torch, dtype))
    a = cuis.sample(s, 500, seed=8, weighting="biased", k=0.5)
    b = cuis.sample(s.float(), 500, seed=8, weighting="biased", k=0.5)
    assert a[0].tolist() == b[0].tolist()
    np.testing.assert_array_equal(bits(a[1].numpy()), bits(b[1].numpy()))
    assert a[1].dtype == torch.float32


def test_float16_bad_scores_report_widened_value():
    s = np.array([1, 2, np.inf, 4], np.float16)
    with pytest.raises(cuis.ScoreError) as e:
        cuis.sample(s, 2)
    assert e.value.code == cuis.ErrorCode.inf_score and e.value.index == 2 and e.value.value == np.inf


@requires_torch
def test_bfloat16_logits_widened():
    z = torch.randn(6, 5).to(torch.bfloat16)
    y = torch.tensor([0, 1, 2, 3, 4, 0])
    a = cuis.cross_entropy_scores(z, y)
    b = cuis.cross_entropy_scores(z.float(), y)
    np.testing.assert_array_equal(bits(a[0].numpy()), bits(b[0].numpy()))
    np.testing.assert_array_equal(bits(a[1].numpy()), bits(b[1].numpy()))


def test_other_dtypes_refused():
    for dt in (np.float64, np.int32, np.int64, np.uint8, np.complex64, np.bool_):
        with pytest.raises(cuis.DTypeError) as e:
            cuis.sample(np.ones(4, dt), 2)
        assert e.value.code == cuis.ErrorCode.invalid_argument
        assert "scores has dtype" in str(e.value)
