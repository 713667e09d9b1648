// cuis's PyTorch ops (namespace cuis), one function per op, in the schema's
// argument order (library.cpp registers them). Each takes CPU tensors (the CPU
// reference, errors raised at once) or CUDA tensors (the library's kernels on
// torch's current stream; input-data errors in the returned status tensor,
// nothing waits). seed and offset are the uint64 bits as int64. Failures throw
// CallError (errors.h); library.cpp tags them (op_errors.h).
#pragma once

#include <torch/csrc/stable/device.h>

#include <cstdint>
#include <optional>
#include <tuple>

#include "tensors.h"

namespace cuis_python {

using Tensors3 = std::tuple<Tensor, Tensor, Tensor>;

// (indices int64, weights float32, status uint8[32]) of num_draws draws.
Tensors3 sample_op(Tensor scores, int64_t num_draws, bool replacement, int64_t weighting, double k, double smooth,
                   double adaptive_smooth, double mean_loss, double power, std::optional<Tensor> candidate_ids,
                   int64_t seed, int64_t offset);

// As sample_op, with the generator state in `rng` (int64 [seed, offset] beside
// the scores, advanced with advance_rng) and, optionally, the mean loss in a
// float32[1] tensor beside them.
Tensors3 sample_rng_op(Tensor scores, int64_t num_draws, bool replacement, int64_t weighting, double k, double smooth,
                       double adaptive_smooth, double mean_loss, double power, std::optional<Tensor> candidate_ids,
                       Tensor rng, std::optional<Tensor> mean_loss_tensor, bool advance_rng);

// count int64 indices uniform in [0, n) on `device`.
Tensor uniform_indices_op(int64_t count, int64_t n, int64_t seed, int64_t offset, torch::stable::Device device);

// As uniform_indices_op, from `rng` (advanced by count with advance_rng), beside it.
Tensor uniform_indices_rng_op(Tensor rng, int64_t count, int64_t n, bool advance_rng);

// (loss, grad_norm, status) per row of [rows, classes] logits and int32/int64 labels.
Tensors3 cross_entropy_scores_op(Tensor logits, Tensor labels);

}  // namespace cuis_python
