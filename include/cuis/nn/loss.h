// Per-sample losses and scores, fused: softmax cross-entropy with the
// gradient-norm bound of docs/METHOD.md section 1 and the weighted logit gradient,
// and the squared error of the loss predictor.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "cuis/error.h"

namespace cuis {

struct CrossEntropyArgs {
  const float* logits = nullptr;         // [rows, classes], row-major
  const int32_t* labels = nullptr;       // [rows], in [0, classes)
  int64_t rows = 0;
  int32_t classes = 0;                   // >= 1
  const float* sample_weights = nullptr; // [rows] or null (weight 1)
  float grad_scale = 1.0f;               // usually 1 / batch
  float* loss = nullptr;                 // out [rows] or null: -log softmax(z)[y]
  float* grad_norm = nullptr;            // out [rows] or null: ||softmax(z) - onehot(y)||_2
  float* dlogits = nullptr;              // out [rows, classes] or null: grad_scale * w (softmax - onehot)
  DeviceStatus* status = nullptr;        // out: invalid_label / non_finite_value for the first bad row
};

// One pass per row (a warp each): numerically stable log-sum-exp, so logits of
// +-1e4 neither overflow nor lose the loss. A bad row (label out of range, or a
// NaN/Inf logit) gets loss and norm NaN and a zero gradient, and the lowest such
// row is reported in *status. Stream-ordered, no sync, no allocation,
// capturable; deterministic (each row is reduced in a fixed order).
Error cross_entropy(const CrossEntropyArgs& args, cudaStream_t stream);

struct SquaredErrorArgs {
  const float* prediction = nullptr;     // [rows]
  const float* target = nullptr;         // [rows]
  int64_t rows = 0;
  const float* sample_weights = nullptr; // [rows] or null
  float grad_scale = 1.0f;
  float* loss = nullptr;                 // out [rows] or null: (prediction - target)^2
  float* dprediction = nullptr;          // out [rows] or null: grad_scale * w * 2 (prediction - target)
  DeviceStatus* status = nullptr;        // out: non_finite_value for the first bad row
};

// The loss predictor's per-sample squared error. Same contract as cross_entropy().
Error squared_error(const SquaredErrorArgs& args, cudaStream_t stream);

}  // namespace cuis
