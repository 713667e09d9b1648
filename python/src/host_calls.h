// The CPU side of the Python layer's calls, framework-free: the bodies that
// cuis._cuis (sampler_bindings.h, loss_bindings.h) and the PyTorch ops
// (torch_ops/) run on host arrays once their intake has checked them. Each
// runs the CPU reference (cuis::ref) and throws CallError (errors.h) for a bad
// call or bad data.
#pragma once

#include <cuis/error.h>
#include <cuis/sampler.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "intake.h"

namespace cuis_python {

// Host float32, float16 or bfloat16 values as float32: `data` itself for
// float32 (no copy), else an exact widened copy in *storage.
const float* host_floats(const void* data, Kind kind, size_t count, std::vector<float>* storage);

// cuis::ref::sample into indices and weights. `state` (may be null): a host
// [seed, offset] read instead of o.rng and, with `advance`, advanced by the
// counters the call consumed, as the device does with SampleOptions::d_rng
// (also when the scores are bad). `mean_loss` (may be null): read instead of
// o.mean_loss. Throws the call's error, then the status's.
void sample_host(const float* scores, int64_t n, const int64_t* candidate_ids, int64_t num_draws, int64_t* indices,
                 float* weights, cuis::SampleOptions o, cuis::RngState* state, const float* mean_loss, bool advance);

// count uniform indices in [0, n) from `from`, or from *state (then advanced by
// count with `advance`).
void uniform_host(int64_t* out, int64_t count, int64_t n, cuis::RngState from, cuis::RngState* state, bool advance);

// Per-row cross-entropy and gradient-norm bound (cuis::ref::cross_entropy_row)
// of rows x classes float32 logits and int32 or int64 labels. Returns the
// status the device's loss_status_kernel writes: the lowest bad row (a label
// outside [0, classes), its value; or a non-finite logit, the first one).
cuis::DeviceStatus cross_entropy_host(const float* logits, const void* labels, bool labels64, int64_t rows,
                                      int32_t classes, float* loss, float* grad_norm);

}  // namespace cuis_python
