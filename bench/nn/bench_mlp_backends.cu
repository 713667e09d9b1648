// BM_MlpStep: the time of one cuis::Mlp::train_step (gather of the batch from
// device-resident data by precomputed random indices, forward, loss, backward,
// Adam) per dense-layer backend (cuBLAS, cuBLASLt, cuDNN) at the trainer's
// shapes: 784-512-512-10 (cross-entropy) at batch 128 and 1024, and the loss
// predictor (predictor_features(10, 10)-32-32-1, squared error) at batch 128;
// FP32 and TF32; enqueued and replayed from CUDA graphs. Each run's label is
// the backend actually in use (a backend that cannot run falls back to cuBLAS
// at init, and the label says why); the main shapes also report the ratio to
// the GEMM floor (bench/gemm_floor.h, FP32 or TF32 as the run). Prints the
// cuDNN backend's note (the cuDNN library and version loaded) once at start.
// bench/nn/torch_mlp.py is PyTorch's same steps. Exits 0 with a message
// without a GPU.
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "bench/bench_device.h"
#include "bench/gemm_floor.h"
#include "bench/step_timing.h"
#include "cuis/device_buffer.h"
#include "cuis/mlp.h"
#include "cuis/train/predictor_features.h"

namespace {

using cuis::DeviceBuffer;

constexpr int64_t ROWS = 60000, CLASSES = 10, PRED_ROWS = 65536, BATCHES = 64;
constexpr int STEPS = 50;  // steps timed per benchmark iteration
constexpr int GRAPHS = 4;  // captured steps (batch slots) replayed in turn

struct Case {
  const char* name;  // "main" or "predictor"
  int64_t batch;
  std::vector<int32_t> sizes;
  cuis::LossKind loss;
};
std::vector<Case> cases() {
  const int32_t pf = cuis::detail::predictor_features(10, 10);
  return {{"main", 128, {784, 512, 512, 10}, cuis::LossKind::cross_entropy},
          {"main", 1024, {784, 512, 512, 10}, cuis::LossKind::cross_entropy},
          {"predictor", 128, {pf, 32, 32, 1}, cuis::LossKind::squared_error}};
}
const cuis::MlpBackend BACKENDS[] = {cuis::MlpBackend::cublas, cuis::MlpBackend::cublaslt, cuis::MlpBackend::cudnn};

cudaStream_t g_stream;
cudaEvent_t g_start, g_stop;
double g_gemm_flops[2] = {0.0, 0.0};       // cublasSgemm FLOP/s: FP32, TF32
DeviceBuffer<float> g_x, g_px, g_targets;  // main features; predictor features and targets
DeviceBuffer<int32_t> g_labels;

// One model per (backend, case, math), shared by its enqueued and graph runs
// (one init each: cuDNN's plans take a while to build).
struct Model {
  cuis::Mlp mlp;
  DeviceBuffer<int64_t> indices;  // BATCHES random batches
  std::string label;              // the backend in use, and why where it fell back
};
std::map<std::tuple<int, int, int>, std::unique_ptr<Model>> g_models;
bool g_runs_cudnn = true;  // false: the filter names no cudnn run (no probe of the cuDNN backend)

std::string label_of(const cuis::Mlp& m) {
  const std::string note = m.backend_note();
  if (m.backend() == cuis::MlpBackend::cublas && !note.empty()) {  // "<asked> cannot run this model, using cublas: why"
    const size_t at = note.find("using cublas: ");
    const std::string why = at == std::string::npos ? note : note.substr(at + 14);
    return std::string("cublas (fallback: ") + why.substr(0, 60) + ")";
  }
  return cuis::backend_name(m.backend());
}

// The model of (backend, case, math), made on first use; null after SkipWithError.
Model* model(int backend, int c, int math, benchmark::State& state) {
  auto& slot = g_models[{backend, c, math}];
  if (slot) return slot.get();
  const Case k = cases()[c];
  auto m = std::make_unique<Model>();
  cuis::MlpOptions o;
  o.math = math ? cuis::Math::tf32 : cuis::Math::fp32;
  o.backend = BACKENDS[backend];
  o.batch_sizes = {k.batch};
  if (m->mlp.init({k.sizes, cuis::Activation::relu, k.loss}, {}, k.batch, 1, o) != cuis::Error::success) {
    state.SkipWithError(cuis::last_error_message().c_str());
    return nullptr;
  }
  const int64_t rows = k.loss == cuis::LossKind::cross_entropy ? ROWS : PRED_ROWS;
  std::vector<int64_t> idx(k.batch * BATCHES);
  std::mt19937_64 g(3);
  for (auto& i : idx) i = static_cast<int64_t>(g() % rows);
  if (m->indices.resize(idx.size()) != cuis::Error::success ||
      cudaMemcpy(m->indices.data(), idx.data(), idx.size() * 8, cudaMemcpyHostToDevice) != cudaSuccess) {
    state.SkipWithError("upload failed");
    return nullptr;
  }
  m->label = label_of(m->mlp);
  slot = std::move(m);
  return slot.get();
}

cuis::TrainBatch batch_at(const Model& m, const Case& k, int64_t slot) {
  cuis::TrainBatch b;
  if (k.loss == cuis::LossKind::cross_entropy) {
    b.data = g_x.data();
    b.rows = ROWS;
    b.labels = g_labels.data();
  } else {
    b.data = g_px.data();
    b.rows = PRED_ROWS;
    b.targets = g_targets.data();
  }
  b.indices = m.indices.data() + (slot % BATCHES) * k.batch;
  b.batch = k.batch;
  return b;
}

// Args: backend (MlpBackend), case (index into cases()), tf32, graph.
void BM_MlpStep(benchmark::State& state, int backend, int c, int tf32, int graph) {
  const Case k = cases()[c];
  Model* m = model(backend, c, tf32, state);
  if (!m) return;
  for (int s = 0; s < 3; ++s)  // warm-up: loads the kernels, builds lazy plans
    if (m->mlp.train_step(batch_at(*m, k, s), g_stream) != cuis::Error::success) {
      state.SkipWithError(cuis::last_error_message().c_str());
      return;
    }
  double seconds = -1.0;
  if (graph) {
    std::vector<cudaGraphExec_t> execs;
    if (cuis_bench::capture_steps(
            state, m->mlp, g_stream, GRAPHS, [&](int s) { return batch_at(*m, k, s); }, &execs)) {
      for (auto exec : execs) cudaGraphLaunch(exec, g_stream);
      seconds = cuis_bench::time_steps(state, g_stream, g_start, g_stop, STEPS, [&](int s) {
        return cudaGraphLaunch(execs[s % GRAPHS], g_stream) == cudaSuccess;
      });
    }
    for (auto exec : execs) cudaGraphExecDestroy(exec);
  } else {
    seconds = cuis_bench::time_steps(state, g_stream, g_start, g_stop, STEPS, [&](int s) {
      return m->mlp.train_step(batch_at(*m, k, s), g_stream) == cuis::Error::success;
    });
  }
  if (seconds <= 0.0) return;
  state.SetLabel(m->label);
  state.counters["us_per_step"] = seconds * 1e6;
  state.counters["samples_per_s"] = static_cast<double>(k.batch) / seconds;
  state.counters["backend_in_use"] = static_cast<double>(m->mlp.backend());
  if (std::string(k.name) == "main" && g_gemm_flops[tf32] > 0.0) {
    const double floor = cuis_bench::mlp_step_flops(k.sizes, k.batch) / g_gemm_flops[tf32];
    state.counters["gemm_floor_us"] = floor * 1e6;
    state.counters["x_gemm_floor"] = seconds / floor;
  }
}

void register_all() {
  const std::vector<Case> cs = cases();
  for (int c = 0; c < static_cast<int>(cs.size()); ++c)
    for (int tf32 : {0, 1})
      for (int graph : {0, 1})
        for (int b = 0; b < 3; ++b) {
          // BM_MlpStep/backend:cudnn/shape:main/batch:1024/math:tf32/mode:graph
          const std::string name = std::string("BM_MlpStep/backend:") + cuis::backend_name(BACKENDS[b]) +
                                   "/shape:" + cs[c].name + "/batch:" + std::to_string(cs[c].batch) +
                                   "/math:" + (tf32 ? "tf32" : "fp32") + "/mode:" + (graph ? "graph" : "enqueued");
          // Fixed iteration counts: the reported time is per step, so --benchmark_min_time would mean STEPS times
          // the wall time.
          benchmark::RegisterBenchmark(name.c_str(), BM_MlpStep, b, c, tf32, graph)
              ->Iterations(10)
              ->UseManualTime()
              ->Unit(benchmark::kMicrosecond);
        }
}

// Random data on the device, the GEMM floors, and the cuDNN note; false on failure.
bool set_up() {
  cudaStreamCreate(&g_stream);
  cudaEventCreate(&g_start);
  cudaEventCreate(&g_stop);
  const int32_t pf = cuis::detail::predictor_features(10, 10);
  std::vector<float> x(ROWS * 784), px(PRED_ROWS * pf), targets(PRED_ROWS);
  std::vector<int32_t> labels(ROWS);
  std::mt19937_64 g(1);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (auto& v : x) v = u(g);
  for (auto& v : px) v = u(g);
  for (auto& v : targets) v = u(g);
  for (auto& l : labels) l = static_cast<int32_t>(g() % CLASSES);
  const bool ok =
      g_x.resize(x.size()) == cuis::Error::success && g_px.resize(px.size()) == cuis::Error::success &&
      g_targets.resize(targets.size()) == cuis::Error::success &&
      g_labels.resize(labels.size()) == cuis::Error::success &&
      cudaMemcpy(g_x.data(), x.data(), x.size() * 4, cudaMemcpyHostToDevice) == cudaSuccess &&
      cudaMemcpy(g_px.data(), px.data(), px.size() * 4, cudaMemcpyHostToDevice) == cudaSuccess &&
      cudaMemcpy(g_targets.data(), targets.data(), targets.size() * 4, cudaMemcpyHostToDevice) == cudaSuccess &&
      cudaMemcpy(g_labels.data(), labels.data(), labels.size() * 4, cudaMemcpyHostToDevice) == cudaSuccess;
  g_gemm_flops[0] = ok ? cuis_bench::measure_gemm_flops(g_stream, false) : 0.0;
  g_gemm_flops[1] = ok ? cuis_bench::measure_gemm_flops(g_stream, true) : 0.0;
  if (!ok || g_gemm_flops[0] <= 0.0 || g_gemm_flops[1] <= 0.0) {
    std::printf("cuis_bench_mlp: set-up failed: %s\n", cuis::last_error_message().c_str());
    return false;
  }
  // The cuDNN backend's note, once: which libcudnn (path, version) this run loaded, or why it fell back
  // (not in a run whose filter leaves cuDNN out: its graphs may take long to build).
  std::string cudnn = "not asked (the filter leaves the cudnn runs out)";
  cuis::Mlp probe;
  cuis::MlpOptions o;
  o.backend = cuis::MlpBackend::cudnn;
  if (!g_runs_cudnn) {
  } else if (probe.init({{pf, 32, 32, 1}, cuis::Activation::relu, cuis::LossKind::squared_error}, {}, 128, 1, o) ==
             cuis::Error::success)
    cudnn = std::string(cuis::backend_name(probe.backend())) + ": " + probe.backend_note();
  else
    cudnn = "init failed: " + cuis::last_error_message();
  std::printf("cuis_bench_mlp: cudnn backend: %s\n", cudnn.c_str());
  std::fflush(stdout);
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, 0);
  benchmark::AddCustomContext("device", prop.name);
  benchmark::AddCustomContext("fp32_gemm_TFLOPs", std::to_string(g_gemm_flops[0] / 1e12));
  benchmark::AddCustomContext("tf32_gemm_TFLOPs", std::to_string(g_gemm_flops[1] / 1e12));
  benchmark::AddCustomContext("cudnn", cudnn);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)  // a --benchmark_filter that cannot select a cudnn run
    if (std::string(argv[i]).rfind("--benchmark_filter=", 0) == 0)
      g_runs_cudnn = std::string(argv[i]).find("cudnn") != std::string::npos;
  return cuis_bench::run(argc, argv, "cuis_bench_mlp", set_up, register_all, [] {
    g_models.clear();
    g_x.release();
    g_px.release();
    g_targets.release();
    g_labels.release();
  });
}
