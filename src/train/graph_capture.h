// Internal: a training step captured into a CUDA graph (the CUDA engine's).
#pragma once

#include <cuda_runtime_api.h>

#include <functional>

#include "core/cuda_handles.h"
#include "cuis/error.h"

namespace cuis {
namespace detail {

// Captures what enqueue() launches on `stream` into *out. A failure (of
// enqueue, the capture or the instantiation) leaves no capture open and *out
// empty; its message names the way around it (TrainConfig::cuda_graph = false).
Error capture_graph(cudaStream_t stream, const std::function<Error()>& enqueue, GraphHolder* out);

}  // namespace detail
}  // namespace cuis
