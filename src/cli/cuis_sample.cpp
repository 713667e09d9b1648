// cuis-sample: draw indices and importance weights from a score file.
//   cuis-sample --weights FILE --count B --seed S [--offset O]
//               [--without-replacement] [--k K] [--smooth C] [--power A]
//               [--device auto|cpu|cuda] [--chunk D|auto]
// Writes one "index,weight" line per draw, computed and written a chunk at a
// time (sample_draws.h says why the output does not depend on the chunk).
// Errors: one line on stderr, exit 2 for bad flags, 1 for everything else; no
// exception leaves main.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "sample_draws.h"
#include "sample_flags.h"
#include "score_file.h"

namespace {

using cuis_cli::sample_error;

char g_stdout_buffer[1 << 16];  // outlives the exit-time flush

bool write_draws(const int64_t* idx, const float* w, int64_t count) {
  for (int64_t j = 0; j < count; ++j)
    std::printf("%lld,%.9g\n", static_cast<long long>(idx[j]), static_cast<double>(w[j]));
  return !std::ferror(stdout);
}

int run(int argc, char** argv) {
  cuis_cli::SampleFlags f;
  if (const int code = cuis_cli::parse_sample_flags(argc, argv, &f); code >= 0) return code;
  std::vector<float> scores;
  std::string error;
  if (!cuis_cli::read_scores(f.weights, &scores, &error)) return sample_error(1, error);
  const int64_t n = static_cast<int64_t>(scores.size());
  if (!f.opts.replacement && f.count > n)
    return sample_error(1, "--count " + std::to_string(f.count) + " exceeds the " + std::to_string(n) +
                               " scores, impossible without replacement");

  bool use_cuda = false;
  if (f.device != "cpu") {
    use_cuda = cuis_cli::gpu_present();
    if (!use_cuda && f.device == "cuda") return sample_error(1, "--device cuda: no CUDA device is available");
    if (!use_cuda) std::fputs("cuis-sample: note: no usable CUDA device; falling back to the CPU reference\n", stderr);
  }
  const int64_t chunk = cuis_cli::chunk_size(f, n);
  std::unique_ptr<cuis_cli::ChunkDrawer> drawer;
  if (!use_cuda) {
    drawer = cuis_cli::make_cpu_drawer(scores, f.opts, f.weights);
  } else if (!cuis_cli::make_cuda_drawer(scores, f.opts, f.weights, chunk, &drawer, &error)) {
    return sample_error(1, error);
  }

  std::vector<int64_t> idx(static_cast<size_t>(chunk));
  std::vector<float> w(static_cast<size_t>(chunk));
  std::setvbuf(stdout, g_stdout_buffer, _IOFBF, sizeof g_stdout_buffer);
  for (int64_t done = 0; done < f.count;) {
    const int64_t len = std::min(chunk, f.count - done);
    // Counters wrap modulo 2^64, as the library's offset + j does.
    if (!drawer->draw(len, f.opts.rng.offset + static_cast<uint64_t>(done), idx.data(), w.data(), &error))
      return sample_error(1, error);
    if (!write_draws(idx.data(), w.data(), len))
      return sample_error(1, std::string("write to stdout failed (") + std::strerror(errno) + ")");
    done += len;
  }
  if (std::fflush(stdout) != 0 || std::ferror(stdout))
    return sample_error(1, std::string("write to stdout failed (") + std::strerror(errno) + ")");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::bad_alloc&) {
    std::fputs("cuis-sample: error: out of memory (a smaller --chunk needs less for draws with replacement)\n", stderr);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cuis-sample: error: internal error: %s\n", e.what());
  } catch (...) {
    std::fputs("cuis-sample: error: internal error (unknown exception)\n", stderr);
  }
  return 1;
}
