// Whether a CUDA device is usable, checked at the edge of every GPU entry
// point so that a machine without one gets Error::no_device and a message for
// people (code that falls back to the CPU reference tests for no_device).
#include <cuda_runtime_api.h>

#include <atomic>
#include <string>

#include "core/cuda_check.h"

namespace cuis {
namespace detail {

namespace {
std::atomic<bool> g_device_seen{false};  // once a device was found, later calls skip the query
}  // namespace

Error require_device(const char* api) {
  if (g_device_seen.load(std::memory_order_relaxed)) return Error::success;
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e == cudaSuccess && count > 0) {
    g_device_seen.store(true, std::memory_order_relaxed);
    return Error::success;
  }
  (void)cudaGetLastError();
  const std::string why = e != cudaSuccess ? std::string(cudaGetErrorString(e)) : "no device found";
  return set_error(Error::no_device, std::string(api) + ": no usable CUDA device (" + why +
                                         "); the CPU reference (cuis::ref) runs the same operations without one");
}

}  // namespace detail
}  // namespace cuis
