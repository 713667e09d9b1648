// Uses the installed headers and library: the CPU reference always, the GPU
// sampler when a device is present.
#include <cuda_runtime_api.h>
#include <cuis/reference.h>
#include <cuis/sampler.h>

#include <cstdio>
#include <vector>

int main() {
  std::vector<float> scores = {1.0f, 0.0f, 3.0f, 2.0f};
  std::vector<int64_t> idx(16);
  std::vector<float> w(16);
  cuis::DeviceStatus st{};
  cuis::SampleOptions o;
  o.rng.seed = 1;
  const cuis::SampleArgs a{scores.data(), 4, nullptr, 16, idx.data(), w.data(), &st};
  if (cuis::ref::sample(a, o) != cuis::Error::success || st.code != cuis::Error::success) {
    std::printf("consumer: reference failed: %s\n", cuis::last_error_message().c_str());
    return 1;
  }
  for (int64_t i : idx)
    if (i < 0 || i > 3 || i == 1) return 1;
  int devices = 0;
  if (cudaGetDeviceCount(&devices) == cudaSuccess && devices > 0) {
    size_t bytes = 0;
    if (cuis::sample_workspace_size(4, 16, o, &bytes) != cuis::Error::success || bytes == 0) return 1;
  }
  std::printf("consumer: ok (%d CUDA devices)\n", devices);
  return 0;
}
