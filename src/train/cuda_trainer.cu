// The CUDA training engine: the loop of cuis/trainer.h with every array on the
// device and no host round trip per step (the host only enqueues; stats() is
// the one place that waits). Nothing a step enqueues depends on host state:
// the step count, the RNG offsets, warm-up and the tau switch live in
// LoopDevice, so one step is captured in a CUDA graph (unless
// TrainConfig::cuda_graph is off) and replayed for every later step.
#include <algorithm>
#include <cmath>
#include <string>

#include "core/cuda_check.h"
#include "cuis/train/predictor_features.h"
#include "cuis/device_buffer.h"
#include "cuis/mlp.h"
#include "cuis/sampler.h"
#include "train/trainer_common.h"
#include "train/trainer_state.h"

namespace cuis {

using detail::set_error;

namespace {

constexpr int THREADS = 256;

struct LoopDevice {
  double batch_loss, mean_loss, tau;
  float mean_loss_f;  // what the sampler's adaptive smoothing reads
  int tau_seen, importance;
  unsigned long long step;
  int failed;         // a stage reported a problem: the loop kernels stop changing state
  int reserved;
  RngState candidates, draws;  // this step's streams: offsets step * (uniform draws per step) and step * B
};

// The loop state after `step` steps (the RNG offsets follow from the step and
// the uniform draws per step).
LoopDevice loop_at(const TrainerStats& s, bool tau_seen, const detail::RunSeeds& seeds, int64_t draws, int64_t b) {
  return LoopDevice{s.batch_loss, s.mean_loss, s.tau, static_cast<float>(s.mean_loss), tau_seen ? 1 : 0,
                    s.importance ? 1 : 0, s.step, 0, 0, RngState{seeds.candidates, s.step * static_cast<uint64_t>(draws)},
                    RngState{seeds.draws, s.step * static_cast<uint64_t>(b)}};
}

// Copies a stage's status into the run's first error (once), and marks the
// loop failed. Called by one thread of the loop kernels that follow a stage.
__device__ void merge_status(const DeviceStatus* stage, DeviceStatus* first, LoopDevice* loop) {
  if (stage->code == Error::success || loop->failed) return;
  *first = *stage;
  loop->failed = 1;
}

// After scoring (whose status it merges, when given): tau of the candidate
// scores, its running mean, and whether this step samples by importance.
__global__ void tau_kernel(const float* scores, int64_t p, const DeviceStatus* score_status, DeviceStatus* first,
                           LoopDevice* loop, int64_t warmup, float tau_th) {
  __shared__ double s1[THREADS], s2[THREADS];
  if (threadIdx.x == 0 && score_status) merge_status(score_status, first, loop);
  __syncthreads();
  if (loop->failed) return;
  double a = 0.0, b = 0.0;
  for (int64_t i = threadIdx.x; i < p; i += THREADS) {
    a += scores[i];
    b += static_cast<double>(scores[i]) * scores[i];
  }
  s1[threadIdx.x] = a;
  s2[threadIdx.x] = b;
  __syncthreads();
  for (int stride = THREADS / 2; stride > 0; stride /= 2) {
    if (static_cast<int>(threadIdx.x) < stride) {
      s1[threadIdx.x] += s1[threadIdx.x + stride];
      s2[threadIdx.x] += s2[threadIdx.x + stride];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    const double tau = detail::tau_from_sums(s1[0], s2[0], static_cast<double>(p));
    loop->tau = loop->tau_seen ? 0.9 * loop->tau + 0.1 * tau : tau;
    loop->tau_seen = 1;
    loop->importance = static_cast<int64_t>(loop->step) >= warmup && (tau_th <= 0.0f || loop->tau > tau_th);
  }
}

// Without importance sampling this step (warm-up, or tau below the threshold),
// the batch is the step's first uniform draws, weight 1.
__global__ void choose_kernel(const int64_t* uniform, int64_t draws, int64_t* idx, float* w, int64_t b,
                              const LoopDevice* loop) {
  if (loop->importance) return;
  for (int64_t j = static_cast<int64_t>(blockIdx.x) * THREADS + threadIdx.x; j < b; j += static_cast<int64_t>(gridDim.x) * THREADS) {
    idx[j] = uniform[j % draws];
    w[j] = 1.0f;
  }
}

// After the training step: merges the sampler's status (when this step's batch
// came from it) and the training status, in that order; then the batch's mean
// loss, the running mean, the step count and the next step's RNG offsets.
__global__ void batch_mean_kernel(const float* loss, int64_t b, int64_t draws, const DeviceStatus* sample_status,
                                  const DeviceStatus* train_status, DeviceStatus* first, LoopDevice* loop) {
  __shared__ double s[THREADS];
  if (threadIdx.x == 0) {
    if (sample_status && loop->importance) merge_status(sample_status, first, loop);
    merge_status(train_status, first, loop);
  }
  __syncthreads();
  if (loop->failed) return;
  double a = 0.0;
  for (int64_t i = threadIdx.x; i < b; i += THREADS) a += loss[i];
  s[threadIdx.x] = a;
  __syncthreads();
  for (int stride = THREADS / 2; stride > 0; stride /= 2) {
    if (static_cast<int>(threadIdx.x) < stride) s[threadIdx.x] += s[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    const double mean = s[0] / static_cast<double>(b);
    loop->mean_loss = loop->step == 0 ? mean : 0.9 * loop->mean_loss + 0.1 * mean;
    loop->mean_loss_f = static_cast<float>(loop->mean_loss);
    loop->batch_loss = mean;
    ++loop->step;
    loop->candidates.offset = loop->step * static_cast<uint64_t>(draws);
    loop->draws.offset = loop->step * static_cast<uint64_t>(b);
  }
}

// Rows outside [0, n) (a failed draw's -1) give NaN features, which the
// predictor's own checks report; nothing is read out of bounds. With `last`
// (the batch's features), also records in last[r] the last batch position
// holding row r, for history_kernel.
__global__ void features_kernel(const int64_t* rows, int64_t count, int64_t n, const float* history,
                                const int32_t* seen, const int32_t* labels, int32_t h, int32_t f, float* out,
                                int32_t* last) {
  const int64_t total = count * f;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * THREADS + threadIdx.x; e < total; e += static_cast<int64_t>(gridDim.x) * THREADS) {
    const int64_t j = e / f, r = rows[j];
    const bool valid = r >= 0 && r < n;
    const int32_t k = static_cast<int32_t>(e - j * f);
    out[e] = valid ? detail::predictor_feature(history + r * h, seen[r], labels[r], h, k) : NAN;
    if (last && valid && k == 0) atomicMax(last + r, static_cast<int32_t>(j));
  }
}

__global__ void clamp_kernel(const float* pred, int64_t n, float* scores) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * THREADS + threadIdx.x; i < n; i += static_cast<int64_t>(gridDim.x) * THREADS)
    scores[i] = isfinite(pred[i]) ? fmaxf(pred[i], 0.0f) + 1e-6f : pred[i];
}

// After the predictor's step (whose status it merges): the new losses into the
// histories; a row drawn twice takes its last occurrence, the position that
// features_kernel left in last[r], which goes back to -1 here. Every thread
// reads the predictor's status itself, so no thread depends on the merge.
__global__ void history_kernel(const int64_t* idx, int64_t b, int64_t n, const float* loss, float* history, int32_t* seen,
                               int32_t h, int32_t* last, const DeviceStatus* predictor_status, DeviceStatus* first,
                               LoopDevice* loop) {
  if (blockIdx.x == 0 && threadIdx.x == 0) merge_status(predictor_status, first, loop);
  const bool failed = loop->failed || predictor_status->code != Error::success;
  for (int64_t j = static_cast<int64_t>(blockIdx.x) * THREADS + threadIdx.x; j < b; j += static_cast<int64_t>(gridDim.x) * THREADS) {
    const int64_t r = idx[j];
    if (r < 0 || r >= n || last[r] != static_cast<int32_t>(j)) continue;
    last[r] = -1;  // the other positions of row r compare against their own j, never -1
    if (failed) continue;
    float* hist = history + r * h;
    for (int32_t i = 0; i + 1 < h; ++i) hist[i] = hist[i + 1];
    hist[h - 1] = loss[j];
    seen[r] = min(seen[r] + 1, h);
  }
}

#define TRY(expr)                               \
  do {                                          \
    const Error e_ = (expr);                    \
    if (e_ != Error::success) return e_;        \
  } while (0)

template <class T>
Error upload(DeviceBuffer<T>* d, const std::vector<T>& h) {
  TRY(d->resize(h.size()));
  CUIS_CUDA_TRY(cudaMemcpy(d->data(), h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice));
  return Error::success;
}

unsigned blocks(int64_t n) { return static_cast<unsigned>(std::min<int64_t>(1024, (n + THREADS - 1) / THREADS)); }

// Owns the engine's stream; declared first in CudaTrainer so that it is
// destroyed last, after the networks whose cuBLAS handles are bound to it.
struct StreamHolder {
  cudaStream_t stream = nullptr;
  ~StreamHolder() {
    if (stream) cudaStreamDestroy(stream);
  }
};

// The captured step. Its kernels read the loop state from device memory, but
// the networks' optimizer settings are captured by value: load() drops it.
struct GraphHolder {
  cudaGraphExec_t exec = nullptr;
  explicit operator bool() const { return exec != nullptr; }
  operator cudaGraphExec_t() const { return exec; }
  void reset() {
    if (exec) cudaGraphExecDestroy(exec);
    exec = nullptr;
  }
  ~GraphHolder() { reset(); }
};

class CudaTrainer final : public Trainer {
 public:
  CudaTrainer(const TrainConfig& c, const DataSplit* d) : m_cfg(c), m_data(d), m_seeds(detail::run_seeds(c.seed)) {}

