// A GoogleTest fixture for GPU tests: skips, saying why, where no CUDA device
// is present (fails instead when CUIS_REQUIRE_GPU is set, as scripts/gpu-check
// does, so that a broken driver cannot pass as skipped); a stream; uploads and
// downloads; and poison(), which fills a device output with garbage before the
// call under test, so that an output the call fails to write cannot compare
// equal (or close) to the reference.
#pragma once

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "cuis/device_buffer.h"
#include "cuis/error.h"

namespace cuis_test {

#define CUDA_OK(x) ASSERT_EQ((x), cudaSuccess) << #x
#define CUIS_OK(x) ASSERT_EQ((x), cuis::Error::success) << #x << ": " << cuis::last_error_message()

// Garbage bytes for poison(). POISON_NAN makes every float and double NaN
// (fails any closeness check) and every integer -1. POISON_AB is for outputs
// where NaN or -1 is a legitimate result (a bad row's loss, a failed draw's
// index): floats -1.2e-12 (finite, not 0, not NaN), integers a large negative
// number. Both give a DeviceStatus a code that is no cuis::Error at all.
constexpr unsigned char POISON_NAN = 0xFF;
constexpr unsigned char POISON_AB = 0xAB;

// A host-side DeviceStatus no call would write (POISON_AB bytes): the initial
// value of a status that a call (GPU or CPU reference) is expected to fill in.
inline cuis::DeviceStatus unwritten_status() {
  cuis::DeviceStatus s;
  std::memset(static_cast<void*>(&s), POISON_AB, sizeof s);
  return s;
}

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
  // Fills `count` elements at the device pointer p with `byte`, on the test's
  // stream (so, ordered before the call under test). p may be const: a
  // model's own status (cuis::Mlp::status()) is an output too.
  template <class T>
  void poison(const T* p, size_t count, unsigned char byte = POISON_NAN) {
    EXPECT_EQ(cudaMemsetAsync(const_cast<T*>(p), byte, count * sizeof(T), stream), cudaSuccess);
  }
  template <class T>
  void poison(const cuis::DeviceBuffer<T>& b, unsigned char byte = POISON_NAN) {
    poison(b.data(), b.size(), byte);
  }

  template <class T>
  std::vector<T> download(const T* d, size_t n) {
    std::vector<T> h(n);
    EXPECT_EQ(cudaMemcpy(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
    return h;
  }

  // A captured graph holds no allocation node (a step must not allocate).
  static void expect_no_allocation(cudaGraph_t graph, const char* what) {
    size_t nodes = 0;
    ASSERT_EQ(cudaGraphGetNodes(graph, nullptr, &nodes), cudaSuccess);
    std::vector<cudaGraphNode_t> list(nodes);
    ASSERT_EQ(cudaGraphGetNodes(graph, list.data(), &nodes), cudaSuccess);
    for (cudaGraphNode_t node : list) {
      cudaGraphNodeType type;
      ASSERT_EQ(cudaGraphNodeGetType(node, &type), cudaSuccess);
      EXPECT_NE(type, cudaGraphNodeTypeMemAlloc) << what << " must not allocate";
    }
  }

  cudaStream_t stream = nullptr;
};

}  // namespace cuis_test
