"""Every error case is a Python exception, a subclass of cuis.Error carrying
the C++ error code and message; none crashes the interpreter. CUDA-side
checks are reached with a fake DLPack producer that claims a device
(conftest.FakeDeviceArray) and, on a machine without a GPU, the no-device path."""

import pickle

import numpy as np
import pytest

import cuis
from cuis import ErrorCode as C
from cuis import _cuis
from conftest import HAS_GPU, FakeDeviceArray, requires_torch, torch

S = np.array([0.5, 0.0, 3.0, 1.5], np.float32)


def raises(cls, code, fn, *args, match=None, **kw):
    with pytest.raises(cls) as e:
        fn(*args, **kw)
    assert isinstance(e.value, cuis.Error)
    assert e.value.code == code, (e.value.code, str(e.value))
    assert e.value.message
    if match:
        assert match in e.value.message, e.value.message
    return e.value


# ------------------------------------------------------------ arrays


def test_wrong_dtype():
    e = raises(cuis.DTypeError, C.invalid_argument, cuis.sample, S.astype(np.float64), 2,
               match="scores has dtype float64; expected float32, float16 or bfloat16")
    assert isinstance(e, TypeError) and isinstance(e, ValueError)
    raises(cuis.DTypeError, C.invalid_argument, cuis.sample, S, 2, candidate_ids=np.arange(4, dtype=np.int32),
           match="candidate_ids has dtype int32; expected int64")
    raises(cuis.DTypeError, C.invalid_argument, cuis.cross_entropy_scores, np.zeros((2, 3), np.float32),
           np.zeros(2, np.float32), match="labels has dtype float32")
    raises(cuis.DTypeError, C.invalid_argument, cuis.sample, [0.5, 1.0], 1, match="float64")


def test_wrong_number_of_dimensions():
    raises(cuis.ShapeError, C.shape_mismatch, cuis.sample, S.reshape(2, 2), 2,
           match="scores has 2 dimension(s); expected 1")
    raises(cuis.ShapeError, C.shape_mismatch, cuis.sample, np.float32(1.0), 1, match="0 dimension(s)")
    raises(cuis.ShapeError, C.shape_mismatch, cuis.cross_entropy_scores, np.zeros(3, np.float32),
           np.zeros(3, np.int64), match="logits has 1 dimension(s); expected 2")


def test_wrong_lengths():
    raises(cuis.ShapeError, C.shape_mismatch, cuis.sample, S, 2, candidate_ids=np.arange(3),
           match="candidate_ids has 3 elements; expected 4")
    raises(cuis.ShapeError, C.shape_mismatch, cuis.cross_entropy_scores, np.zeros((3, 2), np.float32),
           np.zeros(2, np.int64), match="labels has 2 elements; expected 3")
    raises(cuis.ShapeError, C.shape_mismatch, cuis.sample, S, 2, rng=np.zeros(3, np.int64),
           match="rng has 3 elements; expected 2")
    raises(cuis.ShapeError, C.empty_input, cuis.sample, np.zeros(0, np.float32), 1, match="n is 0")


def test_non_contiguous():
    wide = np.arange(8, dtype=np.float32)
    raises(cuis.ArgumentError, C.invalid_argument, cuis.sample, wide[::2], 2, match="scores is not contiguous")
    raises(cuis.ArgumentError, C.invalid_argument, cuis.sample, wide[::-1], 2, match="not contiguous")
    z = np.zeros((3, 4), np.float32)
    raises(cuis.ArgumentError, C.invalid_argument, cuis.cross_entropy_scores, z.T, np.zeros(4, np.int64),
           match="logits is not contiguous")


@requires_torch
def test_non_contiguous_torch():
    t = torch.arange(8, dtype=torch.float32)
    raises(cuis.ArgumentError, C.invalid_argument, cuis.sample, t[::2], 2, match="not contiguous")
    raises(cuis.ArgumentError, C.invalid_argument, cuis.cross_entropy_scores, torch.zeros(3, 4).t(),
           torch.zeros(4, dtype=torch.int64), match="not contiguous")
    # extent-1 dimensions may have any stride
    idx, _ = cuis.sample(torch.ones(4, 1)[:, 0], 2)
    assert len(idx) == 2


