// Training-step throughput of the reference MLP (784-512-512-10, ReLU, Adam)
// at batch 128 and 1024 with uniformly drawn batches, plain and replayed in a
// CUDA graph, against the GEMM floor: the step's matrix FLOPs over the FP32
// GEMM throughput measured in this binary. Then BM_TrainerStep: a whole
// cuis::Trainer step (candidates, scoring, sampling, training, predictor) for
// each sampler at batch 128 and P = 1024, graph-replayed and enqueued (and
// graph-replayed with TF32 GEMMs), which is what an importance-sampled step
// costs against a uniform one. Exits 0
// with a message without a GPU.
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_device.h"
#include "bench/gemm_floor.h"
#include "bench/step_timing.h"
#include "cuis/device_buffer.h"
#include "cuis/mlp.h"
#include "cuis/trainer.h"

namespace {

using cuis::DeviceBuffer;

constexpr int64_t ROWS = 60000, FEATURES = 784, CLASSES = 10, BATCHES = 64;
const std::vector<int32_t> SIZES = {784, 512, 512, 10};

double g_gemm_flops = 0.0;  // FP32 cuBLAS GEMM, FLOP/s
cudaStream_t g_stream;
cudaEvent_t g_start, g_stop;
DeviceBuffer<float> g_x;
DeviceBuffer<int32_t> g_labels;
cuis::DataSplit g_split;  // the same rows on the host, for cuis::Trainer

// FLOPs of one step's GEMMs (bench/gemm_floor.h).
double step_flops(int64_t batch) { return cuis_bench::mlp_step_flops(SIZES, batch); }

struct Setup {
  cuis::Mlp mlp;
  DeviceBuffer<int64_t> indices;  // BATCHES uniform batches
};

bool make(int64_t batch, Setup* s, benchmark::State& state) {
  if (s->mlp.init({SIZES, cuis::Activation::relu, cuis::LossKind::cross_entropy}, {}, batch, 1) !=
      cuis::Error::success) {
    state.SkipWithError(cuis::last_error_message().c_str());
    return false;
  }
  std::vector<int64_t> idx(batch * BATCHES);
  std::mt19937_64 g(3);
  for (auto& i : idx) i = static_cast<int64_t>(g() % ROWS);
  if (s->indices.resize(idx.size()) != cuis::Error::success ||
      cudaMemcpy(s->indices.data(), idx.data(), idx.size() * 8, cudaMemcpyHostToDevice) != cudaSuccess) {
    state.SkipWithError("upload failed");
    return false;
  }
  return true;
}

cuis::TrainBatch batch_at(const Setup& s, int64_t batch, int64_t k) {
  cuis::TrainBatch b;
  b.data = g_x.data();
  b.rows = ROWS;
  b.labels = g_labels.data();
  b.indices = s.indices.data() + (k % BATCHES) * batch;
  b.batch = batch;
  return b;
}

void report(benchmark::State& state, int64_t batch, double seconds_per_step) {
  state.counters["samples_per_s"] = static_cast<double>(batch) / seconds_per_step;
  state.counters["gemm_floor_us"] = step_flops(batch) / g_gemm_flops * 1e6;
  state.counters["x_gemm_floor"] = seconds_per_step / (step_flops(batch) / g_gemm_flops);
}

constexpr int STEPS = 50;

void BM_TrainStep(benchmark::State& state) {
  const int64_t batch = state.range(0);
  Setup s;
  if (!make(batch, &s, state)) return;
  for (int k = 0; k < 3; ++k)
    if (s.mlp.train_step(batch_at(s, batch, k), g_stream) != cuis::Error::success) {
      state.SkipWithError(cuis::last_error_message().c_str());
      return;
    }
  const double seconds = cuis_bench::time_steps(state, g_stream, g_start, g_stop, STEPS, [&](int k) {
    return s.mlp.train_step(batch_at(s, batch, k), g_stream) == cuis::Error::success;
  });
  if (seconds > 0.0) report(state, batch, seconds);
}

// One captured step per batch slot; the graphs replayed back to back.
void BM_TrainStepGraph(benchmark::State& state) {
  const int64_t batch = state.range(0);
  Setup s;
  if (!make(batch, &s, state)) return;
  std::vector<cudaGraphExec_t> execs;
  if (s.mlp.train_step(batch_at(s, batch, 0), g_stream) != cuis::Error::success) {  // loads cuBLAS's kernels first
    state.SkipWithError(cuis::last_error_message().c_str());
    return;
  }
  if (!cuis_bench::capture_steps(
          state, s.mlp, g_stream, 4, [&](int k) { return batch_at(s, batch, k); }, &execs))
    return;
  for (auto exec : execs) cudaGraphLaunch(exec, g_stream);
  const double seconds = cuis_bench::time_steps(state, g_stream, g_start, g_stop, STEPS, [&](int k) {
    return cudaGraphLaunch(execs[k % execs.size()], g_stream) == cudaSuccess;
  });
  if (seconds > 0.0) report(state, batch, seconds);
  for (auto exec : execs) cudaGraphExecDestroy(exec);
}

// A whole trainer step; Trainer::stats() waits for its stream, so host time
// over STEPS steps and one wait is the steps' time.
void BM_TrainerStep(benchmark::State& state) {
  cuis::TrainConfig c;
  c.sampler = static_cast<cuis::SamplerKind>(state.range(0));
  c.cuda_graph = state.range(1) != 0;
  c.math = state.range(2) ? cuis::Math::tf32 : cuis::Math::fp32;
  c.batch = 128;
  c.presample = 1024;
  c.hidden = {SIZES[1], SIZES[2]};
  std::unique_ptr<cuis::Trainer> t;
  cuis::TrainerStats st;
  bool ok = cuis::make_cuda_trainer(c, &g_split, &t) == cuis::Error::success;
  for (int k = 0; ok && k < 5; ++k) ok = t->step() == cuis::Error::success;
  if (!ok || t->stats(&st) != cuis::Error::success) {
    state.SkipWithError(cuis::last_error_message().c_str());
    return;
  }
  double total = 0.0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int k = 0; k < STEPS; ++k)
      if (t->step() != cuis::Error::success) {
        state.SkipWithError(cuis::last_error_message().c_str());
        return;
      }
    if (t->stats(&st) != cuis::Error::success) {
      state.SkipWithError(cuis::last_error_message().c_str());
      return;
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    state.SetIterationTime(s / STEPS);
    total += s;
  }
  state.SetLabel(cuis::sampler_name(c.sampler));
  state.counters["us_per_step"] = total / (state.iterations() * STEPS) * 1e6;
  state.counters["importance"] = st.importance ? 1 : 0;
}

