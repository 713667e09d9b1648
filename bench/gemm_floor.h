// Shared by the MLP benchmark binaries (cuis_bench_trainer, cuis_bench_mlp):
// the GEMM floor of a training step, i.e. the step's matrix FLOPs over the
// cublasSgemm throughput (FP32, or TF32 tensor cores) measured in the same
// binary on the same GPU, so that ratios to it come from one run.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "cuis/device_buffer.h"

namespace cuis_bench {

// FLOPs of one training step's GEMMs for layer sizes {in, hidden..., out} at
// `batch` rows: forward, dW, and dX for every layer but the first.
inline double mlp_step_flops(const std::vector<int32_t>& sizes, int64_t batch) {
  double f = 0.0;
  for (size_t l = 0; l + 1 < sizes.size(); ++l) {
    const double mn = 2.0 * static_cast<double>(batch) * sizes[l] * sizes[l + 1];
    f += (l == 0 ? 2.0 : 3.0) * mn;
  }
  return f;
}

// cublasSgemm throughput in FLOP/s at 4096^3 (the best of 8 timed calls after
// 2 warm-ups), with TF32 tensor cores when tf32; 0 on failure.
inline double measure_gemm_flops(cudaStream_t stream, bool tf32) {
  const int n = 4096;
  const size_t count = size_t{1} * n * n;
  cuis::DeviceBuffer<float> a, b, c;
  if (a.resize(count) != cuis::Error::success || b.resize(count) != cuis::Error::success ||
      c.resize(count) != cuis::Error::success)
    return 0.0;
  cudaMemsetAsync(a.data(), 0, a.bytes(), stream);
  cudaMemsetAsync(b.data(), 0, b.bytes(), stream);
  cublasHandle_t h = nullptr;
  if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) return 0.0;
  cudaEvent_t start = nullptr, stop = nullptr;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  bool ok = cublasSetStream(h, stream) == CUBLAS_STATUS_SUCCESS &&
            cublasSetMathMode(h, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH) == CUBLAS_STATUS_SUCCESS;
  const float one = 1.0f, zero = 0.0f;
  float best = 1e30f;
  for (int i = 0; ok && i < 10; ++i) {
    cudaEventRecord(start, stream);
    ok = cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, a.data(), n, b.data(), n, &zero, c.data(), n) ==
         CUBLAS_STATUS_SUCCESS;
    cudaEventRecord(stop, stream);
    float ms = 0;
    ok = ok && cudaEventSynchronize(stop) == cudaSuccess && cudaEventElapsedTime(&ms, start, stop) == cudaSuccess;
    if (ok && i > 1) best = std::min(best, ms);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  cublasDestroy(h);
  ok = ok && cudaGetLastError() == cudaSuccess && best > 0.0f && best < 1e30f;
  return ok ? 2.0 * n * n * static_cast<double>(n) / (best / 1e3) : 0.0;
}

}  // namespace cuis_bench
