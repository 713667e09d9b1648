// Device allocation behind DeviceBuffer, with errors as cuis::Error.
#include "cuis/device_buffer.h"

#include <cuda_runtime_api.h>

#include <string>

#include "core/cuda_check.h"

namespace cuis {
namespace detail {

Error device_alloc(void** ptr, size_t bytes) {
  CUIS_TRY(require_device("DeviceBuffer::resize"));
  CUIS_CUDA_TRY(cudaMalloc(ptr, bytes));
  return set_error(Error::success, "");
}

void device_free(void* ptr) noexcept { (void)cudaFree(ptr); }

}  // namespace detail
}  // namespace cuis
