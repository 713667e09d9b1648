// Device-side pieces every sampling kernel uses: the workspace header that
// collects what the device finds, the transform and RNG arguments resolved on
// device (so a captured graph can read them from device memory), and the
// per-thread validation accumulator.
#pragma once

#include <cuda_runtime.h>

#include "cuis/sampler/distribution.h"
#include "cuis/core/philox.h"
#include "cuis/sampler.h"

namespace cuis {
namespace kernels {

constexpr int EXP_BIAS = 4096;  // max_exp_enc = E + EXP_BIAS > 0; 0 means no positive score
constexpr unsigned long long BAD_NONE = 0;
constexpr unsigned long long BAD_BASE = 1ull << 62;  // bad_enc = BAD_BASE - index: max enc = min index

// Zeroed by cudaMemsetAsync at the start of every call.
struct WorkHeader {
  int max_exp_enc;
  int reserved;
  unsigned long long bad_enc;
  unsigned long long positive_count;
  double scale;  // biased rescaling factor, written by the finishing kernel
};

struct TransformArgs {
  float power, smooth, adaptive_smooth, mean_loss;
  const float* d_mean_loss;
};

struct RngArgs {
  RngState host;
  const RngState* device;
};

__device__ __forceinline__ RngState load_rng(const RngArgs& a) { return a.device ? *a.device : a.host; }

__device__ __forceinline__ float load_mean_loss(const TransformArgs& a) {
  return a.d_mean_loss ? *a.d_mean_loss : a.mean_loss;
}

__device__ __forceinline__ bool mean_loss_invalid(const TransformArgs& a, float mean_loss) {
  return a.adaptive_smooth != 0.0f && !(mean_loss >= 0.0f && mean_loss <= 3.402823466e38f);
}

__device__ __forceinline__ detail::TransformParams load_transform(const TransformArgs& a) {
  return {static_cast<double>(a.power), detail::smoothing_constant(a.smooth, a.adaptive_smooth, load_mean_loss(a))};
}

// What one thread saw among the scores it transformed.
struct Validation {
  unsigned long long bad_enc = BAD_NONE;  // lowest bad index, encoded
  unsigned long long positive = 0;
  __device__ void see(float s, double t, int64_t i) {
    if (!detail::score_is_valid(s)) bad_enc = max(bad_enc, BAD_BASE - static_cast<unsigned long long>(i));
    positive += t > 0.0 ? 1 : 0;
  }
};

// True when the call's input is bad and every output must be -1 / 0.
__device__ __forceinline__ bool input_rejected(const WorkHeader* h, const TransformArgs& tr) {
  return h->bad_enc != BAD_NONE || h->positive_count == 0 || mean_loss_invalid(tr, load_mean_loss(tr));
}

// Writes draw j's weight: 1, the unbiased weight, or (biased) the raw biased
// weight and the two rescaling terms for the finishing kernel. terms is
// [3][num_draws]: biased weight, unbiased * score, biased * score.
__device__ __forceinline__ void write_weight(float* weights, double* terms, int64_t num_draws, int64_t j,
                                             const detail::DrawWeight& w, Weighting weighting, float k) {
  if (weighting == Weighting::none) {
    weights[j] = 1.0f;
  } else if (weighting == Weighting::unbiased) {
    weights[j] = detail::weight_to_float(w.unbiased);
  } else {
    const double b = detail::biased_weight(w.unbiased, k);
    terms[j] = b;
    terms[num_draws + j] = detail::dmul(w.unbiased, w.score);
    terms[2 * num_draws + j] = detail::dmul(b, w.score);
  }
}

// 64-bit and 128-bit warp shuffles.
__device__ __forceinline__ uint64_t shfl_u64(uint64_t v, int src) {
  return __shfl_sync(0xffffffffu, static_cast<unsigned long long>(v), src);
}
__device__ __forceinline__ u128 shfl_u128(u128 v, int src) {
  const uint64_t lo = shfl_u64(detail::lo64(v), src), hi = shfl_u64(detail::hi64(v), src);
  return (static_cast<u128>(hi) << 64) | lo;
}

// Inclusive warp prefix sum of 64-bit values (sums must not overflow).
__device__ __forceinline__ uint64_t warp_inclusive_sum(uint64_t v) {
  const int lane = threadIdx.x & 31;
#pragma unroll
  for (int d = 1; d < 32; d <<= 1) {
    const uint64_t o = __shfl_up_sync(0xffffffffu, static_cast<unsigned long long>(v), d);
    if (lane >= d) v += o;
  }
  return v;
}

}  // namespace kernels
}  // namespace cuis
