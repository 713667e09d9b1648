// cuis-sample: draw indices and importance weights from a score file.
//   cuis-sample --weights FILE --count B --seed S [--offset O]
//               [--without-replacement] [--k K] [--smooth C] [--power A]
//               [--device auto|cpu|cuda]
// Writes one "index,weight" line per draw. Errors: one line on stderr, exit 2
// for bad flags, 1 for bad input or a failed run.
#include <cuda_runtime_api.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cuis/device_buffer.h"
#include "cuis/sampler/reference.h"
#include "cuis/sampler.h"
#include "score_file.h"

namespace {

const char* USAGE =
    "usage: cuis-sample --weights FILE --count B --seed S [--offset O] [--without-replacement]\n"
    "                   [--k K] [--smooth C] [--power A] [--device auto|cpu|cuda]\n"
    "  FILE: raw little-endian float32 if it ends in .f32, else one number per line\n"
    "  --k K: biased weights (1/(N p))^K with per-batch rescaling (default: unbiased, K = 1)\n";

struct Flags {
  std::string weights, device = "auto";
  long long count = -1;
  unsigned long long seed = 0, offset = 0;
  bool seed_given = false, without_replacement = false;
  cuis::SampleOptions opts;
};

int fail(int code, const std::string& msg) {
  std::fprintf(stderr, "cuis-sample: error: %s\n", msg.c_str());
  return code;
}

bool parse_u64(const char* s, unsigned long long* out) {
  char* end = nullptr;
  errno = 0;
  if (*s == '-') return false;
  *out = std::strtoull(s, &end, 10);
  return errno == 0 && end != s && *end == '\0';
}

bool parse_float(const char* s, float* out) {
  char* end = nullptr;
  errno = 0;
  *out = std::strtof(s, &end);
  return errno == 0 && end != s && *end == '\0';
}

// Returns 0 on success, else the exit code after printing the error.
int parse(int argc, char** argv, Flags* f) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(USAGE, stdout);
      std::exit(0);  // the CLI's own main flow, not library code
    }
    if (a == "--without-replacement") {
      f->without_replacement = true;
      continue;
    }
    if (i + 1 >= argc) return fail(2, "flag " + a + " needs a value\n" + USAGE);
    const char* v = argv[++i];
    unsigned long long u = 0;
    float x = 0;
    if (a == "--weights") {
      f->weights = v;
    } else if (a == "--count") {
      if (!parse_u64(v, &u) || u == 0 || u > 0x7fffffffull) return fail(2, std::string("--count must be an integer in [1, 2^31 - 1], got '") + v + "'");
      f->count = static_cast<long long>(u);
    } else if (a == "--seed") {
      if (!parse_u64(v, &f->seed)) return fail(2, std::string("--seed must be a non-negative integer, got '") + v + "'");
      f->seed_given = true;
    } else if (a == "--offset") {
      if (!parse_u64(v, &f->offset)) return fail(2, std::string("--offset must be a non-negative integer, got '") + v + "'");
    } else if (a == "--k") {
      if (!parse_float(v, &x)) return fail(2, std::string("--k must be a number, got '") + v + "'");
      f->opts.weighting = cuis::Weighting::biased;
      f->opts.k = x;
    } else if (a == "--smooth") {
      if (!parse_float(v, &x)) return fail(2, std::string("--smooth must be a number, got '") + v + "'");
      f->opts.smooth = x;
    } else if (a == "--power") {
      if (!parse_float(v, &x)) return fail(2, std::string("--power must be a number, got '") + v + "'");
      f->opts.power = x;
    } else if (a == "--device") {
      f->device = v;
      if (f->device != "auto" && f->device != "cpu" && f->device != "cuda")
        return fail(2, "--device must be auto, cpu or cuda, got '" + f->device + "'");
    } else {
      return fail(2, "unknown flag '" + a + "'\n" + USAGE);
    }
  }
  if (f->weights.empty()) return fail(2, std::string("--weights is required\n") + USAGE);
  if (f->count < 0) return fail(2, std::string("--count is required\n") + USAGE);
  if (!f->seed_given) return fail(2, std::string("--seed is required\n") + USAGE);
  f->opts.replacement = !f->without_replacement;
  f->opts.rng = cuis::RngState{f->seed, f->offset};
  if (const cuis::Error e = cuis::validate_options(f->opts); e != cuis::Error::success)
    return fail(2, cuis::last_error_message());
  return 0;
}

