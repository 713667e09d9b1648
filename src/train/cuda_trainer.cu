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
#include "core/cuda_handles.h"
#include "cuis/device_buffer.h"
#include "cuis/mlp.h"
#include "cuis/sampler.h"
#include "cuis/train/predictor_features.h"
#include "kernels/train/loop.cuh"
#include "train/graph_capture.h"
#include "train/trainer_common.h"
#include "train/trainer_state.h"

namespace cuis {

using detail::set_error;

namespace {

using detail::GraphHolder;
using detail::StreamHolder;
using kernels::LOOP_THREADS;
using kernels::LoopDevice;

template <class T>
Error upload(DeviceBuffer<T>* d, const std::vector<T>& h) {
  CUIS_TRY(d->resize(h.size()));
  CUIS_CUDA_TRY(cudaMemcpy(d->data(), h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice));
  return Error::success;
}

unsigned blocks(int64_t n) {
  return static_cast<unsigned>(std::min<int64_t>(1024, (n + LOOP_THREADS - 1) / LOOP_THREADS));
}

class CudaTrainer final : public detail::EngineBase {
 public:
  CudaTrainer(const TrainConfig& c, const DataSplit* d) : EngineBase(c, d), m_seeds(detail::run_seeds(c.seed)) {}

  // The networks' math and backend, with plans for the training batch and
  // the last of the chunks that score `scored` rows (0: none), max_batch at a time.
  MlpOptions mlp_options(int64_t max_batch, int64_t scored) const {
    MlpOptions o;
    o.math = m_cfg.math;
    o.backend = m_cfg.backend;
    o.batch_sizes = {std::min(m_cfg.batch, max_batch)};
    if (scored % max_batch != 0) o.batch_sizes.push_back(scored % max_batch);
    return o;
  }