  Error init() {
    CUIS_CUDA_TRY(cudaStreamCreateWithFlags(&m_holder.stream, cudaStreamNonBlocking));
    m_stream = m_holder.stream;
    const Dataset& tr = m_data->train;
    const int64_t p = detail::candidates_per_step(m_cfg, tr.rows);
    TRY(upload(&m_x, tr.x));
    TRY(upload(&m_labels, tr.labels));
    TRY(upload(&m_test_x, m_data->test.x));
    TRY(upload(&m_test_labels, m_data->test.labels));
    const int64_t max_batch = std::max<int64_t>(m_cfg.batch, std::min<int64_t>(p, 8192));
    TRY(m_main.init(detail::main_shape(m_cfg, tr), m_cfg.optimizer, max_batch, m_seeds.init, m_cfg.math));
    if (detail::whole_set(m_cfg)) {  // the candidates are rows 0..N-1 for good
      std::vector<int64_t> rows(static_cast<size_t>(p));
      for (int64_t i = 0; i < p; ++i) rows[i] = i;
      TRY(upload(&m_cand, rows));
      TRY(m_uniform.resize(m_cfg.batch));
    } else {
      TRY(m_cand.resize(p));
    }
    TRY(m_scores.resize(p));
    TRY(m_norms.resize(p));
    TRY(m_idx.resize(m_cfg.batch));
    TRY(m_w.resize(m_cfg.batch));
    TRY(m_batch_loss.resize(m_cfg.batch));
    TRY(m_loop.resize(1));
    TRY(m_sample_status.resize(1));
    TRY(m_score_status.resize(1));
    TRY(m_first_error.resize(1));
    const LoopDevice start = loop_at(TrainerStats{}, false, m_seeds, detail::uniform_draws_per_step(m_cfg, tr.rows), m_cfg.batch);
    CUIS_CUDA_TRY(cudaMemcpy(m_loop.data(), &start, sizeof start, cudaMemcpyHostToDevice));
    CUIS_CUDA_TRY(cudaMemset(m_sample_status.data(), 0, sizeof(DeviceStatus)));  // code 0: success
    CUIS_CUDA_TRY(cudaMemset(m_score_status.data(), 0, sizeof(DeviceStatus)));
    CUIS_CUDA_TRY(cudaMemset(m_first_error.data(), 0, sizeof(DeviceStatus)));
    if (m_cfg.sampler != SamplerKind::uniform) {
      SampleOptions o = detail::sample_options(m_cfg, m_seeds.draws, 0, 0.0f);
      size_t bytes = 0;
      TRY(sample_workspace_size(p, m_cfg.batch, o, &bytes));
      TRY(m_ws.resize(bytes));
    }
    if (m_cfg.sampler == SamplerKind::predicted) {
      const MlpShape ps = detail::predictor_shape(m_cfg, tr);
      // The predictor is small: it scores up to 2^16 candidates per chunk
      // (Fashion-MNIST's whole training set in one).
      TRY(m_predictor.init(ps, OptimizerConfig{}, std::max<int64_t>(m_cfg.batch, std::min<int64_t>(p, 1 << 16)),
                           m_seeds.predictor_init, m_cfg.math));
      TRY(m_history.resize(static_cast<size_t>(tr.rows) * m_cfg.history));
      TRY(m_seen.resize(tr.rows));
      TRY(m_features.resize(static_cast<size_t>(std::max(p, m_cfg.batch)) * ps.sizes[0]));
      TRY(m_pred.resize(p));
      TRY(m_last.resize(tr.rows));
      CUIS_CUDA_TRY(cudaMemset(m_last.data(), 0xff, m_last.bytes()));  // -1: no batch position
      CUIS_CUDA_TRY(cudaMemset(m_history.data(), 0, m_history.bytes()));
      CUIS_CUDA_TRY(cudaMemset(m_seen.data(), 0, m_seen.bytes()));
    }
    CUIS_CUDA_TRY(cudaDeviceSynchronize());
    return set_error(Error::success, "");
  }

