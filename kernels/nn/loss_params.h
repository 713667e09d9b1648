// Parameters of the loss kernels (kernels/loss.cuh), shared with the host
// code that launches them through src/loss_launch.h.
#pragma once

#include <cstdint>

#include "cuis/error.h"

namespace cuis {
namespace kernels {

constexpr int LOSS_THREADS = 256;
constexpr unsigned long long NO_BAD_ROW = ~0ull;

struct CrossEntropyParams {
  const float* logits;
  const int32_t* labels;
  int64_t rows;
  int32_t classes;
  const float* weights;
  float grad_scale;
  float* loss;
  float* grad_norm;
  float* dlogits;
  int32_t* correct;          // out [rows] or null: 1 when the first arg-max equals the label
  unsigned long long* bad_row;
  int64_t row_offset;        // added to the row recorded in *bad_row
};

struct SquaredErrorParams {
  const float* prediction;
  const float* target;
  int64_t rows;
  const float* weights;
  float grad_scale;
  float* loss;
  float* grad_norm;          // out [rows] or null: |2 (prediction - target)|
  float* dprediction;
  unsigned long long* bad_row;
  int64_t row_offset;
};

struct LossStatusParams {
  const unsigned long long* bad_row;
  const float* logits;  // or prediction
  const float* target;  // squared error only
  const int32_t* labels;
  int32_t classes;
  DeviceStatus* status;
};

}  // namespace kernels
}  // namespace cuis