  Error init() {
    CUIS_CUDA_TRY(cudaStreamCreateWithFlags(&m_holder.stream, cudaStreamNonBlocking));
    m_stream = m_holder.stream;
    const Dataset& tr = m_data->train;
    const int64_t p = detail::candidates_per_step(m_cfg, tr.rows);
    CUIS_TRY(upload(&m_x, tr.x));
    CUIS_TRY(upload(&m_labels, tr.labels));
    CUIS_TRY(upload(&m_test_x, m_data->test.x));
    CUIS_TRY(upload(&m_test_labels, m_data->test.labels));
    const int64_t max_batch = std::max<int64_t>(m_cfg.batch, std::min<int64_t>(p, 8192));
    // Plans (cuBLASLt, cuDNN) for the training batch and the last scoring chunk besides max_batch.
    const bool main_scores = m_cfg.sampler == SamplerKind::loss || m_cfg.sampler == SamplerKind::gnorm;
    CUIS_TRY(m_main.init(detail::main_shape(m_cfg, tr), m_cfg.optimizer, max_batch, m_seeds.init,
                         mlp_options(max_batch, main_scores ? p : 0)));
    if (detail::whole_set(m_cfg)) {  // the candidates are rows 0..N-1 for good
      std::vector<int64_t> rows(static_cast<size_t>(p));
      for (int64_t i = 0; i < p; ++i) rows[i] = i;
      CUIS_TRY(upload(&m_cand, rows));
      CUIS_TRY(m_uniform.resize(m_cfg.batch));
    } else {
      CUIS_TRY(m_cand.resize(p));
    }
    CUIS_TRY(m_scores.resize(p));
    CUIS_TRY(m_norms.resize(p));
    CUIS_TRY(m_idx.resize(m_cfg.batch));
    CUIS_TRY(m_w.resize(m_cfg.batch));
    CUIS_TRY(m_batch_loss.resize(m_cfg.batch));
    CUIS_TRY(m_loop.resize(1));
    CUIS_TRY(m_sample_status.resize(1));
    CUIS_TRY(m_score_status.resize(1));
    CUIS_TRY(m_first_error.resize(1));
    const LoopDevice start =
        kernels::loop_at(TrainerStats{}, false, m_seeds, detail::uniform_draws_per_step(m_cfg, tr.rows), m_cfg.batch);
    CUIS_CUDA_TRY(cudaMemcpy(m_loop.data(), &start, sizeof start, cudaMemcpyHostToDevice));
    CUIS_CUDA_TRY(cudaMemset(m_sample_status.data(), 0, sizeof(DeviceStatus)));  // code 0: success
    CUIS_CUDA_TRY(cudaMemset(m_score_status.data(), 0, sizeof(DeviceStatus)));
    CUIS_CUDA_TRY(cudaMemset(m_first_error.data(), 0, sizeof(DeviceStatus)));
    if (m_cfg.sampler != SamplerKind::uniform) {
      SampleOptions o = detail::sample_options(m_cfg, m_seeds.draws, 0, 0.0f);
      size_t bytes = 0;
      CUIS_TRY(sample_workspace_size(p, m_cfg.batch, o, &bytes));
      CUIS_TRY(m_ws.resize(bytes));
    }
    if (m_cfg.sampler == SamplerKind::predicted) {
      const MlpShape ps = detail::predictor_shape(m_cfg, tr);
      // The predictor is small: it scores up to 2^16 candidates per chunk
      // (Fashion-MNIST's whole training set in one).
      const int64_t predictor_batch = std::max<int64_t>(m_cfg.batch, std::min<int64_t>(p, 1 << 16));
      CUIS_TRY(m_predictor.init(ps, OptimizerConfig{}, predictor_batch, m_seeds.predictor_init,
                                mlp_options(predictor_batch, p)));
      CUIS_TRY(m_features.resize(static_cast<size_t>(std::max(p, m_cfg.batch)) * ps.sizes[0]));
      CUIS_TRY(m_pred.resize(p));
      CUIS_TRY(m_target.resize(m_cfg.batch));
    }
    if (detail::keeps_history(m_cfg)) {
      CUIS_TRY(m_history.resize(static_cast<size_t>(tr.rows) * m_cfg.history));
      CUIS_TRY(m_seen.resize(tr.rows));
      CUIS_TRY(m_last.resize(tr.rows));
      CUIS_CUDA_TRY(cudaMemset(m_last.data(), 0xff, m_last.bytes()));  // -1: no batch position
      CUIS_CUDA_TRY(cudaMemset(m_history.data(), 0, m_history.bytes()));
      CUIS_CUDA_TRY(cudaMemset(m_seen.data(), 0, m_seen.bytes()));
    }
    CUIS_CUDA_TRY(cudaDeviceSynchronize());
    return set_error(Error::success, "");
  }

  // The first step after init() or load() runs eagerly (loading every
  // module outside a capture); the next one is captured, and replayed from then on.
  Error do_step() override {
    if (!m_cfg.cuda_graph || !m_ran_eagerly) {
      CUIS_TRY(enqueue_step());
      m_ran_eagerly = true;
      return set_error(Error::success, "");
    }
    if (!m_graph)
      CUIS_TRY(detail::capture_graph(
          m_stream, [this] { return enqueue_step(); }, &m_graph));
    CUIS_CUDA_TRY(cudaGraphLaunch(m_graph, m_stream));
    return set_error(Error::success, "");
  }

  // The first problem any stage reported (scoring, sampling, training, the
  // predictor) fails the run here, as the CPU engine's step() would have.
  Error do_stats(TrainerStats* out) override {
    LoopDevice l{};
    DeviceStatus first{};
    CUIS_CUDA_TRY(cudaMemcpyAsync(&l, m_loop.data(), sizeof l, cudaMemcpyDeviceToHost, m_stream));
    CUIS_CUDA_TRY(cudaMemcpyAsync(&first, m_first_error.data(), sizeof first, cudaMemcpyDeviceToHost, m_stream));
    CUIS_CUDA_TRY(cudaStreamSynchronize(m_stream));  // one wait for both
    if (first.code != Error::success)
      return set_error(first.code, "step " + std::to_string(l.step) + ": " + describe(first));
    *out = TrainerStats{l.step, l.batch_loss, l.mean_loss, l.tau, l.importance != 0};
    return set_error(Error::success, "");
  }