  // The first step after init() or load() runs eagerly (loading every
  // module outside a capture); the next one is captured, and replayed from then on.
  Error step() override {
    if (!m_cfg.cuda_graph || !m_ran_eagerly) {
      TRY(enqueue_step());
      m_ran_eagerly = true;
      return set_error(Error::success, "");
    }
    if (!m_graph) TRY(capture_step());
    CUIS_CUDA_TRY(cudaGraphLaunch(m_graph, m_stream));
    return set_error(Error::success, "");
  }

  // The first problem any stage reported (scoring, sampling, training, the
  // predictor) fails the run here, as the CPU engine's step() would have.
  Error stats(TrainerStats* out) override {
    LoopDevice l{};
    TRY(read_loop(&l));
    DeviceStatus first{};
    CUIS_CUDA_TRY(cudaMemcpyAsync(&first, m_first_error.data(), sizeof first, cudaMemcpyDeviceToHost, m_stream));
    CUIS_CUDA_TRY(cudaStreamSynchronize(m_stream));
    if (first.code != Error::success)
      return set_error(first.code, "step " + std::to_string(l.step) + ": " + describe(first));
    *out = TrainerStats{l.step, l.batch_loss, l.mean_loss, l.tau, l.importance != 0};
    return set_error(Error::success, "");
  }

