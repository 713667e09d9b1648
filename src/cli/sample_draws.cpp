// The two drawers of cuis-sample: the same call per chunk, on either side.
#include "sample_draws.h"

#include <cuda_runtime_api.h>

#include "cuis/device_buffer.h"
#include "cuis/sampler/reference.h"

namespace cuis_cli {
namespace {

std::string message_of(cuis::Error e) {
  return cuis::last_error_message().empty() ? cuis::error_string(e) : cuis::last_error_message();
}

bool status_ok(const cuis::DeviceStatus& status, const std::string& path, std::string* error) {
  if (status.code == cuis::Error::success) return true;
  *error = path + ": " + cuis::describe(status);
  return false;
}

cuis::SampleOptions at_offset(cuis::SampleOptions opts, uint64_t offset) {
  opts.rng.offset = offset;
  return opts;
}

class CpuDrawer final : public ChunkDrawer {
 public:
  CpuDrawer(const std::vector<float>& scores, const cuis::SampleOptions& opts, const std::string& path)
      : m_scores(scores), m_opts(opts), m_path(path) {}

  bool draw(int64_t count, uint64_t offset, int64_t* idx, float* w, std::string* error) override {
    cuis::DeviceStatus status{};
    const cuis::SampleArgs a{m_scores.data(), static_cast<int64_t>(m_scores.size()), nullptr, count, idx, w, &status};
    if (const cuis::Error e = cuis::ref::sample(a, at_offset(m_opts, offset)); e != cuis::Error::success) {
      *error = message_of(e);
      return false;
    }
    return status_ok(status, m_path, error);
  }

 private:
  const std::vector<float>& m_scores;
  cuis::SampleOptions m_opts;
  std::string m_path;
};

class CudaDrawer final : public ChunkDrawer {
 public:
  CudaDrawer(const cuis::SampleOptions& opts, const std::string& path, int64_t n)
      : m_opts(opts), m_path(path), m_n(n) {}

  bool init(const std::vector<float>& scores, int64_t chunk, std::string* error) {
    if (!check(m_scores.resize(scores.size()), error) || !check(m_idx.resize(chunk), error) ||
        !check(m_w.resize(chunk), error) || !check(m_status.resize(1), error))
      return false;
    return cuda(cudaMemcpy(m_scores.data(), scores.data(), scores.size() * sizeof(float), cudaMemcpyHostToDevice),
                "upload", error);
  }

  bool draw(int64_t count, uint64_t offset, int64_t* idx, float* w, std::string* error) override {
    const cuis::SampleOptions opts = at_offset(m_opts, offset);
    size_t bytes = 0;
    if (!check(cuis::sample_workspace_size(m_n, count, opts, &bytes), error)) return false;
    if (bytes > m_ws.size() && !check(m_ws.resize(bytes), error)) return false;
    const cuis::SampleArgs a{m_scores.data(), m_n, nullptr, count, m_idx.data(), m_w.data(), m_status.data()};
    cuis::DeviceStatus status{};
    if (!check(cuis::sample(a, opts, m_ws.data(), m_ws.size(), nullptr), error) ||
        !check(cuis::read_status(m_status.data(), nullptr, &status), error) || !status_ok(status, m_path, error))
      return false;
    const size_t b = static_cast<size_t>(count);
    return cuda(cudaMemcpy(idx, m_idx.data(), b * sizeof(int64_t), cudaMemcpyDeviceToHost), "download", error) &&
           cuda(cudaMemcpy(w, m_w.data(), b * sizeof(float), cudaMemcpyDeviceToHost), "download", error);
  }

 private:
  static bool check(cuis::Error e, std::string* error) {
    if (e != cuis::Error::success) *error = "CUDA: " + message_of(e);
    return e == cuis::Error::success;
  }
  static bool cuda(cudaError_t e, const char* what, std::string* error) {
    if (e != cudaSuccess) *error = std::string("CUDA ") + what + ": " + cudaGetErrorString(e);
    return e == cudaSuccess;
  }

  cuis::SampleOptions m_opts;
  std::string m_path;
  int64_t m_n;
  cuis::DeviceBuffer<float> m_scores, m_w;
  cuis::DeviceBuffer<int64_t> m_idx;
  cuis::DeviceBuffer<char> m_ws;
  cuis::DeviceBuffer<cuis::DeviceStatus> m_status;
};

}  // namespace

std::unique_ptr<ChunkDrawer> make_cpu_drawer(const std::vector<float>& scores, const cuis::SampleOptions& opts,
                                             const std::string& path) {
  return std::make_unique<CpuDrawer>(scores, opts, path);
}

bool make_cuda_drawer(const std::vector<float>& scores, const cuis::SampleOptions& opts, const std::string& path,
                      int64_t chunk, std::unique_ptr<ChunkDrawer>* drawer, std::string* error) {
  auto d = std::make_unique<CudaDrawer>(opts, path, static_cast<int64_t>(scores.size()));
  if (!d->init(scores, chunk, error)) return false;
  *drawer = std::move(d);
  return true;
}

bool gpu_present() {
  int count = 0;
  const bool ok = cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
  (void)cudaGetLastError();
  return ok;
}

}  // namespace cuis_cli
