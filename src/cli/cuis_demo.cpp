// cuis-demo: a short demonstration of the sampler's exactness and weights
// (scripts/demo, the README's main job, trains instead). Part 1 shows the precision problem cuis exists to
// solve; part 2 draws loss-proportional batches with the paper's weights.
// Uses the GPU when present (and checks it against the CPU reference), else
// the CPU reference alone. Takes no arguments but --help; anything else is
// refused with one line on stderr and exit 2.
#include <cuda_runtime_api.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <exception>
#include <random>
#include <string>
#include <vector>

#include "cuis/device_buffer.h"
#include "cuis/sampler/reference.h"
#include "cuis/sampler.h"

namespace {

// Draws with the CUDA sampler; false (with a message) on any failure.
bool gpu_sample(const std::vector<float>& s, int64_t b, const cuis::SampleOptions& o, std::vector<int64_t>* idx,
                std::vector<float>* w) {
  const int64_t n = static_cast<int64_t>(s.size());
  size_t bytes = 0;
  cuis::DeviceBuffer<float> d_s, d_w;
  cuis::DeviceBuffer<int64_t> d_i;
  cuis::DeviceBuffer<char> ws;
  cuis::DeviceBuffer<cuis::DeviceStatus> d_st;
  cuis::DeviceStatus st{};
  bool ok = cuis::sample_workspace_size(n, b, o, &bytes) == cuis::Error::success &&
            d_s.resize(n) == cuis::Error::success && d_w.resize(b) == cuis::Error::success &&
            d_i.resize(b) == cuis::Error::success && ws.resize(bytes) == cuis::Error::success &&
            d_st.resize(1) == cuis::Error::success &&
            cudaMemcpy(d_s.data(), s.data(), n * 4, cudaMemcpyHostToDevice) == cudaSuccess;
  const cuis::SampleArgs a{d_s.data(), n, nullptr, b, d_i.data(), d_w.data(), d_st.data()};
  ok = ok && cuis::sample(a, o, ws.data(), bytes, nullptr) == cuis::Error::success &&
       cuis::read_status(d_st.data(), nullptr, &st) == cuis::Error::success && st.code == cuis::Error::success;
  idx->resize(b);
  w->resize(b);
  ok = ok && cudaMemcpy(idx->data(), d_i.data(), b * 8, cudaMemcpyDeviceToHost) == cudaSuccess &&
       cudaMemcpy(w->data(), d_w.data(), b * 4, cudaMemcpyDeviceToHost) == cudaSuccess;
  if (!ok) std::printf("  GPU run failed: %s\n", cuis::last_error_message().c_str());
  return ok;
}

bool ref_sample(const std::vector<float>& s, int64_t b, const cuis::SampleOptions& o, std::vector<int64_t>* idx,
                std::vector<float>* w) {
  idx->resize(b);
  w->resize(b);
  cuis::DeviceStatus st{};
  const cuis::SampleArgs a{s.data(), static_cast<int64_t>(s.size()), nullptr, b, idx->data(), w->data(), &st};
  return cuis::ref::sample(a, o) == cuis::Error::success && st.code == cuis::Error::success;
}

// What a float32 prefix sum + binary search (the usual GPU recipe) draws.
std::vector<int64_t> float32_cumsum_sample(const std::vector<float>& s, int64_t b, uint64_t seed) {
  std::vector<float> cdf(s.size());
  float run = 0.0f;
  for (size_t i = 0; i < s.size(); ++i) cdf[i] = run += s[i];
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<int64_t> out(b);
  for (auto& x : out) x = std::upper_bound(cdf.begin(), cdf.end(), u(g) * run) - cdf.begin();
  return out;
}

double share_at_or_above(const std::vector<int64_t>& idx, int64_t from) {
  return static_cast<double>(std::count_if(idx.begin(), idx.end(), [&](int64_t i) { return i >= from; })) /
         static_cast<double>(idx.size());
}

// -1 to go on; else the exit code (0 after --help, 2 after a one-line error).
int parse(int argc, char** argv) {
  CLI::App app{"cuis-demo: the sampler in two parts: 1. the precision problem cuis solves (a float32 prefix sum\n"
               "misplaces draws over 2^24 scores); 2. loss-proportional batches with the paper's weights.\n"
               "On the GPU when present, checked against the CPU reference; else the CPU reference alone.",
               "cuis-demo"};
  app.allow_extras();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);
    return 0;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "cuis-demo: error: %s\n", e.what());
    return 2;
  }
  const std::vector<std::string> rest = app.remaining();
  if (rest.empty()) return -1;
  const std::string& a = rest.front();
  if (a.size() > 1 && a[0] == '-' && !std::isdigit(static_cast<unsigned char>(a[1])))
    std::fprintf(stderr, "cuis-demo: error: unknown flag %s (cuis-demo takes none but --help)\n",
                 a.substr(0, a.find('=')).c_str());
  else
    std::fprintf(stderr, "cuis-demo: error: unexpected argument '%s' (cuis-demo takes none)\n", a.c_str());
  return 2;
}

