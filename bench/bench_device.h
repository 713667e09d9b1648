// Shared by the benchmark binaries: whether a CUDA device is there to measure.
// Without one a benchmark prints why and exits 0, or 1 under CUIS_REQUIRE_GPU
// (which scripts/gpu-check sets: no device there is a failure).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdio>
#include <cstdlib>

namespace cuis_bench {

// True with a device; otherwise false and *exit_code what main should return.
inline bool device_present(const char* program, int* exit_code) {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) == cudaSuccess && devices > 0) return true;
  (void)cudaGetLastError();
  std::printf("%s: no CUDA device; nothing to measure (run scripts/gpu-check on a GPU machine)\n", program);
  *exit_code = std::getenv("CUIS_REQUIRE_GPU") ? 1 : 0;
  return false;
}

}  // namespace cuis_bench
