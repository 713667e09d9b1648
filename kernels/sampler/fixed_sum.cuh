// The biased rescaling's two sums in the fixed order of detail::REDUCE_THREADS
// (strided partials, then a halving tree): the order of ref::fixed_order_sum,
// whatever the launch configuration. Shared by the one-GPU finishing kernel
// and the sharded path's.
#pragma once

#include "common.cuh"

namespace cuis {
namespace kernels {

struct TwoSums {
  double u, b;
};

// sum of u[0, count) and of b[0, count). Called by every thread of a block of
// exactly REDUCE_THREADS threads, with `scratch` 2 * REDUCE_THREADS doubles of
// shared memory; the result is valid in every thread.
__device__ __forceinline__ TwoSums fixed_order_sums(const double* u, const double* b, int64_t count, double* scratch) {
  double* partial_u = scratch;
  double* partial_b = scratch + detail::REDUCE_THREADS;
  double su = 0.0, sb = 0.0;
  for (int64_t j = threadIdx.x; j < count; j += detail::REDUCE_THREADS) {
    su = detail::dadd(su, u[j]);
    sb = detail::dadd(sb, b[j]);
  }
  partial_u[threadIdx.x] = su;
  partial_b[threadIdx.x] = sb;
  __syncthreads();
  for (int stride = detail::REDUCE_THREADS / 2; stride > 0; stride /= 2) {
    if (static_cast<int>(threadIdx.x) < stride) {
      partial_u[threadIdx.x] = detail::dadd(partial_u[threadIdx.x], partial_u[threadIdx.x + stride]);
      partial_b[threadIdx.x] = detail::dadd(partial_b[threadIdx.x], partial_b[threadIdx.x + stride]);
    }
    __syncthreads();
  }
  return TwoSums{partial_u[0], partial_b[0]};
}

}  // namespace kernels
}  // namespace cuis
