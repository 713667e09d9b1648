// The naive baseline the sampler is measured against (benchmarks only):
// CUB writes a full float64 CDF, then each draw binary-searches it. One read
// of the scores, one write and a random-access search of 8 N bytes.
#pragma once

#include <thrust/iterator/transform_iterator.h>

#include <cub/device/device_scan.cuh>

#include "cuis/core/philox.h"

namespace cuis_bench {

struct ToDouble {
  __host__ __device__ double operator()(float x) const { return static_cast<double>(x); }
};

__global__ void search_kernel(const double* cdf, int64_t n, int64_t draws, uint64_t seed, int64_t* out) {
  const int64_t j = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (j >= draws) return;
  const double total = cdf[n - 1];
  const uint64_t bits = static_cast<uint64_t>(cuis::detail::random128(seed, j, 0));
  const double r = static_cast<double>(bits >> 11) * 0x1p-53 * total;
  int64_t lo = 0, hi = n;  // first index with cdf > r
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (cdf[mid] > r) hi = mid; else lo = mid + 1;
  }
  out[j] = lo < n ? lo : n - 1;
}

// Workspace bytes for n scores: the CDF plus CUB's temporary storage.
inline size_t baseline_bytes(int64_t n, size_t* temp) {
  thrust::transform_iterator<ToDouble, const float*> in(nullptr, ToDouble{});
  cub::DeviceScan::InclusiveSum(nullptr, *temp, in, static_cast<double*>(nullptr), n);
  return static_cast<size_t>(n) * sizeof(double) + *temp + 256;
}

inline void baseline_sample(const float* scores, int64_t n, int64_t draws, uint64_t seed, double* cdf, void* temp,
                            size_t temp_bytes, int64_t* out, cudaStream_t s) {
  thrust::transform_iterator<ToDouble, const float*> in(scores, ToDouble{});
  cub::DeviceScan::InclusiveSum(temp, temp_bytes, in, cdf, n, s);
  search_kernel<<<static_cast<unsigned>((draws + 255) / 256), 256, 0, s>>>(cdf, n, draws, seed, out);
}

}  // namespace cuis_bench
