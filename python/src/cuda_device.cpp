// cuis._cuis: the CUDA device helpers (cuda_device.h).
#include "cuda_device.h"

#include "errors.h"

#include <string>

namespace cuis_python {

DeviceGuard::DeviceGuard(int device, const char* api) {
  int count = 0;
  const cudaError_t ce = cudaGetDeviceCount(&count);
  if (ce != cudaSuccess || count <= device) {
    (void)cudaGetLastError();
    const std::string why = ce != cudaSuccess ? std::string(cudaGetErrorString(ce))
                                              : std::to_string(count) + " device(s) seen";
    raise_error(cuis::Error::no_device, std::string(api) + ": no usable CUDA device cuda:" + std::to_string(device) +
                                            " (" + why +
                                            "); the CPU reference runs the same operations on CPU arrays");
  }
  if (cudaGetDevice(&previous_) != cudaSuccess) {
    (void)cudaGetLastError();
    previous_ = -1;
  }
  if (previous_ != device) {
    const cudaError_t e = cudaSetDevice(device);
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      raise_error(cuis::Error::cuda_error,
                  std::string(api) + ": cudaSetDevice(" + std::to_string(device) + "): " + cudaGetErrorString(e));
    }
  }
}

DeviceGuard::~DeviceGuard() {
  if (previous_ >= 0) (void)cudaSetDevice(previous_);
}

int device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return count;
}

}  // namespace cuis_python