  Error evaluate(bool test_split, double* loss, double* error_rate) override {
    const Dataset& d = test_split ? m_data->test : m_data->train;
    return m_main.evaluate(test_split ? m_test_x.data() : m_x.data(), d.rows,
                           test_split ? m_test_labels.data() : m_labels.data(), nullptr, loss, error_rate, m_stream);
  }

  const char* engine() const override { return "cuda"; }

  Error save(const std::string& path) override {
    detail::LoopState s;
    Checkpoint main;
    TRY(m_main.checkpoint(&main, m_stream));
    TRY(stats(&s.stats));
    LoopDevice l{};
    TRY(read_loop(&l));
    s.tau_seen = l.tau_seen != 0;
    s.has_predictor = m_cfg.sampler == SamplerKind::predicted;
    if (s.has_predictor) {
      TRY(m_predictor.checkpoint(&s.predictor, m_stream));
      s.history.resize(m_history.size());
      s.seen.resize(m_seen.size());
      CUIS_CUDA_TRY(cudaMemcpyAsync(s.history.data(), m_history.data(), m_history.bytes(), cudaMemcpyDeviceToHost, m_stream));
      CUIS_CUDA_TRY(cudaMemcpyAsync(s.seen.data(), m_seen.data(), m_seen.bytes(), cudaMemcpyDeviceToHost, m_stream));
      CUIS_CUDA_TRY(cudaStreamSynchronize(m_stream));
    }
    TRY(write_checkpoint(path, main));
    return detail::write_loop_state(path + ".trainer", s);
  }

