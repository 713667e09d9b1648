// Error codes and the device-side status a sampling call leaves behind.
#pragma once

#include <cstdint>
#include <string>

namespace cuis {

// Every public call returns one of these; none of them ever exits or aborts.
enum class [[nodiscard]] Error : int32_t {
  success = 0,
  // Host-side argument checks (returned at once, nothing launched).
  null_pointer,
  invalid_argument,      // an argument outside its domain not covered below
  empty_input,           // n == 0 or num_draws == 0
  too_many_draws,        // num_draws above the limit, or above n without replacement
  invalid_k,             // k > 1 or not finite
  invalid_power,         // smoothing power outside [0, 1]
  invalid_smoothing,     // negative or non-finite smoothing constant
  workspace_too_small,
  misaligned_pointer,
  // Input data errors, detected on device and reported through DeviceStatus.
  nan_score,
  inf_score,
  negative_score,
  zero_total,            // every transformed score is zero
  not_enough_positive,   // without replacement: fewer positive scores than draws
  invalid_mean_loss,     // adaptive smoothing with a NaN, infinite or negative mean loss
  invalid_label,         // a label outside [0, classes)
  index_out_of_range,    // a batch index outside [0, rows)
  non_finite_value,      // a NaN or infinite logit, prediction or target
  // Model and checkpoint errors.
  shape_mismatch,
  io_error,
  corrupt_checkpoint,
  corrupt_data,          // a dataset file that is truncated, corrupt or lying
  // Runtime errors.
  cuda_error,
  out_of_memory,         // device or host memory
  no_device,             // no usable CUDA device: the CPU reference (cuis::ref) runs without one
  internal_error,        // an unexpected exception from the standard library, caught at the API edge
  // Sharded sampling (cuis/sharded.h), found from the gathered records on every rank alike.
  shard_mismatch,        // ranks disagree: seed, offset, options, mean loss, rank order or shard sizes
  capacity_exceeded,     // global mode: more draws landed on a rank than its output capacity
};

// A short English name for the code, e.g. "NaN score".
const char* error_string(Error e);

// The detail of the last error returned on this thread (with file:line for
// CUDA failures); empty after a success.
const std::string& last_error_message();

// What the device found while sampling, written by the call's last kernel.
// The output of a call whose status is not success holds index -1, weight 0.
struct DeviceStatus {
  Error code;               // success or one of the input data errors
  int32_t rank;             // sharded sampling: the rank concerned, else 0
  int64_t index;            // first offending score (lowest index), else -1; see describe()
  float value;              // that score (or the mean loss), else 0
  float reserved2;
  uint64_t positive_count;  // transformed scores > 0 (0 after a bad score or mean loss)
};

// One line naming the problem, e.g. "score 17 is NaN (value nan)".
std::string describe(const DeviceStatus& status);

}  // namespace cuis