  Error do_evaluate(bool test_split, double* loss, double* error_rate) override {
    const Dataset& d = test_split ? m_data->test : m_data->train;
    return m_main.evaluate(test_split ? m_test_x.data() : m_x.data(), d.rows,
                           test_split ? m_test_labels.data() : m_labels.data(), nullptr, loss, error_rate, m_stream);
  }

  Error do_score_quality(double*) override {
    return set_error(Error::invalid_argument, "score_quality: measured on the CPU engine only so far");
  }

  const char* engine() const override { return "cuda"; }
  std::string dense_backend() const override {
    const std::string note = m_main.backend_note();
    return std::string(backend_name(m_main.backend())) + (note.empty() ? "" : " (" + note + ")");
  }

  Error do_last_step(StepRecord* out) override {
    if (!m_ran_eagerly)
      return set_error(Error::invalid_argument, "last_step: no step since the trainer was made or loaded");
    TrainerStats st;
    CUIS_TRY(do_stats(&st));  // waits; reports a failed step
    const bool scoring = m_cfg.sampler != SamplerKind::uniform;
    const int64_t p = detail::candidates_per_step(m_cfg, m_data->train.rows), b = m_cfg.batch;
    StepRecord r;
    r.step = st.step - 1;
    r.importance = st.importance;
    auto copy = [this](void* dst, const void* src, size_t bytes) {
      return cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, m_stream);
    };
    if (scoring) {
      r.candidates.resize(p);
      r.scores.resize(p);
      CUIS_CUDA_TRY(copy(r.candidates.data(), m_cand.data(), p * sizeof(int64_t)));
      CUIS_CUDA_TRY(copy(r.scores.data(), m_scores.data(), p * sizeof(float)));
    }
    r.indices.resize(b);
    CUIS_CUDA_TRY(copy(r.indices.data(), m_idx.data(), b * sizeof(int64_t)));
    r.weights.assign(b, 1.0f);
    if (scoring) CUIS_CUDA_TRY(copy(r.weights.data(), m_w.data(), b * sizeof(float)));
    CUIS_CUDA_TRY(cudaStreamSynchronize(m_stream));
    *out = std::move(r);
    return set_error(Error::success, "");
  }

  Error snapshot(detail::TrainerFile* f) override {
    detail::LoopState& s = f->loop;
    CUIS_TRY(m_main.checkpoint(&f->head.network, m_stream));
    CUIS_TRY(do_stats(&s.stats));
    LoopDevice l{};
    CUIS_TRY(read_loop(&l));
    s.tau_seen = l.tau_seen != 0;
    s.has_predictor = m_cfg.sampler == SamplerKind::predicted;
    if (s.has_predictor) CUIS_TRY(m_predictor.checkpoint(&s.predictor, m_stream));
    if (detail::keeps_history(m_cfg)) {
      s.history.resize(m_history.size());
      s.seen.resize(m_seen.size());
      CUIS_CUDA_TRY(
          cudaMemcpyAsync(s.history.data(), m_history.data(), m_history.bytes(), cudaMemcpyDeviceToHost, m_stream));
      CUIS_CUDA_TRY(cudaMemcpyAsync(s.seen.data(), m_seen.data(), m_seen.bytes(), cudaMemcpyDeviceToHost, m_stream));
      CUIS_CUDA_TRY(cudaStreamSynchronize(m_stream));
    }
    return set_error(Error::success, "");
  }

