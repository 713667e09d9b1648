// A GoogleTest fixture for GPU tests: skips, saying why, where no CUDA device
// is present (fails instead when CUIS_REQUIRE_GPU is set, as scripts/gpu-check
// does, so that a broken driver cannot pass as skipped); a stream; uploads and
// downloads.
#pragma once

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <vector>

#include "cuis/device_buffer.h"

namespace cuis_test {

#define CUDA_OK(x) ASSERT_EQ((x), cudaSuccess) << #x
#define CUIS_OK(x) ASSERT_EQ((x), cuis::Error::success) << #x << ": " << cuis::last_error_message()

class Gpu : public ::testing::Test {
 protected:
  void SetUp() override {
    int count = 0;
    const cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0) {
      (void)cudaGetLastError();
      if (std::getenv("CUIS_REQUIRE_GPU"))
        FAIL() << "CUIS_REQUIRE_GPU is set but no CUDA device is usable: " << cudaGetErrorString(e);
      GTEST_SKIP() << "no CUDA device: GPU test skipped (run scripts/gpu-check on a GPU machine)";
    }
    CUDA_OK(cudaStreamCreate(&stream));
  }
  void TearDown() override {
    if (stream) cudaStreamDestroy(stream);
  }

  template <class T>
  cuis::DeviceBuffer<T> upload(const std::vector<T>& h) {
    cuis::DeviceBuffer<T> d;
    EXPECT_EQ(d.resize(h.size()), cuis::Error::success);
    EXPECT_EQ(cudaMemcpy(d.data(), h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice), cudaSuccess);
    return d;
  }
  template <class T>
  std::vector<T> download(const T* d, size_t n) {
    std::vector<T> h(n);
    EXPECT_EQ(cudaMemcpy(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
    return h;
  }

  cudaStream_t stream = nullptr;
};

}  // namespace cuis_test
