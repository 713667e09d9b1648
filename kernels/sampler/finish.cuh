// The last kernels of every sampling call. finish_kernel (one block) turns the
// workspace header into the caller's DeviceStatus, sums the biased-rescaling
// terms in the fixed order of detail::REDUCE_THREADS, and advances a
// device-resident RNG offset. scale_kernel applies the rescaling.
#pragma once

#include "common.cuh"
#include "fixed_sum.cuh"

namespace cuis {
namespace kernels {

constexpr int SCALE_THREADS = 256;

struct FinishParams {
  const float* scores;
  int64_t num_draws;
  bool replacement;
  bool rescale;           // biased weighting with weights requested
  const double* terms;    // [3][num_draws]
  WorkHeader* header;
  TransformArgs transform;
  RngState* rng;          // advanced by `consumed` when not null
  uint64_t consumed;
  DeviceStatus* status;
};

// The call's status from what the passes found; shared with the single-tile
// kernels. It reads *d_mean_loss, so a block computes it once (block_status)
// and every thread takes the same branch at the barriers that follow.
__device__ __forceinline__ DeviceStatus call_status(unsigned long long bad_enc, unsigned long long positive_count,
                                                    const float* scores, const TransformArgs& transform,
                                                    bool replacement, int64_t num_draws) {
  const float mean_loss = load_mean_loss(transform);
  DeviceStatus st{Error::success, 0, -1, 0.0f, 0.0f, positive_count};
  if (mean_loss_invalid(transform, mean_loss)) {
    st = DeviceStatus{Error::invalid_mean_loss, 0, -1, mean_loss, 0.0f, 0};
  } else if (bad_enc != BAD_NONE) {
    const int64_t index = static_cast<int64_t>(BAD_BASE - bad_enc);
    const float v = scores[index];
    const Error code = isnan(v) ? Error::nan_score : isinf(v) ? Error::inf_score : Error::negative_score;
    st = DeviceStatus{code, 0, index, v, 0.0f, 0};
  } else if (positive_count == 0) {
    st.code = Error::zero_total;
  } else if (!replacement && positive_count < static_cast<unsigned long long>(num_draws)) {
    st.code = Error::not_enough_positive;
  }
  return st;
}

// The biased rescaling factor sum(unbiased * s) / sum(biased * s), summed in
// the fixed order of detail::REDUCE_THREADS. Called by every thread of a
// block of exactly REDUCE_THREADS threads, with `scratch` 2 * REDUCE_THREADS
// doubles of shared memory; the result is valid in thread 0.
__device__ __forceinline__ double rescale_factor(const double* terms, int64_t num_draws, double* scratch) {
  const TwoSums s = fixed_order_sums(terms + num_draws, terms + 2 * num_draws, num_draws, scratch);
  return detail::ddiv(s.u, s.b);
}

// call_status by thread 0, shared with the whole block (one barrier).
__device__ __forceinline__ DeviceStatus block_status(unsigned long long bad_enc, unsigned long long positive_count,
                                                     const float* scores, const TransformArgs& transform,
                                                     bool replacement, int64_t num_draws) {
  __shared__ DeviceStatus s_status;
  if (threadIdx.x == 0) s_status = call_status(bad_enc, positive_count, scores, transform, replacement, num_draws);
  __syncthreads();
  return s_status;
}

__global__ void __launch_bounds__(detail::REDUCE_THREADS) finish_kernel(FinishParams p) {
  const WorkHeader& h = *p.header;
  const DeviceStatus st = block_status(h.bad_enc, h.positive_count, p.scores, p.transform, p.replacement, p.num_draws);
  __shared__ double scratch[2 * detail::REDUCE_THREADS];
  double scale = 0.0;
  if (p.rescale && st.code == Error::success) scale = rescale_factor(p.terms, p.num_draws, scratch);
  if (threadIdx.x == 0) {
    if (p.rescale && st.code == Error::success) p.header->scale = scale;
    *p.status = st;
    if (p.rng) p.rng->offset += p.consumed;
  }
}

struct ScaleParams {
  int64_t num_draws;
  const double* terms;
  const WorkHeader* header;
  const DeviceStatus* status;
  float* weights;
};

__global__ void __launch_bounds__(SCALE_THREADS) scale_kernel(ScaleParams p) {
  if (p.status->code != Error::success) return;  // the draw kernel already wrote 0
  const double scale = p.header->scale;
  for (int64_t j = static_cast<int64_t>(blockIdx.x) * SCALE_THREADS + threadIdx.x; j < p.num_draws;
       j += static_cast<int64_t>(gridDim.x) * SCALE_THREADS)
    p.weights[j] = detail::weight_to_float(detail::dmul(p.terms[j], scale));
}

}  // namespace kernels
}  // namespace cuis