// FP32 GEMM throughput (bench/gemm_floor.h), the denominator of the floor.
bool measure_gemm() {
  g_gemm_flops = cuis_bench::measure_gemm_flops(g_stream, false);
  return g_gemm_flops > 0.0;
}

void register_all() {
  for (int64_t b : {128, 1024}) {
    // Fixed iteration counts: the reported time is per step, so --benchmark_min_time would mean STEPS times the wall
    // time.
    benchmark::RegisterBenchmark("BM_TrainStep", BM_TrainStep)
        ->Arg(b)
        ->ArgName("batch")
        ->Iterations(20)
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark("BM_TrainStepGraph", BM_TrainStepGraph)
        ->Arg(b)
        ->ArgName("batch")
        ->Iterations(20)
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
  }
  for (cuis::SamplerKind k :
       {cuis::SamplerKind::uniform, cuis::SamplerKind::loss, cuis::SamplerKind::gnorm, cuis::SamplerKind::predicted})
    benchmark::RegisterBenchmark("BM_TrainerStep", BM_TrainerStep)
        ->Args({static_cast<int64_t>(k), 1, 0})
        ->Args({static_cast<int64_t>(k), 0, 0})
        ->Args({static_cast<int64_t>(k), 1, 1})
        ->ArgNames({"sampler", "graph", "tf32"})
        ->Iterations(20)
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
}

// Device set-up: the data, the GEMM floor, the context; false on failure.
bool set_up() {
  cudaStreamCreate(&g_stream);
  cudaEventCreate(&g_start);
  cudaEventCreate(&g_stop);
  std::vector<float> x(ROWS * FEATURES);
  std::vector<int32_t> labels(ROWS);
  std::mt19937_64 g(1);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (auto& v : x) v = u(g);
  for (auto& l : labels) l = static_cast<int32_t>(g() % CLASSES);
  g_split.train = cuis::Dataset{"bench", ROWS, FEATURES, CLASSES, x, labels};
  g_split.test = cuis::Dataset{"bench-test",
                               1000,
                               FEATURES,
                               CLASSES,
                               std::vector<float>(x.begin(), x.begin() + 1000 * FEATURES),
                               std::vector<int32_t>(labels.begin(), labels.begin() + 1000)};
  if (g_x.resize(x.size()) != cuis::Error::success || g_labels.resize(labels.size()) != cuis::Error::success ||
      cudaMemcpy(g_x.data(), x.data(), x.size() * 4, cudaMemcpyHostToDevice) != cudaSuccess ||
      cudaMemcpy(g_labels.data(), labels.data(), labels.size() * 4, cudaMemcpyHostToDevice) != cudaSuccess ||
      !measure_gemm()) {
    std::printf("cuis_bench_trainer: set-up failed\n");
    return false;
  }
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, 0);
  benchmark::AddCustomContext("device", prop.name);
  benchmark::AddCustomContext("fp32_gemm_TFLOPs", std::to_string(g_gemm_flops / 1e12));
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  return cuis_bench::run(argc, argv, "cuis_bench_trainer", set_up, register_all, [] {
    g_x.release();
    g_labels.release();
  });
}