def test_arrays_on_different_devices():
    cuda_ids = FakeDeviceArray((4,), "int64")
    raises(cuis.DeviceMismatchError, C.invalid_argument, cuis.sample, S, 2, candidate_ids=cuda_ids,
           match="candidate_ids is on cuda:0 but scores is on cpu")
    raises(cuis.DeviceMismatchError, C.invalid_argument, cuis.sample, S, 2, rng=FakeDeviceArray((2,), "int64"),
           match="rng is on cuda:0")
    raises(cuis.DeviceMismatchError, C.invalid_argument, cuis.cross_entropy_scores, np.zeros((2, 3), np.float32),
           FakeDeviceArray((2,), "int64"), match="labels is on cuda:0 but logits is on cpu")
    # the extension checks too, whoever calls it
    raises(cuis.DeviceMismatchError, C.invalid_argument, _cuis.sample_cpu, S, 2, np.empty(2, np.int64),
           np.empty(2, np.float32), cuda_ids, None, None, True, 1, 0.5, 0.0, 0.0, 0.0, 1.0, 0, 0, True,
           match="candidate_ids is on cuda:0 but scores is on cpu")
    raises(cuis.DeviceMismatchError, C.invalid_argument, _cuis.sample_cpu, S, 2, FakeDeviceArray((2,), "int64"),
           np.empty(2, np.float32), None, None, None, True, 1, 0.5, 0.0, 0.0, 0.0, 1.0, 0, 0, True,
           match="indices is on cuda:0")


def test_unsupported_device_and_objects():
    raises(cuis.DeviceMismatchError, C.invalid_argument, cuis.sample, FakeDeviceArray((4,), device_type=8), 2,
           match="unsupported device (DLPack device type 8)")
    raises(cuis.DeviceMismatchError, C.invalid_argument, cuis.sample, FakeDeviceArray((4,)), 2,
           match="cuis allocates device outputs with PyTorch or CuPy only")
    raises(cuis.ArgumentError, C.invalid_argument, cuis.sample, object(), 2)


@requires_torch
def test_meta_tensor():
    raises(cuis.DeviceMismatchError, C.invalid_argument, cuis.sample, torch.empty(4, device="meta"), 2,
           match="could not be taken through DLPack")


@pytest.mark.skipif(HAS_GPU, reason="checks the no-device path; this machine has a GPU")
def test_cuda_arrays_without_a_gpu():
    f = FakeDeviceArray
    raises(cuis.NoDeviceError, C.no_device, _cuis.sample_workspace_size, 4, 2, 0, True, 1, 0.5, 0.0, 0.0, 1.0,
           match="no usable CUDA device")
    raises(cuis.NoDeviceError, C.no_device, _cuis.sample_cuda, f((4,)), 2, f((2,), "int64"), f((2,)),
           f((32,), "uint8"), f((4096,), "uint8"), None, None, None, True, 1, 0.5, 0.0, 0.0, 0.0, 1.0, 0, 0, True, 0)
    raises(cuis.NoDeviceError, C.no_device, _cuis.uniform_indices_cuda, f((4,), "int64"), 10, 0, 0, None, True, 0)
    raises(cuis.NoDeviceError, C.no_device, _cuis.cross_entropy_cuda, f((4, 3)), f((4,), "int32"), f((4,)),
           f((4,)), f((32,), "uint8"), 0)
    raises(cuis.NoDeviceError, C.no_device, _cuis.read_status, f((32,), "uint8"), 0)
    raises(cuis.NoDeviceError, C.no_device, cuis.uniform_indices, 4, 10, device="cuda")
    raises(cuis.NoDeviceError, C.no_device, cuis.rng_state, 1, 2, device="cuda:0")
    assert not cuis.cuda_available() and cuis.device_count() == 0


# ------------------------------------------------------------ arguments


def test_too_many_draws():
    e = raises(cuis.TooManyDrawsError, C.too_many_draws, cuis.sample, S, 5, replacement=False,
               match="num_draws 5 exceeds n 4 without replacement")
    assert isinstance(e, ValueError)
    raises(cuis.TooManyDrawsError, C.too_many_draws, cuis.sample, S, 2**31, match="exceeds 2^31 - 1")
    raises(cuis.TooManyDrawsError, C.too_many_draws, cuis.sample, S, 2**70)  # no 2^70-element allocation


