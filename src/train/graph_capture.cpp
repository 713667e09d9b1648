// A training step captured into a CUDA graph (src/train/graph_capture.h).
#include "train/graph_capture.h"

#include <cuda_runtime_api.h>

#include "core/cuda_check.h"
#include "core/error_detail.h"

namespace cuis {
namespace detail {

Error capture_graph(cudaStream_t stream, const std::function<Error()>& enqueue, GraphHolder* out) {
  Error e = Error::success;
  cudaGraph_t graph = nullptr;
  const cudaError_t began = cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal);
  if (began == cudaSuccess) {
    try {
      e = enqueue();
    } catch (...) {  // the capture must end whatever happens
      e = Error::internal_error;
    }
    const cudaError_t ended = cudaStreamEndCapture(stream, &graph);  // ends it even when a stage failed
    if (e == Error::success && ended != cudaSuccess) e = cuda_failure(ended, "cudaStreamEndCapture", __FILE__, __LINE__);
    if (e == Error::success) {
      const cudaError_t made = cudaGraphInstantiate(&out->exec, graph, 0);
      if (made != cudaSuccess) e = cuda_failure(made, "cudaGraphInstantiate", __FILE__, __LINE__);
    }
    if (graph) cudaGraphDestroy(graph);
  } else {
    e = cuda_failure(began, "cudaStreamBeginCapture", __FILE__, __LINE__);
  }
  if (e == Error::success) return set_error(Error::success, "");
  out->reset();
  (void)cudaGetLastError();
  return set_error(e, "capturing the training step in a CUDA graph: " + last_error_message() +
                          " (TrainConfig::cuda_graph = false / cuis-train --graph off runs without one)");
}

}  // namespace detail
}  // namespace cuis
