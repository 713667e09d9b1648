// Activations after a GEMM (Y = act(Y + b), in place; b may be null) and
// their derivatives before the next (dA *= act'(A), from the activation's
// output).
#pragma once

#include "kernels/nn/mlp_params.h"

namespace cuis {
namespace kernels {

// ReLU as x < 0 ? 0 : x, so that a bad row's NaN reaches its loss (fmaxf would drop it).
__device__ __forceinline__ float activate(Activation a, float x) {
  return a == Activation::relu ? (x < 0.0f ? 0.0f : x) : tanhf(x);
}

__global__ void __launch_bounds__(MLP_THREADS)
    bias_act_kernel(float* y, const float* bias, int64_t rows, int32_t cols, Activation act, bool linear) {
  const int64_t total = rows * cols;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * MLP_THREADS + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * MLP_THREADS) {
    const float z = bias ? y[e] + bias[e % cols] : y[e];
    y[e] = linear ? z : activate(act, z);
  }
}

__global__ void __launch_bounds__(MLP_THREADS)
    act_backward_kernel(float* da, const float* a, int64_t n, Activation act) {
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * MLP_THREADS + threadIdx.x; e < n;
       e += static_cast<int64_t>(gridDim.x) * MLP_THREADS) {
    const float y = a[e];
    da[e] *= act == Activation::relu ? (y > 0.0f ? 1.0f : 0.0f) : 1.0f - y * y;
  }
}

}  // namespace kernels
}  // namespace cuis