bool gpu_present() {
  int count = 0;
  const bool ok = cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
  (void)cudaGetLastError();
  return ok;
}

// Runs cuis::sample() on the GPU; returns false with *error on a CUDA failure.
bool run_cuda(const std::vector<float>& scores, const Flags& f, std::vector<int64_t>* idx, std::vector<float>* w,
              cuis::DeviceStatus* status, std::string* error) {
  const int64_t n = static_cast<int64_t>(scores.size()), b = f.count;
  auto check = [&](cuis::Error e) {
    if (e != cuis::Error::success) *error = cuis::last_error_message().empty() ? cuis::error_string(e) : cuis::last_error_message();
    return e == cuis::Error::success;
  };
  auto cuda = [&](cudaError_t e, const char* what) {
    if (e != cudaSuccess) *error = std::string(what) + ": " + cudaGetErrorString(e);
    return e == cudaSuccess;
  };
  size_t bytes = 0;
  if (!check(cuis::sample_workspace_size(n, b, f.opts, &bytes))) return false;
  cuis::DeviceBuffer<float> d_scores, d_w;
  cuis::DeviceBuffer<int64_t> d_idx;
  cuis::DeviceBuffer<char> ws;
  cuis::DeviceBuffer<cuis::DeviceStatus> d_status;
  if (!check(d_scores.resize(n)) || !check(d_w.resize(b)) || !check(d_idx.resize(b)) || !check(ws.resize(bytes)) ||
      !check(d_status.resize(1)))
    return false;
  if (!cuda(cudaMemcpy(d_scores.data(), scores.data(), n * sizeof(float), cudaMemcpyHostToDevice), "upload"))
    return false;
  const cuis::SampleArgs a{d_scores.data(), n, nullptr, b, d_idx.data(), d_w.data(), d_status.data()};
  if (!check(cuis::sample(a, f.opts, ws.data(), bytes, nullptr))) return false;
  if (!check(cuis::read_status(d_status.data(), nullptr, status))) return false;
  idx->resize(b);
  w->resize(b);
  return cuda(cudaMemcpy(idx->data(), d_idx.data(), b * sizeof(int64_t), cudaMemcpyDeviceToHost), "download") &&
         cuda(cudaMemcpy(w->data(), d_w.data(), b * sizeof(float), cudaMemcpyDeviceToHost), "download");
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  if (const int code = parse(argc, argv, &f)) return code;
  std::vector<float> scores;
  std::string error;
  if (!cuis_cli::read_scores(f.weights, &scores, &error)) return fail(1, error);
  const int64_t n = static_cast<int64_t>(scores.size());
  if (f.without_replacement && f.count > n)
    return fail(1, "--count " + std::to_string(f.count) + " exceeds the " + std::to_string(n) +
                       " scores, impossible without replacement");

  bool use_cuda = f.device == "cuda";
  if (f.device == "auto") use_cuda = gpu_present();
  if (f.device == "cuda" && !gpu_present()) return fail(1, "--device cuda: no CUDA device is available");

  std::vector<int64_t> idx(f.count);
  std::vector<float> w(f.count);
  cuis::DeviceStatus status{};
  if (use_cuda) {
    if (!run_cuda(scores, f, &idx, &w, &status, &error)) return fail(1, error);
  } else {
    const cuis::SampleArgs a{scores.data(), n, nullptr, f.count, idx.data(), w.data(), &status};
    if (const cuis::Error e = cuis::ref::sample(a, f.opts); e != cuis::Error::success)
      return fail(1, cuis::last_error_message());
  }
  if (status.code != cuis::Error::success) return fail(1, f.weights + ": " + cuis::describe(status));

  static std::vector<char> buf(1 << 16);  // outlives the exit-time flush
  std::setvbuf(stdout, buf.data(), _IOFBF, buf.size());
  for (int64_t j = 0; j < f.count; ++j) std::printf("%lld,%.9g\n", static_cast<long long>(idx[j]), static_cast<double>(w[j]));
  std::fflush(stdout);
  return std::ferror(stdout) ? fail(1, "write to stdout failed") : 0;
}
