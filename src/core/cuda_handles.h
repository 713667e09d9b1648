// Internal: owners of CUDA handles that must be released in a known order.
#pragma once

#include <cuda_runtime_api.h>

namespace cuis {
namespace detail {

// Owns a stream. Declared first in a class that owns cuBLAS handles bound to
// the stream, so that it is destroyed last.
struct StreamHolder {
  cudaStream_t stream = nullptr;
  StreamHolder() = default;
  StreamHolder(const StreamHolder&) = delete;
  StreamHolder& operator=(const StreamHolder&) = delete;
  ~StreamHolder() {
    if (stream) cudaStreamDestroy(stream);
  }
};

// Owns an instantiated graph (a captured step); reset() drops it.
struct GraphHolder {
  cudaGraphExec_t exec = nullptr;
  GraphHolder() = default;
  GraphHolder(const GraphHolder&) = delete;
  GraphHolder& operator=(const GraphHolder&) = delete;
  explicit operator bool() const { return exec != nullptr; }
  operator cudaGraphExec_t() const { return exec; }
  void reset() {
    if (exec) cudaGraphExecDestroy(exec);
    exec = nullptr;
  }
  ~GraphHolder() { reset(); }
};

}  // namespace detail
}  // namespace cuis
