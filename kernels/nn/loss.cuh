// Per-sample loss kernels. cross_entropy_kernel: one warp per row, three
// passes over the row (arg-max, sum of exponentials, softmax and its outputs), all
// reduced in a fixed order. squared_error_kernel: one thread per row. A bad row
// records itself with atomicMin on *bad_row (initialised to ~0 by the caller);
// loss_status_kernel turns the lowest bad row into a DeviceStatus.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "cuis/error.h"
#include "loss_params.h"

namespace cuis {
namespace kernels {

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int d = 16; d > 0; d >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, d));
  return v;
}
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int d = 16; d > 0; d >>= 1) v += __shfl_xor_sync(0xffffffffu, v, d);
  return v;
}

__global__ void __launch_bounds__(LOSS_THREADS) cross_entropy_kernel(CrossEntropyParams p) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (LOSS_THREADS / 32);
  for (int64_t row = (static_cast<int64_t>(blockIdx.x) * LOSS_THREADS + threadIdx.x) >> 5; row < p.rows; row += warps) {
    const float* z = p.logits + row * p.classes;
    const int32_t y = p.labels[row];
    float m = -INFINITY;
    int arg = p.classes;  // this lane's first arg-max
    bool finite = true;
    for (int c = lane; c < p.classes; c += 32) {
      const float v = z[c];
      finite &= isfinite(v);
      if (v > m) {
        m = v;
        arg = c;
      }
    }
    // Warp arg-max: the larger value, the smaller index on a tie.
#pragma unroll
    for (int d = 16; d > 0; d >>= 1) {
      const float om = __shfl_xor_sync(0xffffffffu, m, d);
      const int oa = __shfl_xor_sync(0xffffffffu, arg, d);
      if (om > m || (om == m && oa < arg)) {
        m = om;
        arg = oa;
      }
    }
    const bool bad = !__all_sync(0xffffffffu, finite) || y < 0 || y >= p.classes;
    if (bad) {
      if (lane == 0) {
        atomicMin(p.bad_row, static_cast<unsigned long long>(row + p.row_offset));
        if (p.loss) p.loss[row] = NAN;
        if (p.grad_norm) p.grad_norm[row] = NAN;
        if (p.correct) p.correct[row] = 0;
      }
      if (p.dlogits)
        for (int c = lane; c < p.classes; c += 32) p.dlogits[row * p.classes + c] = 0.0f;
      continue;
    }
    // s = 1 + rest, rest the sum over every class but the arg-max: a
    // well-classified row's loss log1p(rest) and its label's 1 - softmax keep
    // their relative precision down to the smallest rest (a loss rounded to
    // 0 would never be drawn by the loss sampler).
    float rest = 0.0f;
    for (int c = lane; c < p.classes; c += 32) rest += c == arg ? 0.0f : expf(z[c] - m);
    rest = warp_sum(rest);
    const float inv_s = 1.0f / (1.0f + rest);
    const float w = (p.weights ? p.weights[row] : 1.0f) * p.grad_scale;
    float sq = 0.0f;  // sum over classes of (softmax - onehot)^2
    for (int c = lane; c < p.classes; c += 32) {
      const float e = c == arg ? 1.0f : expf(z[c] - m);
      // softmax_y - 1 = -(s - e_y) / s, with s - e_y = rest at the arg-max.
      const float d = c == y ? (0.0f - (c == arg ? rest : (1.0f + rest) - e)) * inv_s : e * inv_s;  // +0, not -0
      sq += d * d;
      if (p.dlogits) p.dlogits[row * p.classes + c] = w * d;
    }
    sq = warp_sum(sq);
    if (lane == 0) {
      if (p.loss) p.loss[row] = (m - z[y]) + log1pf(rest);
      if (p.grad_norm) p.grad_norm[row] = sqrtf(sq);
      if (p.correct) p.correct[row] = arg == y ? 1 : 0;
    }
  }
}

__global__ void __launch_bounds__(LOSS_THREADS) squared_error_kernel(SquaredErrorParams p) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * LOSS_THREADS + threadIdx.x; i < p.rows;
       i += static_cast<int64_t>(gridDim.x) * LOSS_THREADS) {
    const float d = p.prediction[i] - p.target[i];
    if (!isfinite(d)) {
      atomicMin(p.bad_row, static_cast<unsigned long long>(i + p.row_offset));
      if (p.loss) p.loss[i] = NAN;
      if (p.grad_norm) p.grad_norm[i] = NAN;
      if (p.dprediction) p.dprediction[i] = 0.0f;
      continue;
    }
    if (p.loss) p.loss[i] = d * d;
    if (p.grad_norm) p.grad_norm[i] = fabsf(2.0f * d);
    if (p.dprediction) p.dprediction[i] = (p.weights ? p.weights[i] : 1.0f) * p.grad_scale * 2.0f * d;
  }
}

// One thread: the DeviceStatus of the lowest bad row (cross-entropy when
// labels is not null, else squared error over prediction/target).
__global__ void loss_status_kernel(LossStatusParams p) {
  const unsigned long long row = *p.bad_row;
  DeviceStatus st{Error::success, 0, -1, 0.0f, 0.0f, 0};
  if (row != NO_BAD_ROW) {
    st.index = static_cast<int64_t>(row);
    if (p.labels) {
      const int32_t y = p.labels[row];
      if (y < 0 || y >= p.classes) {
        st.code = Error::invalid_label;
        st.value = static_cast<float>(y);
      } else {
        st.code = Error::non_finite_value;
        for (int c = 0; c < p.classes; ++c) {
          const float v = p.logits[row * p.classes + c];
          if (!isfinite(v)) {
            st.value = v;
            break;
          }
        }
      }
    } else {
      st.code = Error::non_finite_value;
      const float a = p.logits[row], b = p.target[row];
      st.value = isfinite(a) ? b : a;
    }
  }
  *p.status = st;
}

}  // namespace kernels
}  // namespace cuis
