// Error names, the per-thread error detail, and DeviceStatus descriptions.
#include <cstdio>
#include <string>

#include "cuis/error.h"
#include "core/error_detail.h"

namespace cuis {

const char* error_string(Error e) {
  switch (e) {
    case Error::success: return "success";
    case Error::null_pointer: return "null pointer argument";
    case Error::invalid_argument: return "invalid argument";
    case Error::empty_input: return "empty input (n or num_draws is 0)";
    case Error::too_many_draws: return "too many draws";
    case Error::invalid_k: return "invalid k (must be finite and <= 1)";
    case Error::invalid_power: return "invalid smoothing power (must be in [0, 1])";
    case Error::invalid_smoothing: return "invalid smoothing constant (must be finite and >= 0)";
    case Error::workspace_too_small: return "workspace too small";
    case Error::misaligned_pointer: return "misaligned pointer";
    case Error::nan_score: return "NaN score";
    case Error::inf_score: return "infinite score";
    case Error::negative_score: return "negative score";
    case Error::zero_total: return "all transformed scores are zero";
    case Error::not_enough_positive: return "fewer positive scores than draws without replacement";
    case Error::invalid_mean_loss: return "invalid mean loss for adaptive smoothing";
    case Error::invalid_label: return "label out of range";
    case Error::index_out_of_range: return "batch index out of range";
    case Error::non_finite_value: return "non-finite value";
    case Error::shape_mismatch: return "shape mismatch";
    case Error::io_error: return "I/O error";
    case Error::corrupt_checkpoint: return "corrupt checkpoint";
    case Error::corrupt_data: return "corrupt data file";
    case Error::cuda_error: return "CUDA error";
    case Error::out_of_memory: return "out of memory";
    case Error::no_device: return "no CUDA device";
    case Error::internal_error: return "internal error";
    case Error::shard_mismatch: return "ranks disagree on the sharded draw";
    case Error::capacity_exceeded: return "more global draws on a rank than its capacity";
  }
  return "unknown error";
}

namespace {
thread_local std::string g_last_error;
}

const std::string& last_error_message() { return g_last_error; }

namespace detail {
Error set_error(Error e, const std::string& message) {
  g_last_error = e == Error::success ? std::string() : message;
  return e;
}
}  // namespace detail

std::string describe(const DeviceStatus& s) {
  char buf[160];
  switch (s.code) {
    case Error::success: return "ok";
    case Error::nan_score:
    case Error::inf_score:
    case Error::negative_score:
      std::snprintf(buf, sizeof buf, "score %lld is %s (value %g)", static_cast<long long>(s.index),
                    s.code == Error::nan_score ? "NaN" : s.code == Error::inf_score ? "infinite" : "negative",
                    static_cast<double>(s.value));
      return buf;
    case Error::invalid_mean_loss:
      std::snprintf(buf, sizeof buf, "mean loss for adaptive smoothing is invalid (value %g)",
                    static_cast<double>(s.value));
      return buf;
    case Error::invalid_label:
      std::snprintf(buf, sizeof buf, "row %lld has label %g, outside [0, classes)", static_cast<long long>(s.index),
                    static_cast<double>(s.value));
      return buf;
    case Error::index_out_of_range:
      std::snprintf(buf, sizeof buf, "batch position %lld holds index %g, outside the dataset",
                    static_cast<long long>(s.index), static_cast<double>(s.value));
      return buf;
    case Error::non_finite_value:
      std::snprintf(buf, sizeof buf, "row %lld holds a non-finite value (%g)", static_cast<long long>(s.index),
                    static_cast<double>(s.value));
      return buf;
    case Error::not_enough_positive:
      std::snprintf(buf, sizeof buf, "only %llu positive scores for draws without replacement",
                    static_cast<unsigned long long>(s.positive_count));
      return buf;
    case Error::shard_mismatch: {
      static const char* const what[] = {"its record is out of rank order", "its seed or offset",
                                         "its options, N, R, b or capacity", "its mean loss for adaptive smoothing",
                                         "the shard sizes, which do not add up to N",
                                         "its record holds values no shard_record writes (not the gathered "
                                         "records, or damaged)"};
      const int64_t w = s.index >= 0 && s.index < 6 ? s.index : 2;
      std::snprintf(buf, sizeof buf, "rank %d disagrees with rank 0: %s", static_cast<int>(s.rank), what[w]);
      return buf;
    }
    case Error::capacity_exceeded:
      std::snprintf(buf, sizeof buf, "%lld global draws landed on rank %d, more than its capacity of %g",
                    static_cast<long long>(s.index), static_cast<int>(s.rank), static_cast<double>(s.value));
      return buf;
    default: return error_string(s.code);
  }
}

}  // namespace cuis
