// Shared by the benchmark binaries: whether a CUDA device is there to measure,
// and whether they are only asked to list their benchmarks.
// Without one a benchmark prints why and exits 0, or 1 under CUIS_REQUIRE_GPU
// (which scripts/gpu-check sets: no device there is a failure).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

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

// True when the command line only lists the benchmarks (--benchmark_list_tests):
// no device is needed, so a rehearsal without a GPU can check a filter.
inline bool listing_only(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--benchmark_list_tests") == 0 || std::strcmp(argv[i], "--benchmark_list_tests=true") == 0)
      return true;
  return false;
}

}  // namespace cuis_bench
