// Uses the installed headers and library: the CPU reference sampler and a few
// steps of the CPU training engine always, the GPU sampler when a device is
// present.
#include <cuda_runtime_api.h>
#include <cuis/data.h>
#include <cuis/sampler/reference.h>
#include <cuis/sampler.h>
#include <cuis/trainer.h>

#include <cstdio>
#include <memory>
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
  const cuis::DataSplit data = cuis::synthetic_data(256, 64, 8, 3, 1);
  cuis::TrainConfig c;
  c.sampler = cuis::SamplerKind::loss;
  c.hidden = {8};
  c.batch = 16;
  c.presample = 64;
  std::unique_ptr<cuis::Trainer> t;
  if (cuis::make_cpu_trainer(c, &data, &t) != cuis::Error::success) {
    std::printf("consumer: trainer failed: %s\n", cuis::last_error_message().c_str());
    return 1;
  }
  for (int k = 0; k < 3; ++k)
    if (t->step() != cuis::Error::success) return 1;
  cuis::TrainerStats ts;
  if (t->stats(&ts) != cuis::Error::success || ts.step != 3) return 1;
  int devices = 0;
  if (cudaGetDeviceCount(&devices) == cudaSuccess && devices > 0) {
    size_t bytes = 0;
    if (cuis::sample_workspace_size(4, 16, o, &bytes) != cuis::Error::success || bytes == 0) return 1;
  }
  std::printf("consumer: ok (%d CUDA devices)\n", devices);
  return 0;
}
