// Shared by the benchmark binaries: whether a CUDA device is there to measure,
// whether they are only asked to list their benchmarks, and their main().
// Without one a benchmark prints why and exits 0, or 1 under CUIS_REQUIRE_GPU
// (which scripts/gpu-check sets: no device there is a failure).
#pragma once

#include <benchmark/benchmark.h>
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

// A benchmark binary's main(): without a device (unless only listing) says
// so; else set_up() (false: exit 1), register_all(), the run, and release()
// of the device buffers before the CUDA runtime shuts down.
template <class SetUp, class Register, class Release>
int run(int argc, char** argv, const char* program, SetUp set_up, Register register_all, Release release) {
  const bool listing = listing_only(argc, argv);
  int exit_code = 0;
  if (!listing && !device_present(program, &exit_code)) return exit_code;
  if (!listing && !set_up()) return 1;
  register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  release();
  return 0;
}

}  // namespace cuis_bench
