// Fused optimizer updates over the flat parameter vector: SGD (momentum,
// weight decay) and Adam.
#pragma once

#include "kernels/nn/mlp_params.h"

namespace cuis {
namespace kernels {

__global__ void __launch_bounds__(MLP_THREADS) sgd_kernel(UpdateParams p) {
  if (p.step->skip) return;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * MLP_THREADS + threadIdx.x; i < p.n;
       i += static_cast<int64_t>(gridDim.x) * MLP_THREADS) {
    const float g = p.grads[i] + p.opt.weight_decay * p.params[i];
    const float v = p.opt.momentum * p.state[i] + g;
    p.state[i] = v;
    p.params[i] -= p.opt.lr * v;
  }
}

__global__ void __launch_bounds__(MLP_THREADS) adam_kernel(UpdateParams p) {
  if (p.step->skip) return;
  const double bc1 = p.step->bc1, bc2 = p.step->bc2;
  float* m = p.state;
  float* v = p.state + p.n;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * MLP_THREADS + threadIdx.x; i < p.n;
       i += static_cast<int64_t>(gridDim.x) * MLP_THREADS) {
    const float g = p.grads[i] + p.opt.weight_decay * p.params[i];
    const float mi = p.opt.beta1 * m[i] + (1.0f - p.opt.beta1) * g;
    const float vi = p.opt.beta2 * v[i] + (1.0f - p.opt.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    const double mhat = mi / bc1, vhat = vi / bc2;
    p.params[i] -= static_cast<float>(p.opt.lr * mhat / (sqrt(vhat) + p.opt.eps));
  }
}

}  // namespace kernels
}  // namespace cuis