  // The file was checked against this run (configuration, data, shapes).
  Error restore(detail::TrainerFile& f) override {
    const detail::LoopState& s = f.loop;
    const bool predicted = m_cfg.sampler == SamplerKind::predicted;
    // The captured step holds the networks' optimizer settings by value:
    // capture again after the next (eager) step.
    m_graph.reset();
    m_ran_eagerly = false;
    CUIS_TRY(m_main.restore(f.head.network, m_stream));
    if (predicted) CUIS_TRY(m_predictor.restore(s.predictor, m_stream));
    if (detail::keeps_history(m_cfg)) {
      CUIS_CUDA_TRY(
          cudaMemcpyAsync(m_history.data(), s.history.data(), m_history.bytes(), cudaMemcpyHostToDevice, m_stream));
      CUIS_CUDA_TRY(cudaMemcpyAsync(m_seen.data(), s.seen.data(), m_seen.bytes(), cudaMemcpyHostToDevice, m_stream));
      CUIS_CUDA_TRY(cudaMemsetAsync(m_last.data(), 0xff, m_last.bytes(), m_stream));
    }
    // A uniform run never samples by importance, whatever the saved run did.
    TrainerStats saved = s.stats;
    saved.importance = s.stats.importance && m_cfg.sampler != SamplerKind::uniform;
    const LoopDevice l = kernels::loop_at(saved, s.tau_seen, m_seeds,
                                          detail::uniform_draws_per_step(m_cfg, m_data->train.rows), m_cfg.batch);
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
    CUIS_TRY(uniform_indices(uniform, draws, tr.rows, RngState{}, &loop->candidates, false, st));
    if (scoring) {
      CUIS_TRY(score_candidates(p));
      const bool has_status = !detail::keeps_history(m_cfg);  // predicted and cache scores have no status
      kernels::tau_kernel<<<1, LOOP_THREADS, 0, st>>>(m_scores.data(), p, has_status ? m_score_status.data() : nullptr,
                                                      m_first_error.data(), loop, m_cfg.warmup, m_cfg.tau_th);
      CUIS_LAUNCH_CHECK(st);
      // Drawn at every step, warm-up included (a graph has no host branch);
      // choose_kernel replaces the batch when this step is not by importance.
      SampleOptions o = detail::sample_options(m_cfg, m_seeds.draws, 0, 0.0f);
      o.d_mean_loss = &loop->mean_loss_f;
      o.d_rng = &loop->draws;
      o.advance_rng = false;  // batch_mean_kernel sets the next step's offset
      const SampleArgs a{m_scores.data(), p, m_cand.data(), b, m_idx.data(), m_w.data(), m_sample_status.data()};
      CUIS_TRY(sample(a, o, m_ws.data(), m_ws.bytes(), st));
      kernels::choose_kernel<<<blocks(b), LOOP_THREADS, 0, st>>>(uniform, draws, m_idx.data(), m_w.data(), b, loop);
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
    CUIS_TRY(m_main.train_step(tb, st));
    kernels::batch_mean_kernel<<<1, LOOP_THREADS, 0, st>>>(m_batch_loss.data(), b, draws,
                                                           scoring ? m_sample_status.data() : nullptr, m_main.status(),
                                                           m_first_error.data(), loop);
    CUIS_LAUNCH_CHECK(st);
    if (detail::keeps_history(m_cfg)) {
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

  Error score_candidates(int64_t p) {
    const Dataset& tr = m_data->train;
    if (m_cfg.sampler == SamplerKind::predicted) {
      const int32_t f = m_predictor.shape().sizes[0];
      kernels::features_kernel<<<blocks(p * f), LOOP_THREADS, 0, m_stream>>>(
          m_cand.data(), p, tr.rows, m_history.data(), m_seen.data(), m_labels.data(), m_cfg.history, f,
          m_features.data(), nullptr);
      CUIS_LAUNCH_CHECK(m_stream);
      CUIS_TRY(m_predictor.predict(m_features.data(), p, nullptr, p, m_pred.data(), m_stream));
      kernels::clamp_kernel<<<blocks(p), LOOP_THREADS, 0, m_stream>>>(m_pred.data(), p, m_cfg.predictor_log,
                                                                      m_scores.data());
      CUIS_LAUNCH_CHECK(m_stream);
      return Error::success;
    }
    if (m_cfg.sampler == SamplerKind::cache) {
      kernels::cache_scores_kernel<<<blocks(p), LOOP_THREADS, 0, m_stream>>>(
          m_cand.data(), p, m_history.data(), m_seen.data(), m_cfg.history, m_loop.data(), m_scores.data());
      CUIS_LAUNCH_CHECK(m_stream);
      return Error::success;
    }
    float* loss = m_cfg.sampler == SamplerKind::loss ? m_scores.data() : m_norms.data();
    float* norm = m_cfg.sampler == SamplerKind::loss ? m_norms.data() : m_scores.data();
    return m_main.score(m_x.data(), tr.rows, m_labels.data(), nullptr, m_cand.data(), p, loss, norm,
                        m_score_status.data(), m_stream);
  }

  // The predictor learns the batch's losses (predicted), then the histories
  // take them (predicted and cache).
  Error learn_losses() {
    const int64_t b = m_cfg.batch, n = m_data->train.rows;
    const bool predicted = m_cfg.sampler == SamplerKind::predicted;
    if (predicted) {
      const int32_t f = m_predictor.shape().sizes[0];
      kernels::features_kernel<<<blocks(b * f), LOOP_THREADS, 0, m_stream>>>(
          m_idx.data(), b, n, m_history.data(), m_seen.data(), m_labels.data(), m_cfg.history, f, m_features.data(),
          m_last.data());
      CUIS_LAUNCH_CHECK(m_stream);
      kernels::target_kernel<<<blocks(b), LOOP_THREADS, 0, m_stream>>>(m_batch_loss.data(), b, m_cfg.predictor_log,
                                                                       m_target.data());
      CUIS_LAUNCH_CHECK(m_stream);
      TrainBatch pb;
      pb.data = m_features.data();
      pb.rows = b;
      pb.targets = m_target.data();
      pb.batch = b;
      CUIS_TRY(m_predictor.train_step(pb, m_stream));
    } else {
      kernels::last_position_kernel<<<blocks(b), LOOP_THREADS, 0, m_stream>>>(m_idx.data(), b, n, m_last.data());
      CUIS_LAUNCH_CHECK(m_stream);
    }
    kernels::history_kernel<<<blocks(b), LOOP_THREADS, 0, m_stream>>>(
        m_idx.data(), b, n, m_batch_loss.data(), predicted && m_cfg.predictor_log, m_history.data(), m_seen.data(),
        m_cfg.history, m_last.data(), predicted ? m_predictor.status() : m_main.status(), m_first_error.data(),
        m_loop.data());
    CUIS_LAUNCH_CHECK(m_stream);
    return Error::success;
  }

  StreamHolder m_holder;  // first: destroyed last
  detail::RunSeeds m_seeds;
  cudaStream_t m_stream = nullptr;
  bool m_ran_eagerly = false;  // a step ran since init() / load(): the next may be captured
  Mlp m_main, m_predictor;
  DeviceBuffer<float> m_x, m_test_x, m_scores, m_norms, m_w, m_batch_loss, m_history, m_features, m_pred, m_target;
  DeviceBuffer<int32_t> m_labels, m_test_labels, m_seen, m_last;
  DeviceBuffer<int64_t> m_cand, m_idx, m_uniform;
  DeviceBuffer<LoopDevice> m_loop;
  DeviceBuffer<DeviceStatus> m_sample_status, m_score_status, m_first_error;
  DeviceBuffer<char> m_ws;
  GraphHolder m_graph;  // last: destroyed first. Its kernels read the loop state from device memory, but
                        // the networks' optimizer settings are captured by value: load() drops it.
};

}  // namespace

Error make_cuda_trainer(const TrainConfig& config, const DataSplit* data, std::unique_ptr<Trainer>* out) {
  return detail::guarded("make_cuda_trainer", [&]() -> Error {
    if (!data || !out) return set_error(Error::null_pointer, "make_cuda_trainer: data and out are required");
    CUIS_TRY(detail::check_config(config, *data));
    CUIS_TRY(detail::require_device("make_cuda_trainer"));
    auto t = std::make_unique<CudaTrainer>(config, data);
    CUIS_TRY(t->init());
    *out = std::move(t);
    return set_error(Error::success, "");
  });
}

}  // namespace cuis
