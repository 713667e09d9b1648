// Benchmarks of the shipped sampler (cuis::sample, the library's own
// launchers) against the memory floor measured in this binary and a naive
// scan-then-search baseline. Times are CUDA-event times of one call, with L2
// flushed before each call (except the graph replay, which measures the
// steady state of a training loop). Prints a message and exits 0 without a GPU.
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench/bench_device.h"
#include "bench/sampler/baseline_scan_search.cuh"
#include "core/launch.h"
#include "cuis/device_buffer.h"
#include "cuis/sampler.h"

namespace {

using cuis::DeviceBuffer;

double g_copy_bytes_per_s = 0.0;  // device-to-device copy, read + write counted
cudaStream_t g_stream = nullptr;
cudaEvent_t g_start = nullptr, g_stop = nullptr;
DeviceBuffer<char> g_flush;  // written before each timed call to evict L2

#define BENCH_CUDA(x)                                                                 \
  do {                                                                                \
    const cudaError_t e_ = (x);                                                       \
    if (e_ != cudaSuccess) {                                                          \
      state.SkipWithError((std::string(#x) + ": " + cudaGetErrorString(e_)).c_str()); \
      return;                                                                         \
    }                                                                                 \
  } while (0)
#define BENCH_CUIS(x)                                                                     \
  do {                                                                                    \
    if ((x) != cuis::Error::success) {                                                    \
      state.SkipWithError((std::string(#x) + ": " + cuis::last_error_message()).c_str()); \
      return;                                                                             \
    }                                                                                     \
  } while (0)

// Scores in (0, 1]: a hash of the index, so any size fills fast on device.
__global__ void fill_scores(float* s, int64_t n, uint32_t salt) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const uint32_t h =
        cuis::detail::philox4x32_10({{static_cast<uint32_t>(i), static_cast<uint32_t>(i >> 32), salt, 0}}, 1, 2).v[0];
    s[i] = static_cast<float>((h >> 8) + 1) * (1.0f / 16777216.0f);
  }
}

// Seconds since g_start was recorded on s. False (and the benchmark skipped
// with the CUDA error) when anything failed: a zero time would make Google
// Benchmark run the loop for ever.
bool stop_timer(benchmark::State& state, cudaStream_t s, double* seconds) {
  float ms = 0.0f;
  cudaError_t e = cudaEventRecord(g_stop, s);
  if (e == cudaSuccess) e = cudaEventSynchronize(g_stop);
  if (e == cudaSuccess) e = cudaEventElapsedTime(&ms, g_start, g_stop);
  if (e == cudaSuccess) e = cudaGetLastError();
  if (e != cudaSuccess || !(ms > 0.0f)) {
    state.SkipWithError((std::string("timing failed: ") + cudaGetErrorString(e)).c_str());
    return false;
  }
  *seconds = ms / 1e3;
  return true;
}

// Turns the single-launch path off for its lifetime (restored on any exit).
struct SingleTilePath {
  explicit SingleTilePath(bool on) { cuis::detail::set_single_tile_path(on); }
  ~SingleTilePath() { cuis::detail::set_single_tile_path(true); }
};

void flush_l2() { cudaMemsetAsync(g_flush.data(), 0, g_flush.bytes(), g_stream); }

double floor_seconds(int64_t n) { return static_cast<double>(n) * sizeof(float) / g_copy_bytes_per_s; }

void report(benchmark::State& state, int64_t n, double total_s, int64_t calls) {
  const double per_call = total_s / static_cast<double>(calls);
  state.counters["N"] = static_cast<double>(n);
  state.counters["score_GBps"] = static_cast<double>(n) * 4.0 / per_call / 1e9;
  state.counters["floor_us"] = floor_seconds(n) * 1e6;
  state.counters["x_floor"] = per_call / floor_seconds(n);
}

void BM_CopyBandwidth(benchmark::State& state) {
  const size_t bytes = size_t{1} << 30;
  DeviceBuffer<char> a, b;
  BENCH_CUIS(a.resize(bytes));
  BENCH_CUIS(b.resize(bytes));
  double total = 0.0;
  for (auto _ : state) {
    cudaEventRecord(g_start, g_stream);
    cudaMemcpyAsync(b.data(), a.data(), bytes, cudaMemcpyDeviceToDevice, g_stream);
    double s = 0.0;
    if (!stop_timer(state, g_stream, &s)) break;
    state.SetIterationTime(s);
    total += s;
  }
  state.counters["GBps_read_plus_write"] = 2.0 * bytes * state.iterations() / total / 1e9;
}

struct Problem {
  DeviceBuffer<float> scores, weights;
  DeviceBuffer<int64_t> indices;
  DeviceBuffer<cuis::DeviceStatus> status;
  DeviceBuffer<char> ws;
};

cuis::Error make_problem(int64_t n, int64_t b, const cuis::SampleOptions& o, Problem* p) {
  size_t bytes = 0;
  for (cuis::Error e : {p->scores.resize(n), p->weights.resize(b), p->indices.resize(b), p->status.resize(1),
                        cuis::sample_workspace_size(n, b, o, &bytes)})
    if (e != cuis::Error::success) return e;
  if (const cuis::Error e = p->ws.resize(bytes); e != cuis::Error::success) return e;
  fill_scores<<<1024, 256, 0, g_stream>>>(p->scores.data(), n, 7);
  return cudaStreamSynchronize(g_stream) == cudaSuccess ? cuis::Error::success : cuis::Error::cuda_error;
}

// args: log2 N, B, replacement (1/0)
void BM_Sample(benchmark::State& state) {
  const int64_t n = int64_t{1} << state.range(0), b = state.range(1);
  cuis::SampleOptions o;
  o.replacement = state.range(2) != 0;
  o.weighting = cuis::Weighting::biased;
  o.k = 0.5f;
  Problem p;
  BENCH_CUIS(make_problem(n, b, o, &p));
  const cuis::SampleArgs a{p.scores.data(), n, nullptr, b, p.indices.data(), p.weights.data(), p.status.data()};
  BENCH_CUIS(cuis::sample(a, o, p.ws.data(), p.ws.bytes(), g_stream));  // warm-up
  double total = 0.0;
  for (auto _ : state) {
    flush_l2();
    o.rng.offset += static_cast<uint64_t>(b);
    cudaEventRecord(g_start, g_stream);
    BENCH_CUIS(cuis::sample(a, o, p.ws.data(), p.ws.bytes(), g_stream));
    double s = 0.0;
    if (!stop_timer(state, g_stream, &s)) break;
    state.SetIterationTime(s);
    total += s;
  }
  cuis::DeviceStatus st{};
  BENCH_CUIS(cuis::read_status(p.status.data(), g_stream, &st));
  if (st.code != cuis::Error::success) state.SkipWithError(cuis::describe(st).c_str());
  report(state, n, total, state.iterations());
}

// A captured graph replayed back to back: the per-step cost inside a training
// loop. args: log2 N, B, single-launch path allowed (1/0; it serves N <= 2048).
void BM_SampleGraph(benchmark::State& state) {
  const int64_t n = int64_t{1} << state.range(0), b = state.range(1);
  const SingleTilePath path(state.range(2) != 0);  // read when the call is captured
  cuis::SampleOptions o;
  o.weighting = cuis::Weighting::biased;
  o.k = 0.5f;
  Problem p;
  BENCH_CUIS(make_problem(n, b, o, &p));
  DeviceBuffer<cuis::RngState> rng;
  BENCH_CUIS(rng.resize(1));
  BENCH_CUDA(cudaMemsetAsync(rng.data(), 0, sizeof(cuis::RngState), g_stream));
  o.d_rng = rng.data();
  const cuis::SampleArgs a{p.scores.data(), n, nullptr, b, p.indices.data(), p.weights.data(), p.status.data()};
  BENCH_CUIS(cuis::sample(a, o, p.ws.data(), p.ws.bytes(), g_stream));  // loads the modules before capture
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  BENCH_CUDA(cudaStreamBeginCapture(g_stream, cudaStreamCaptureModeGlobal));
  const cuis::Error captured = cuis::sample(a, o, p.ws.data(), p.ws.bytes(), g_stream);
  BENCH_CUDA(cudaStreamEndCapture(g_stream, &graph));  // ends the capture even when sample() failed
  BENCH_CUIS(captured);
  BENCH_CUDA(cudaGraphInstantiate(&exec, graph, 0));
  BENCH_CUDA(cudaGraphLaunch(exec, g_stream));
  constexpr int REPLAYS = 100;
  double total = 0.0;
  for (auto _ : state) {
    cudaEventRecord(g_start, g_stream);
    for (int r = 0; r < REPLAYS; ++r) cudaGraphLaunch(exec, g_stream);
    double s = 0.0;
    if (!stop_timer(state, g_stream, &s)) break;
    state.SetIterationTime(s / REPLAYS);
    total += s;
  }
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  report(state, n, total, state.iterations() * REPLAYS);
}

// args: log2 N, B. The naive float64 scan-then-search baseline.
void BM_BaselineScanSearch(benchmark::State& state) {
  const int64_t n = int64_t{1} << state.range(0), b = state.range(1);
  DeviceBuffer<float> scores;
  DeviceBuffer<int64_t> out;
  DeviceBuffer<char> ws;
  size_t temp = 0;
  const size_t bytes = cuis_bench::baseline_bytes(n, &temp);
  BENCH_CUIS(scores.resize(n));
  BENCH_CUIS(out.resize(b));
  BENCH_CUIS(ws.resize(bytes));
  fill_scores<<<1024, 256, 0, g_stream>>>(scores.data(), n, 7);
  double* cdf = reinterpret_cast<double*>(ws.data());
  void* tmp = ws.data() + ((static_cast<size_t>(n) * sizeof(double) + 255) / 256 * 256);
  double total = 0.0;
  uint64_t seed = 1;
  for (auto _ : state) {
    flush_l2();
    cudaEventRecord(g_start, g_stream);
    cuis_bench::baseline_sample(scores.data(), n, b, ++seed, cdf, tmp, temp, out.data(), g_stream);
    double s = 0.0;
    if (!stop_timer(state, g_stream, &s)) break;
    state.SetIterationTime(s);
    total += s;
  }
  BENCH_CUDA(cudaGetLastError());
  report(state, n, total, state.iterations());
}

void register_all() {
  benchmark::RegisterBenchmark("BM_CopyBandwidth", BM_CopyBandwidth)->UseManualTime()->Unit(benchmark::kMicrosecond);
  // The headline sizes (scripts/gpu-check) are log2 N = 16, 20, 24, 27 with B = 1024.
  for (int log2n : {16, 20, 24, 27, 30})
    for (int64_t b : {1024, 65536, 1000000}) {
      benchmark::RegisterBenchmark("BM_Sample", BM_Sample)
          ->Args({log2n, b, 1})
          ->ArgNames({"log2N", "B", "repl"})
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond);
      benchmark::RegisterBenchmark("BM_BaselineScanSearch", BM_BaselineScanSearch)
          ->Args({log2n, b})
          ->ArgNames({"log2N", "B"})
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond);
    }
  for (int log2n : {16, 20, 24})
    for (int64_t b : {1024, 65536})
      benchmark::RegisterBenchmark("BM_Sample", BM_Sample)
          ->Args({log2n, b, 0})
          ->ArgNames({"log2N", "B", "repl"})
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond);
  for (int log2n : {16, 18, 20})
    benchmark::RegisterBenchmark("BM_SampleGraph", BM_SampleGraph)
        ->Args({log2n, 1024, 1})
        ->ArgNames({"log2N", "B", "single"})
        ->Iterations(20)
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
  // The trainer's candidate sets (P = 1024, 2048, batch 128): one launch, and the general path.
  for (int log2n : {10, 11})
    for (int single : {1, 0})
      benchmark::RegisterBenchmark("BM_SampleGraph", BM_SampleGraph)
          ->Args({log2n, 128, single})
          ->ArgNames({"log2N", "B", "single"})
          ->Iterations(20)
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond);
}

// Copy bandwidth for the floor, measured once before the benchmarks.
bool measure_copy_bandwidth() {
  const size_t bytes = size_t{1} << 30;
  DeviceBuffer<char> a, b;
  if (a.resize(bytes) != cuis::Error::success || b.resize(bytes) != cuis::Error::success) return false;
  float best = 1e30f;
  for (int i = 0; i < 20; ++i) {
    float ms = 0.0f;
    if (cudaEventRecord(g_start, g_stream) != cudaSuccess ||
        cudaMemcpyAsync(b.data(), a.data(), bytes, cudaMemcpyDeviceToDevice, g_stream) != cudaSuccess ||
        cudaEventRecord(g_stop, g_stream) != cudaSuccess || cudaEventSynchronize(g_stop) != cudaSuccess ||
        cudaEventElapsedTime(&ms, g_start, g_stop) != cudaSuccess)
      return false;
    if (i > 2 && ms < best) best = ms;
  }
  g_copy_bytes_per_s = 2.0 * bytes / (best / 1e3);
  return best > 0.0f && best < 1e30f;
}

// Device set-up: the stream, the L2 flush buffer, the copy floor; false on failure.
bool set_up() {
  cudaStreamCreate(&g_stream);
  cudaEventCreate(&g_start);
  cudaEventCreate(&g_stop);
  if (g_flush.resize(size_t{256} << 20) != cuis::Error::success || !measure_copy_bandwidth()) {
    std::printf("cuis_bench: set-up failed: %s\n", cuis::last_error_message().c_str());
    return false;
  }
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, 0);
  benchmark::AddCustomContext("device", prop.name);
  benchmark::AddCustomContext("copy_GBps_read_plus_write", std::to_string(g_copy_bytes_per_s / 1e9));
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  return cuis_bench::run(argc, argv, "cuis_bench", set_up, register_all, [] {
    g_flush.release();
  });
}
