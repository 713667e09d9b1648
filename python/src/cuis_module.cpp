// cuis._cuis: the extension module under the Python package, over the public
// C++ API (include/cuis/). This file defines the module: its Python names,
// argument names and docstrings, in the order the type stubs list them. The
// functions are defined by responsibility:
//   intake.h            array checks (dtype/shape/contiguity/device), framework-free
//   arrays.h            array intake: DLPack ndarrays described for intake.h
//   host_calls.h        the CPU bodies of the calls (cuis::ref), framework-free
//   sample_args.h       SampleOptions and the sampler's argument checks, framework-free
//   widen.h             exact float16/bfloat16 -> float32 widening on the host
//   errors.h            CallError: cuis::Error and DeviceStatus as a C++ exception
//   python_errors.h     CallError -> cuis._errors exceptions
//   status.h            status buffers (DeviceStatus) and their tuple form
//   cuda_device.h       the CUDA device and stream of a call
//   sampler_bindings.h  cuis::sample, cuis::ref::sample, uniform indices
//   loss_bindings.h     cuis::cross_entropy, cuis::ref::cross_entropy_row
//   shard_bindings.h    sharded sampling across ranks: cuis::shard_*, cuis::ref::shard_*
// Arrays come in through DLPack (nb::ndarray, no copy). Outputs are allocated
// by the Python layer in the caller's framework (cuis/_sample.py, _rng.py,
// _loss.py) and written here in place. Every failure becomes a Python
// exception from cuis._errors; nothing here aborts. The CPU functions run the
// CPU reference (cuis::ref) with the GIL released; the CUDA functions only
// enqueue on the caller's stream.
#include "arrays.h"
#include "cuda_device.h"
#include "loss_bindings.h"
#include "python_errors.h"
#include "sampler_bindings.h"
#include "shard_bindings.h"
#include "status.h"
#include "widen.h"

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <cuis/error.h>
#include <cuis/sampler.h>

#include <cstdint>
#include <string>

namespace nb = nanobind;
using namespace nb::literals;
using cuis_python::check_array;
using cuis_python::check_sample_args;
using cuis_python::cross_entropy_cpu;
using cuis_python::cross_entropy_cuda;
using cuis_python::device_count;
using cuis_python::from_tuple;
using cuis_python::make_options;
using cuis_python::MAX_DRAWS;
using cuis_python::MAX_N;
using cuis_python::read_status;
using cuis_python::sample_cpu;
using cuis_python::sample_cuda;
using cuis_python::sample_workspace_size;
using cuis_python::uniform_indices_cpu;
using cuis_python::uniform_indices_cuda;
using cuis_python::widen_cpu;
namespace shard = cuis_python;  // the sharded-sampling bindings (shard_bindings.h)