  Error load(const std::string& path) override {
    Checkpoint main;
    detail::LoopState s;
    TRY(read_checkpoint(path, &main));
    TRY(detail::read_loop_state(path + ".trainer", &s));
    const bool predicted = m_cfg.sampler == SamplerKind::predicted;
    if (s.has_predictor != predicted ||
        (predicted && (s.history.size() != m_history.size() || s.seen.size() != m_seen.size())))
      return set_error(Error::shape_mismatch, path + ": saved by a run with another sampler or dataset");
    // Everything is checked before anything changes.
    auto same = [](const Checkpoint& c, const MlpShape& shape) {
      return c.shape.sizes == shape.sizes && c.shape.activation == shape.activation && c.shape.loss == shape.loss;
    };
    if (!same(main, m_main.shape()) || (predicted && !same(s.predictor, m_predictor.shape())))
      return set_error(Error::shape_mismatch, path + ": saved by a run with another network");
    // The captured step holds the optimizer settings by value, and restore()
    // takes the checkpoint's: capture again after the next (eager) step.
    m_graph.reset();
    m_ran_eagerly = false;
    TRY(m_main.restore(main, m_stream));
    if (predicted) {
      TRY(m_predictor.restore(s.predictor, m_stream));
      CUIS_CUDA_TRY(cudaMemcpyAsync(m_history.data(), s.history.data(), m_history.bytes(), cudaMemcpyHostToDevice, m_stream));
      CUIS_CUDA_TRY(cudaMemcpyAsync(m_seen.data(), s.seen.data(), m_seen.bytes(), cudaMemcpyHostToDevice, m_stream));
      CUIS_CUDA_TRY(cudaMemsetAsync(m_last.data(), 0xff, m_last.bytes(), m_stream));
    }
    // A uniform run never samples by importance, whatever the saved run did.
    const bool importance = s.stats.importance && m_cfg.sampler != SamplerKind::uniform;
    TrainerStats saved = s.stats;
    saved.importance = importance;
    const LoopDevice l = loop_at(saved, s.tau_seen, m_seeds, detail::uniform_draws_per_step(m_cfg, m_data->train.rows),
                                 m_cfg.batch);
    CUIS_CUDA_TRY(cudaMemcpyAsync(m_loop.data(), &l, sizeof l, cudaMemcpyHostToDevice, m_stream));
    CUIS_CUDA_TRY(cudaMemsetAsync(m_first_error.data(), 0, sizeof(DeviceStatus), m_stream));
    CUIS_CUDA_TRY(cudaStreamSynchronize(m_stream));  // the host values above live on this stack frame
    return set_error(Error::success, "");
  }

 private:
  Error read_loop(LoopDevice* l) {
    CUIS_CUDA_TRY(cudaMemcpyAsync(l, m_loop.data(), sizeof *l, cudaMemcpyDeviceToHost, m_stream));
    CUIS_CUDA_TRY(cudaStreamSynchronize(m_stream));
    return Error::success;
  }