def test_bad_counts():
    raises(cuis.ShapeError, C.empty_input, cuis.sample, S, 0, match="num_draws is 0")
    raises(cuis.ShapeError, C.empty_input, cuis.sample, S, -3, match="num_draws is -3")
    raises(cuis.ArgumentError, C.invalid_argument, cuis.sample, S, 2.0, match="num_draws must be an integer")
    raises(cuis.ArgumentError, C.invalid_argument, cuis.sample, S, True, match="num_draws must be an integer")
    raises(cuis.ShapeError, C.empty_input, cuis.uniform_indices, 0, 5)
    raises(cuis.ShapeError, C.empty_input, cuis.uniform_indices, 5, 0)


def test_bad_options():
    raises(cuis.ArgumentError, C.invalid_k, cuis.sample, S, 2, weighting="biased", k=1.5, match="k 1.5")
    raises(cuis.ArgumentError, C.invalid_k, cuis.sample, S, 2, weighting="biased", k=float("nan"))
    raises(cuis.ArgumentError, C.invalid_power, cuis.sample, S, 2, power=1.5, match="power")
    raises(cuis.ArgumentError, C.invalid_power, cuis.sample, S, 2, power=-0.1)
    raises(cuis.ArgumentError, C.invalid_smoothing, cuis.sample, S, 2, smooth=-1.0, match="smooth")
    raises(cuis.ArgumentError, C.invalid_smoothing, cuis.sample, S, 2, smooth=float("inf"))
    raises(cuis.ArgumentError, C.invalid_smoothing, cuis.sample, S, 2, adaptive_smooth=-1.0, match="adaptive_smooth")
    raises(cuis.ArgumentError, C.invalid_argument, cuis.sample, S, 2, weighting="Biased", match="weighting must be")
    raises(cuis.ArgumentError, C.invalid_argument, cuis.sample, S, 2, k="0.5", match="k must be a number")
    # k > 1 is fine when the weights are not biased (SampleOptions ignores k then)
    cuis.sample(S, 2, k=1.5)


def test_bad_seed_offset_stream():
    raises(cuis.ArgumentError, C.invalid_argument, cuis.sample, S, 2, seed=-1, match="seed -1 is outside")
    raises(cuis.ArgumentError, C.invalid_argument, cuis.sample, S, 2, offset=2**64, match="offset")
    raises(cuis.ArgumentError, C.invalid_argument, cuis.sample, S, 2, seed=1.5, match="seed must be an integer")
    raises(cuis.ArgumentError, C.invalid_argument, cuis.sample, S, 2, seed=1, rng=cuis.rng_state(1, 2),
           match="not both")
    raises(cuis.ArgumentError, C.invalid_argument, cuis.sample, S, 2, status=np.zeros(32, np.uint8),
           match="status= is for CUDA arrays")
    raises(cuis.ArgumentError, C.invalid_argument, cuis.new_status, S, match="CUDA arrays")
    raises(cuis.DeviceMismatchError, C.invalid_argument, cuis.uniform_indices, 3, 5, device="tpu")
    raises(cuis.DeviceMismatchError, C.invalid_argument, cuis.rng_state, device="cuda:x")


# ------------------------------------------------------------ scores


@pytest.mark.parametrize(
    "scores,code,index,value,text",
    [
        ([1, float("nan"), 2], C.nan_score, 1, None, "score 1 is NaN"),
        ([1, 2, float("inf")], C.inf_score, 2, float("inf"), "score 2 is infinite (value inf)"),
        ([1, 2, -float("inf")], C.inf_score, 2, -float("inf"), "score 2 is infinite"),
        ([1, -0.5, 2], C.negative_score, 1, -0.5, "score 1 is negative (value -0.5)"),
        ([0, 0, 0], C.zero_total, -1, 0.0, "all transformed scores are zero"),
    ],
)
def test_score_errors_name_index_and_value(scores, code, index, value, text):
    e = raises(cuis.ScoreError, code, cuis.sample, np.array(scores, np.float32), 2, match=text)
    assert isinstance(e, cuis.InputError) and isinstance(e, ValueError)
    assert e.index == index and e.status.code == code
    if value is None:
        assert np.isnan(e.value)
    else:
        assert e.value == value
    # the message is cuis::describe(status)
    assert e.message == e.status.describe()