NB_MODULE(_cuis, m) {
  cuis_python::register_error_translator();
  m.doc() =
      "The compiled core of the cuis package (private: use the functions of the `cuis` package). Arrays come in "
      "through DLPack without a copy and are written in place.";

  nb::enum_<cuis::Error>(m, "ErrorCode", nb::is_arithmetic(), "The cuis::Error codes (include/cuis/error.h).")
      .value("success", cuis::Error::success)
      .value("null_pointer", cuis::Error::null_pointer)
      .value("invalid_argument", cuis::Error::invalid_argument)
      .value("empty_input", cuis::Error::empty_input)
      .value("too_many_draws", cuis::Error::too_many_draws)
      .value("invalid_k", cuis::Error::invalid_k)
      .value("invalid_power", cuis::Error::invalid_power)
      .value("invalid_smoothing", cuis::Error::invalid_smoothing)
      .value("workspace_too_small", cuis::Error::workspace_too_small)
      .value("misaligned_pointer", cuis::Error::misaligned_pointer)
      .value("nan_score", cuis::Error::nan_score)
      .value("inf_score", cuis::Error::inf_score)
      .value("negative_score", cuis::Error::negative_score)
      .value("zero_total", cuis::Error::zero_total)
      .value("not_enough_positive", cuis::Error::not_enough_positive)
      .value("invalid_mean_loss", cuis::Error::invalid_mean_loss)
      .value("invalid_label", cuis::Error::invalid_label)
      .value("index_out_of_range", cuis::Error::index_out_of_range)
      .value("non_finite_value", cuis::Error::non_finite_value)
      .value("shape_mismatch", cuis::Error::shape_mismatch)
      .value("io_error", cuis::Error::io_error)
      .value("corrupt_checkpoint", cuis::Error::corrupt_checkpoint)
      .value("corrupt_data", cuis::Error::corrupt_data)
      .value("cuda_error", cuis::Error::cuda_error)
      .value("out_of_memory", cuis::Error::out_of_memory)
      .value("no_device", cuis::Error::no_device)
      .value("internal_error", cuis::Error::internal_error)
      .value("shard_mismatch", cuis::Error::shard_mismatch)
      .value("capacity_exceeded", cuis::Error::capacity_exceeded);

  m.attr("STATUS_BYTES") = sizeof(cuis::DeviceStatus);
  m.attr("MAX_DRAWS") = MAX_DRAWS;
  m.attr("MAX_N") = MAX_N;
  m.attr("SHARD_RECORD_WORDS") = shard::SHARD_RECORD_WORDS;
  m.attr("SHARD_TERMS_DOUBLES") = shard::SHARD_TERMS_DOUBLES;
  m.attr("MAX_RANKS") = cuis::MAX_RANKS;

  m.def(
      "error_string", [](int code) { return std::string(cuis::error_string(static_cast<cuis::Error>(code))); },
      "code"_a, "cuis::error_string(): a short English name for an error code.");
  m.def(
      "describe",
      [](int code, int64_t index, float value, uint64_t positive_count, int rank) {
        return cuis::describe(from_tuple(code, index, value, positive_count, rank));
      },
      "code"_a, "index"_a, "value"_a, "positive_count"_a, "rank"_a = 0,
      "cuis::describe(): one line naming the problem a DeviceStatus holds.");
  m.def("check_sample_args",
        [](int64_t n, int64_t num_draws, bool replacement, int weighting, float k, float smooth,
           float adaptive_smooth, float power) {
          check_sample_args(n, num_draws,
                            make_options(replacement, weighting, k, smooth, adaptive_smooth, 0.0f, power, 0, 0));
        },
        "n"_a, "num_draws"_a, "replacement"_a, "weighting"_a, "k"_a, "smooth"_a, "adaptive_smooth"_a, "power"_a,
        "The argument checks of cuis::sample() (sizes, then cuis::validate_options()); raises cuis.Error.");
  m.def("counters_consumed",
        [](int64_t n, int64_t num_draws, bool replacement) {
          cuis::SampleOptions o;
          o.replacement = replacement;
          return cuis::counters_consumed(n, num_draws, o);
        },
        "n"_a, "num_draws"_a, "replacement"_a,
        "cuis::counters_consumed(): RNG counters one call uses (num_draws with replacement, n without).");
  m.def("sample_cpu", &sample_cpu, "scores"_a, "num_draws"_a, "indices"_a, "weights"_a, "candidate_ids"_a.none(),
        "rng"_a.none(), "mean_loss_array"_a.none(), "replacement"_a, "weighting"_a, "k"_a, "smooth"_a,
        "adaptive_smooth"_a, "mean_loss"_a, "power"_a, "seed"_a, "offset"_a, "advance_rng"_a,
        "cuis::ref::sample() on host arrays (float16 and bfloat16 scores widened exactly); raises cuis.Error, "
        "a score error naming the index and value.");
  m.def("sample_workspace_size", &sample_workspace_size, "n"_a, "num_draws"_a, "device"_a, "replacement"_a,
        "weighting"_a, "k"_a, "smooth"_a, "adaptive_smooth"_a, "power"_a,
        "cuis::sample_workspace_size() on the given CUDA device, in bytes.");
  m.def("sample_cuda", &sample_cuda, "scores"_a, "num_draws"_a, "indices"_a, "weights"_a, "status"_a,
        "workspace"_a, "candidate_ids"_a.none(), "rng"_a.none(), "mean_loss_array"_a.none(), "replacement"_a,
        "weighting"_a, "k"_a, "smooth"_a, "adaptive_smooth"_a, "mean_loss"_a, "power"_a, "seed"_a, "offset"_a,
        "advance_rng"_a, "stream"_a,
        "cuis::sample() on device arrays: enqueues on `stream` and returns; score errors go to `status`.");
  m.def("uniform_indices_cpu", &uniform_indices_cpu, "out"_a, "n"_a, "seed"_a, "offset"_a, "rng"_a.none(),
        "advance"_a,
        "cuis::ref::uniform_indices() into a host int64 array.");
  m.def("uniform_indices_cuda", &uniform_indices_cuda, "out"_a, "n"_a, "seed"_a, "offset"_a, "rng"_a.none(),
        "advance"_a, "stream"_a, "cuis::uniform_indices() into a device int64 array, enqueued on `stream`.");
  m.def("cross_entropy_cpu", &cross_entropy_cpu, "logits"_a, "labels"_a, "loss"_a, "grad_norm"_a,
        "cuis::ref::cross_entropy_row() for every row; raises for the lowest bad row.");
  m.def("cross_entropy_cuda", &cross_entropy_cuda, "logits"_a, "labels"_a, "loss"_a, "grad_norm"_a, "status"_a,
        "stream"_a, "cuis::cross_entropy() on device arrays, enqueued on `stream`; a bad row goes to `status`.");
  // Sharded sampling (cuis/sharded.h). info = (mode, rank, ranks, num_samples, capacity); records are int64
  // arrays of SHARD_RECORD_WORDS per rank, terms float64 arrays of SHARD_TERMS_DOUBLES per rank.
  m.def("check_shard_args", &shard::check_shard_args, "info"_a, "n"_a, "num_draws"_a, "weighting"_a, "k"_a,
        "smooth"_a, "adaptive_smooth"_a, "power"_a,
        "cuis::validate_shard() (raises cuis.Error); returns (capacity, RNG counters one step consumes: R b).");
  m.def("shard_record_cpu", &shard::shard_record_cpu, "scores"_a, "shard_ids"_a.none(), "shard_offset"_a,
        "num_draws"_a, "record"_a, "rng"_a.none(), "mean_loss_array"_a.none(), "info"_a, "weighting"_a, "k"_a,
        "smooth"_a, "adaptive_smooth"_a, "mean_loss"_a, "power"_a, "seed"_a, "offset"_a,
        "cuis::ref::shard_record(): this shard's record (int64[10]) on the host; a bad score goes into the "
        "record, not an exception (argument errors raise).");
  m.def("shard_sample_cpu", &shard::shard_sample_cpu, "scores"_a, "shard_ids"_a.none(), "shard_offset"_a,
        "num_draws"_a, "records"_a, "indices"_a, "weights"_a, "count"_a, "status"_a, "terms"_a.none(),
        "work"_a.none(), "rng"_a.none(), "mean_loss_array"_a.none(), "advance_rng"_a, "info"_a, "weighting"_a,
        "k"_a, "smooth"_a, "adaptive_smooth"_a, "mean_loss"_a, "power"_a, "seed"_a, "offset"_a,
        "cuis::ref::shard_sample() with the R gathered records: this rank's draws, count and status (data errors "
        "go to `status`, identical on every rank); for biased weights this rank's terms and the raw weights in "
        "`work`; `rng` advanced by R b.");
  m.def("shard_rescale_cpu", &shard::shard_rescale_cpu, "scores"_a, "shard_ids"_a.none(), "shard_offset"_a,
        "num_draws"_a, "all_terms"_a, "indices"_a, "weights"_a, "count"_a, "status"_a, "work"_a, "info"_a,
        "weighting"_a, "k"_a, "smooth"_a, "adaptive_smooth"_a, "power"_a,
        "cuis::ref::shard_rescale() with the R gathered terms: the final biased weights.");
  m.def("shard_workspace_size", &shard::shard_workspace_size, "n"_a, "num_draws"_a, "device"_a, "info"_a,
        "weighting"_a, "k"_a, "smooth"_a, "adaptive_smooth"_a, "power"_a,
        "cuis::shard_workspace_size() on the given CUDA device, in bytes (one workspace for a step's three calls).");
  m.def("shard_record_cuda", &shard::shard_record_cuda, "scores"_a, "shard_ids"_a.none(), "shard_offset"_a,
        "num_draws"_a, "record"_a, "workspace"_a, "rng"_a.none(), "mean_loss_array"_a.none(), "info"_a,
        "weighting"_a, "k"_a, "smooth"_a, "adaptive_smooth"_a, "mean_loss"_a, "power"_a, "seed"_a, "offset"_a,
        "stream"_a, "cuis::shard_record() on device arrays: this shard's record, enqueued on `stream`.");
  m.def("shard_sample_cuda", &shard::shard_sample_cuda, "scores"_a, "shard_ids"_a.none(), "shard_offset"_a,
        "num_draws"_a, "records"_a, "indices"_a, "weights"_a, "count"_a, "status"_a, "terms"_a.none(),
        "workspace"_a, "rng"_a.none(), "mean_loss_array"_a.none(), "advance_rng"_a, "info"_a, "weighting"_a, "k"_a,
        "smooth"_a, "adaptive_smooth"_a, "mean_loss"_a, "power"_a, "seed"_a, "offset"_a, "stream"_a,
        "cuis::shard_sample() on device arrays with the R gathered records, enqueued on `stream`; data errors go "
        "to `status`.");
  m.def("shard_rescale_cuda", &shard::shard_rescale_cuda, "scores"_a, "shard_ids"_a.none(), "shard_offset"_a,
        "num_draws"_a, "all_terms"_a, "indices"_a, "weights"_a, "count"_a, "status"_a, "workspace"_a, "info"_a,
        "weighting"_a, "k"_a, "smooth"_a, "adaptive_smooth"_a, "power"_a, "stream"_a,
        "cuis::shard_rescale() on device arrays with the R gathered terms, enqueued on `stream`.");
  m.def("read_status", &read_status, "status"_a, "stream"_a,
        "(code, index, value, positive_count, rank) of a DeviceStatus buffer; waits for `stream` when on a device.");
  m.def("check_array", &check_array, "array"_a, "role"_a,
        "Checks one input as the calls do (dtype, dimensions, contiguity, device); returns (shape, is_cuda, device).");
  m.def("device_count", &device_count, "CUDA devices this module's runtime sees (0 without a GPU or driver).");
  m.def("widen_cpu", &widen_cpu, "src"_a, "out"_a,
        "Writes float32/float16/bfloat16 `src` into float32 `out`, exactly (the widening sample_cpu uses).");
}