int demo() {
  int devices = 0;
  const bool gpu = cudaGetDeviceCount(&devices) == cudaSuccess && devices > 0;
  (void)cudaGetLastError();
  std::printf("cuis demo (%s)\n\n", gpu ? "GPU and CPU reference" : "no GPU here: CPU reference only");

  // Part 1: PyTorch issue #43115.
  const int64_t n = (int64_t{1} << 24) + 1, b = 200000;
  std::vector<float> s(n, 1.0f);
  std::fill(s.begin(), s.begin() + n / 2, 2.0f);
  cuis::SampleOptions o;
  o.rng.seed = 2017;
  std::printf("1. %lld scores, the first half 2, the second half 1 (PyTorch issue #43115).\n", static_cast<long long>(n));
  std::printf("   Share of %lld draws landing in the second half (exact: %.4f):\n", static_cast<long long>(b),
              static_cast<double>(n - n / 2) / static_cast<double>(n + n / 2));
  std::printf("   float32 prefix sum + binary search: %.4f\n", share_at_or_above(float32_cumsum_sample(s, b, 1), n / 2));
  std::vector<int64_t> ref_idx, gpu_idx;
  std::vector<float> ref_w, gpu_w;
  if (!ref_sample(s, b, o, &ref_idx, &ref_w)) return 1;
  std::printf("   cuis, CPU reference:                %.4f\n", share_at_or_above(ref_idx, n / 2));
  if (gpu && gpu_sample(s, b, o, &gpu_idx, &gpu_w))
    std::printf("   cuis, CUDA:                         %.4f (indices %s the reference's)\n",
                share_at_or_above(gpu_idx, n / 2), gpu_idx == ref_idx ? "identical to" : "DIFFERENT FROM");

  // Part 2: loss-proportional batches with biased weights (k = 0.5).
  const int64_t m = 60000, batch = 128, batches = 300;
  std::vector<float> loss(m);
  std::mt19937_64 g(7);
  std::lognormal_distribution<double> ln(-1.0, 1.2);
  for (auto& x : loss) x = static_cast<float>(ln(g));
  double true_mean = 0.0;
  for (float x : loss) true_mean += x / m;
  std::vector<float> sorted = loss;
  std::nth_element(sorted.begin(), sorted.begin() + m * 9 / 10, sorted.end());
  const float hard = sorted[m * 9 / 10];  // the hardest 10% have loss >= this
  std::printf("\n2. %lld per-sample losses (lognormal), batches of %lld drawn in proportion to the loss:\n",
              static_cast<long long>(m), static_cast<long long>(batch));
  double batch_loss = 0.0;
  for (float k : {1.0f, 0.5f, 0.0f}) {
    cuis::SampleOptions lo;
    lo.weighting = cuis::Weighting::biased;
    lo.k = k;
    batch_loss = 0.0;
    double est = 0.0, wmin = 1e30, wmax = 0.0, w_all = 0.0, w_hard = 0.0;
    for (int64_t r = 0; r < batches; ++r) {
      lo.rng = cuis::RngState{99, static_cast<uint64_t>(r * batch)};
      std::vector<int64_t> idx;
      std::vector<float> w;
      if (!(gpu ? gpu_sample(loss, batch, lo, &idx, &w) : ref_sample(loss, batch, lo, &idx, &w))) return 1;
      for (int64_t j = 0; j < batch; ++j) {
        est += w[j] * loss[idx[j]] / static_cast<double>(batch * batches);
        batch_loss += loss[idx[j]] / static_cast<double>(batch * batches);
        w_all += w[j];
        w_hard += loss[idx[j]] >= hard ? w[j] : 0.0f;
        wmin = std::min<double>(wmin, w[j]);
        wmax = std::max<double>(wmax, w[j]);
      }
    }
    std::printf("   k = %.1f: hardest 10%% hold %4.1f%% of the gradient weight; weighted mean loss %.3f (dataset %.3f); "
                "weights %.3g..%.3g\n",
                static_cast<double>(k), 100.0 * w_hard / w_all, est, true_mean, wmin, wmax);
  }
  std::printf("   Draws' plain mean loss: %.3f. k = 1 is unbiased (the hardest 10%% keep about 10%% of the weight);\n"
              "   smaller k shifts the weight toward hard samples (docs/METHOD.md section 4).\n", batch_loss);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (const int code = parse(argc, argv); code >= 0) return code;
    return demo();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cuis-demo: error: unexpected failure: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "cuis-demo: error: unexpected failure\n");
  }
  return 1;
}
