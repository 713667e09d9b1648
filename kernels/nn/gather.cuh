// The batch gather: rows (and labels / targets) by index into the first
// layer's input, each index, feature and weight validated on the way.
#pragma once

#include "kernels/nn/mlp_params.h"

namespace cuis {
namespace kernels {

__global__ void __launch_bounds__(MLP_THREADS) gather_kernel(GatherParams p) {
  const int64_t total = p.batch * p.features;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * MLP_THREADS + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * MLP_THREADS) {
    const int64_t j = e / p.features, f = e - j * p.features;
    const int64_t row = p.indices ? p.indices[j] : j + p.first;
    const bool in_range = row >= 0 && row < p.rows;
    const float v = in_range ? p.data[row * p.features + f] : 0.0f;
    bool bad = !in_range || !isfinite(v);
    if (f == 0) {
      if (p.weights) bad |= !(p.weights[j] >= 0.0f && p.weights[j] <= 3.402823466e38f);
      if (p.batch_labels) p.batch_labels[j] = in_range ? p.labels[row] : 0;
      if (p.batch_targets) p.batch_targets[j] = in_range ? p.targets[row] : 0.0f;
    }
    if (bad) atomicMin(&p.flags->gather_bad, static_cast<unsigned long long>(j + p.pos_offset));
    // A bad element becomes NaN, so the row's loss comes out NaN (and the
    // step is skipped) instead of a finite, meaningless number.
    p.x[e] = bad ? NAN : v;
  }
}

}  // namespace kernels
}  // namespace cuis
