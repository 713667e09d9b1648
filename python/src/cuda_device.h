// The CUDA side of a call (cuis._cuis and the PyTorch ops alike): the device
// made current for it, the caller's stream, and the devices this library's
// runtime sees.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace cuis_python {

// Makes `device` current for this module's CUDA runtime (statically linked,
// so it does not share the framework's notion of the current device) and
// restores the previous one. Throws no_device (CallError, errors.h; Python sees
// cuis.NoDeviceError) when the device is not there; `api` names the call in messages.
class DeviceGuard {
 public:
  DeviceGuard(int device, const char* api);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = -1;
};

// A cudaStream_t passed from Python as an int.
inline cudaStream_t to_stream(uintptr_t handle) { return reinterpret_cast<cudaStream_t>(handle); }

// CUDA devices this module's runtime sees (0 without a GPU or driver).
int device_count();

}  // namespace cuis_python
