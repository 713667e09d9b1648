// cuis._cuis: the sampler's functions (cuis/sampler.h): cuis::sample on device
// arrays, its CPU reference cuis::ref::sample on host arrays, and uniform
// indices. The CPU functions run with the GIL released; the CUDA functions only
// enqueue on the caller's stream.
#pragma once

#include "arrays.h"
#include "sample_args.h"

#include <cuis/sampler.h>

#include <cstddef>
#include <cstdint>
#include <optional>

namespace cuis_python {

void sample_cpu(const Array& scores, int64_t num_draws, OutArray indices, OutArray weights,
                std::optional<Array> candidate_ids, std::optional<OutArray> rng, std::optional<Array> mean_loss_array,
                bool replacement, int weighting, float k, float smooth, float adaptive_smooth, float mean_loss,
                float power, uint64_t seed, uint64_t offset, bool advance_rng);

size_t sample_workspace_size(int64_t n, int64_t num_draws, int device, bool replacement, int weighting, float k,
                             float smooth, float adaptive_smooth, float power);

void sample_cuda(const Array& scores, int64_t num_draws, OutArray indices, OutArray weights, OutArray status,
                 OutArray workspace, std::optional<Array> candidate_ids, std::optional<OutArray> rng,
                 std::optional<Array> mean_loss_array, bool replacement, int weighting, float k, float smooth,
                 float adaptive_smooth, float mean_loss, float power, uint64_t seed, uint64_t offset,
                 bool advance_rng, uintptr_t stream);

void uniform_indices_cpu(OutArray out, int64_t n, uint64_t seed, uint64_t offset, std::optional<OutArray> rng,
                         bool advance);

void uniform_indices_cuda(OutArray out, int64_t n, uint64_t seed, uint64_t offset, std::optional<OutArray> rng,
                          bool advance, uintptr_t stream);

}  // namespace cuis_python
