// Internal: turning CUDA failures into cuis::Error with file:line detail.
#pragma once

#include <cuda_runtime_api.h>

#include <string>

#include "core/error_detail.h"

namespace cuis {
namespace detail {

inline Error cuda_failure(cudaError_t e, const char* what, const char* file, int line) {
  const Error code = e == cudaErrorMemoryAllocation ? Error::out_of_memory
                     : (e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver) ? Error::no_device
                                                                                      : Error::cuda_error;
  return set_error(code, std::string(file) + ":" + std::to_string(line) + ": " + what + ": " +
                             cudaGetErrorName(e) + ": " + cudaGetErrorString(e));
}

// success when a CUDA device is usable; otherwise Error::no_device with a
// message naming `api` and the CPU alternative. Called first by every GPU
// entry point; after the first success it costs one atomic load.
Error require_device(const char* api);

}  // namespace detail
}  // namespace cuis

// Returns a cuis::Error from the enclosing function when a CUDA call fails.
#define CUIS_CUDA_TRY(call)                                                               \
  do {                                                                                    \
    const cudaError_t cuis_err_ = (call);                                                 \
    if (cuis_err_ != cudaSuccess) {                                                       \
      (void)cudaGetLastError();                                                           \
      return ::cuis::detail::cuda_failure(cuis_err_, #call, __FILE__, __LINE__);          \
    }                                                                                     \
  } while (0)

// After a launch: report launch errors; with CUIS_DEBUG_SYNC also wait for the
// kernel (unless the stream is being captured) so faults surface where they happen.
#if defined(CUIS_DEBUG_SYNC)
#define CUIS_LAUNCH_CHECK(stream)                                                          \
  do {                                                                                     \
    CUIS_CUDA_TRY(cudaGetLastError());                                                     \
    cudaStreamCaptureStatus cuis_cap_ = cudaStreamCaptureStatusNone;                       \
    CUIS_CUDA_TRY(cudaStreamIsCapturing((stream), &cuis_cap_));                            \
    if (cuis_cap_ == cudaStreamCaptureStatusNone) CUIS_CUDA_TRY(cudaStreamSynchronize(stream)); \
  } while (0)
#else
#define CUIS_LAUNCH_CHECK(stream) CUIS_CUDA_TRY(cudaGetLastError())
#endif