  // One step's work, enqueued; the same launches with the same arguments at
  // every step, so that a graph of it can replay any step.
  Error enqueue_step() {
    const Dataset& tr = m_data->train;
    const int64_t p = detail::candidates_per_step(m_cfg, tr.rows), b = m_cfg.batch;
    const int64_t draws = detail::uniform_draws_per_step(m_cfg, tr.rows);
    const cudaStream_t st = m_stream;
    LoopDevice* loop = m_loop.data();
    const bool scoring = m_cfg.sampler != SamplerKind::uniform;
    // The step's uniform draws: a uniform run's batch, the candidates, or
    // (whole set as candidates) the batch used when not sampling by importance.
    int64_t* uniform = !scoring ? m_idx.data() : detail::whole_set(m_cfg) ? m_uniform.data() : m_cand.data();
    TRY(uniform_indices(uniform, draws, tr.rows, RngState{}, &loop->candidates, false, st));
    if (scoring) {
      TRY(score_candidates(p));
      const bool has_status = m_cfg.sampler != SamplerKind::predicted;
      tau_kernel<<<1, THREADS, 0, st>>>(m_scores.data(), p, has_status ? m_score_status.data() : nullptr,
                                        m_first_error.data(), loop, m_cfg.warmup, m_cfg.tau_th);
      CUIS_LAUNCH_CHECK(st);
      // Drawn at every step, warm-up included (a graph has no host branch);
      // choose_kernel replaces the batch when this step is not by importance.
      SampleOptions o = detail::sample_options(m_cfg, m_seeds.draws, 0, 0.0f);
      o.d_mean_loss = &loop->mean_loss_f;
      o.d_rng = &loop->draws;
      o.advance_rng = false;  // batch_mean_kernel sets the next step's offset
      const SampleArgs a{m_scores.data(), p, m_cand.data(), b, m_idx.data(), m_w.data(), m_sample_status.data()};
      TRY(sample(a, o, m_ws.data(), m_ws.bytes(), st));
      choose_kernel<<<blocks(b), THREADS, 0, st>>>(uniform, draws, m_idx.data(), m_w.data(), b, loop);
      CUIS_LAUNCH_CHECK(st);
    }
    TrainBatch tb;
    tb.data = m_x.data();
    tb.rows = tr.rows;
    tb.labels = m_labels.data();
    tb.indices = m_idx.data();
    tb.weights = scoring ? m_w.data() : nullptr;
    tb.batch = b;
    tb.loss = m_batch_loss.data();
    TRY(m_main.train_step(tb, st));
    batch_mean_kernel<<<1, THREADS, 0, st>>>(m_batch_loss.data(), b, draws, scoring ? m_sample_status.data() : nullptr,
                                             m_main.status(), m_first_error.data(), loop);
    CUIS_LAUNCH_CHECK(st);
    if (m_cfg.sampler == SamplerKind::predicted) {
      const Error e = learn_losses();
      // A launch that failed between features_kernel and history_kernel may
      // leave batch positions in m_last; clear them for whatever comes next.
      if (e != Error::success) {
        (void)cudaMemsetAsync(m_last.data(), 0xff, m_last.bytes(), st);
        return e;
      }
    }
    return set_error(Error::success, "");
  }

  // Captures enqueue_step() into m_graph. A failure leaves no capture open.
  // The error names the way around it (TrainConfig::cuda_graph = false).
  Error capture_step() {
    Error e = Error::success;
    cudaGraph_t graph = nullptr;
    const cudaError_t began = cudaStreamBeginCapture(m_stream, cudaStreamCaptureModeThreadLocal);
    if (began == cudaSuccess) {
      e = enqueue_step();
      const cudaError_t ended = cudaStreamEndCapture(m_stream, &graph);  // ends it even when a stage failed
      if (e == Error::success && ended != cudaSuccess)
        e = detail::cuda_failure(ended, "cudaStreamEndCapture", __FILE__, __LINE__);
      if (e == Error::success) {
        const cudaError_t made = cudaGraphInstantiate(&m_graph.exec, graph, 0);
        if (made != cudaSuccess) e = detail::cuda_failure(made, "cudaGraphInstantiate", __FILE__, __LINE__);
      }
      if (graph) cudaGraphDestroy(graph);
    } else {
      e = detail::cuda_failure(began, "cudaStreamBeginCapture", __FILE__, __LINE__);
    }
    if (e == Error::success) return set_error(Error::success, "");
    (void)cudaGetLastError();
    return set_error(e, "capturing the training step in a CUDA graph: " + last_error_message() +
                            " (TrainConfig::cuda_graph = false / cuis-train --graph off runs without one)");
  }