def test_not_enough_positive_and_mean_loss():
    e = raises(cuis.ScoreError, C.not_enough_positive, cuis.sample, S, 4, replacement=False,
               match="only 3 positive scores for draws without replacement")
    assert e.status.positive_count == 3
    e = raises(cuis.ScoreError, C.invalid_mean_loss, cuis.sample, S, 2, adaptive_smooth=0.5,
               mean_loss=float("nan"), match="mean loss for adaptive smoothing is invalid")
    raises(cuis.ScoreError, C.invalid_mean_loss, cuis.sample, S, 2, adaptive_smooth=0.5,
           mean_loss=np.array([-1.0], np.float32))


def test_score_error_advances_rng_like_the_device():
    state = cuis.rng_state(1, 0)
    with pytest.raises(cuis.ScoreError):
        cuis.sample(np.array([1, np.nan], np.float32), 3, rng=state)
    assert state.tolist() == [1, 3]


# ------------------------------------------------------------ labels


def test_label_errors():
    z = np.zeros((4, 3), np.float32)
    e = raises(cuis.LabelError, C.invalid_label, cuis.cross_entropy_scores, z, np.array([0, 1, 3, -1]),
               match="row 2 has label 3, outside [0, classes)")
    assert e.index == 2 and e.value == 3.0
    raises(cuis.LabelError, C.invalid_label, cuis.cross_entropy_scores, z, np.array([0, -1, 1, 1], np.int32),
           match="row 1 has label -1")
    raises(cuis.LabelError, C.invalid_label, cuis.cross_entropy_scores, z, np.array([0, 1, 2, 2**40]),
           match="row 3 has label")
    z[1, 2] = np.nan
    z[3, 0] = np.inf
    e = raises(cuis.LabelError, C.non_finite_value, cuis.cross_entropy_scores, z, np.array([0, 1, 2, 0]),
               match="row 1 holds a non-finite value (nan)")
    assert e.index == 1
    raises(cuis.ShapeError, C.empty_input, cuis.cross_entropy_scores, np.zeros((0, 3), np.float32),
           np.zeros(0, np.int64))
    raises(cuis.ShapeError, C.shape_mismatch, cuis.cross_entropy_scores, np.zeros((2, 0), np.float32),
           np.zeros(2, np.int64))


# ------------------------------------------------------------ the classes


def test_hierarchy_codes_and_pickling():
    assert issubclass(cuis.ScoreError, cuis.Error) and issubclass(cuis.NoDeviceError, RuntimeError)
    assert issubclass(cuis.OutOfMemoryError, MemoryError)
    with pytest.raises(cuis.Error) as e:
        cuis.sample(S, 2, power=2.0)
    s = str(e.value)
    assert s.endswith("[cuis::Error::invalid_power]")
    again = pickle.loads(pickle.dumps(e.value))
    assert type(again) is type(e.value) and again.code == e.value.code and again.message == e.value.message
    with pytest.raises(cuis.Error) as e:
        cuis.sample(np.array([np.nan], np.float32), 1)
    again = pickle.loads(pickle.dumps(e.value))
    assert again.index == 0


def test_error_codes_mirror_the_header():
    # every code of include/cuis/error.h has a name, in order, and nothing beyond
    names = [c.name for c in cuis.ErrorCode]
    assert names[0] == "success" and names[-1] == "capacity_exceeded"
    assert [int(c) for c in cuis.ErrorCode] == list(range(len(names)))
    for c in cuis.ErrorCode:
        assert _cuis.error_string(int(c)) != "unknown error"
    assert _cuis.error_string(len(names)) == "unknown error"  # a code added to the header must be bound


def test_shard_codes_raise_shard_errors_with_the_rank():
    # the sharded sampler's codes (cuis.torch.distributed): ShardError, an InputError naming the rank
    for code in (C.shard_mismatch, C.capacity_exceeded):
        e = cuis._errors._make_error(int(code), "m", (int(code), 2, 1.0, 0, 3))
        assert type(e) is cuis.ShardError and isinstance(e, cuis.InputError) and e.rank == 3
        assert pickle.loads(pickle.dumps(e)).status.rank == 3
    info = cuis.StatusInfo(C.shard_mismatch, 1, 0.0, 0, 2)
    assert info.describe() == "rank 2 disagrees with rank 0: its seed or offset"
    assert cuis.StatusInfo(C.capacity_exceeded, 5, 4.0, 0, 1).describe() == (
        "5 global draws landed on rank 1, more than its capacity of 4")
    assert cuis.StatusInfo(C.success, -1, 0.0, 0).rank == 0  # the field added last, 0 by default