  Error score_candidates(int64_t p) {
    const Dataset& tr = m_data->train;
    if (m_cfg.sampler == SamplerKind::predicted) {
      const int32_t f = m_predictor.shape().sizes[0];
      features_kernel<<<blocks(p * f), THREADS, 0, m_stream>>>(m_cand.data(), p, tr.rows, m_history.data(),
                                                              m_seen.data(), m_labels.data(), m_cfg.history, f,
                                                              m_features.data(), nullptr);
      CUIS_LAUNCH_CHECK(m_stream);
      TRY(m_predictor.predict(m_features.data(), p, nullptr, p, m_pred.data(), m_stream));
      clamp_kernel<<<blocks(p), THREADS, 0, m_stream>>>(m_pred.data(), p, m_scores.data());
      CUIS_LAUNCH_CHECK(m_stream);
      return Error::success;
    }
    float* loss = m_cfg.sampler == SamplerKind::loss ? m_scores.data() : m_norms.data();
    float* norm = m_cfg.sampler == SamplerKind::loss ? m_norms.data() : m_scores.data();
    return m_main.score(m_x.data(), tr.rows, m_labels.data(), nullptr, m_cand.data(), p, loss, norm,
                        m_score_status.data(), m_stream);
  }

  Error learn_losses() {
    const int64_t b = m_cfg.batch;
    const int32_t f = m_predictor.shape().sizes[0];
    features_kernel<<<blocks(b * f), THREADS, 0, m_stream>>>(m_idx.data(), b, m_data->train.rows, m_history.data(),
                                                            m_seen.data(), m_labels.data(), m_cfg.history, f,
                                                            m_features.data(), m_last.data());
    CUIS_LAUNCH_CHECK(m_stream);
    TrainBatch pb;
    pb.data = m_features.data();
    pb.rows = b;
    pb.targets = m_batch_loss.data();
    pb.batch = b;
    TRY(m_predictor.train_step(pb, m_stream));
    history_kernel<<<blocks(b), THREADS, 0, m_stream>>>(m_idx.data(), b, m_data->train.rows, m_batch_loss.data(),
                                                       m_history.data(), m_seen.data(), m_cfg.history, m_last.data(),
                                                       m_predictor.status(), m_first_error.data(), m_loop.data());
    CUIS_LAUNCH_CHECK(m_stream);
    return Error::success;
  }

  StreamHolder m_holder;  // first: destroyed last
  TrainConfig m_cfg;
  const DataSplit* m_data;
  detail::RunSeeds m_seeds;
  cudaStream_t m_stream = nullptr;
  bool m_ran_eagerly = false;  // a step ran since init() / load(): the next may be captured
  Mlp m_main, m_predictor;
  DeviceBuffer<float> m_x, m_test_x, m_scores, m_norms, m_w, m_batch_loss, m_history, m_features, m_pred;
  DeviceBuffer<int32_t> m_labels, m_test_labels, m_seen, m_last;
  DeviceBuffer<int64_t> m_cand, m_idx, m_uniform;
  DeviceBuffer<LoopDevice> m_loop;
  DeviceBuffer<DeviceStatus> m_sample_status, m_score_status, m_first_error;
  DeviceBuffer<char> m_ws;
  GraphHolder m_graph;  // last: destroyed first
};

}  // namespace

Error make_cuda_trainer(const TrainConfig& config, const DataSplit* data, std::unique_ptr<Trainer>* out) {
  if (!data || !out) return set_error(Error::null_pointer, "make_cuda_trainer: data and out are required");
  TRY(detail::check_config(config, *data));
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    (void)cudaGetLastError();
    return set_error(Error::no_device, "no CUDA device is available");
  }
  auto t = std::make_unique<CudaTrainer>(config, data);
  TRY(t->init());
  *out = std::move(t);
  return set_error(Error::success, "");
}

}  // namespace cuis
