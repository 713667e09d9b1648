// The CUDA engine's step (train/cuda_trainer.h): init, the step enqueued and
// captured, its scoring stage (also run over the whole training set for
// score_quality) and the predictor's update. Every launch of the loop kernels
// is here.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "core/cuda_check.h"
#include "cuis/sampler.h"
#include "cuis/train/predictor_features.h"
#include "kernels/train/loop.cuh"
#include "train/cuda_trainer.h"
#include "train/graph_capture.h"

namespace cuis {
namespace detail {

namespace {

using kernels::LOOP_THREADS;

template <class T>
Error upload(DeviceBuffer<T>* d, const std::vector<T>& h) {
  CUIS_TRY(d->resize(h.size()));
  CUIS_CUDA_TRY(cudaMemcpy(d->data(), h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice));
  return Error::success;
}

unsigned blocks(int64_t n) {
  return static_cast<unsigned>(std::min<int64_t>(1024, (n + LOOP_THREADS - 1) / LOOP_THREADS));
}

}  // namespace

MlpOptions CudaTrainer::mlp_options(int64_t max_batch, int64_t scored) const {
  MlpOptions o;
  o.math = m_cfg.math;
  o.backend = m_cfg.backend;
  o.batch_sizes = {std::min(m_cfg.batch, max_batch)};
  if (scored % max_batch != 0) o.batch_sizes.push_back(scored % max_batch);
  return o;
}

Error CudaTrainer::init() {
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
  const kernels::LoopDevice start =
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
Error CudaTrainer::do_step() {
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

// One step's work, enqueued; the same launches with the same arguments at
// every step, so that a graph of it can replay any step.
Error CudaTrainer::enqueue_step() {
  const Dataset& tr = m_data->train;
  const int64_t p = detail::candidates_per_step(m_cfg, tr.rows), b = m_cfg.batch;
  const int64_t draws = detail::uniform_draws_per_step(m_cfg, tr.rows);
  const cudaStream_t st = m_stream;
  kernels::LoopDevice* loop = m_loop.data();
  const bool scoring = m_cfg.sampler != SamplerKind::uniform;
  // The step's uniform draws: a uniform run's batch, the candidates, or
  // (whole set as candidates) the batch used when not sampling by importance.
  int64_t* uniform = !scoring ? m_idx.data() : detail::whole_set(m_cfg) ? m_uniform.data() : m_cand.data();
  CUIS_TRY(uniform_indices(uniform, draws, tr.rows, RngState{}, &loop->candidates, false, st));
  if (scoring) {
    CUIS_TRY(score_rows(m_cand.data(), p, m_scores.data(), m_norms.data(), m_score_status.data()));
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

Error CudaTrainer::score_rows(const int64_t* rows, int64_t count, float* scores, float* norms, DeviceStatus* status) {
  const Dataset& tr = m_data->train;
  if (m_cfg.sampler == SamplerKind::predicted) {
    const int32_t f = m_predictor.shape().sizes[0];
    kernels::features_kernel<<<blocks(count * f), LOOP_THREADS, 0, m_stream>>>(
        rows, count, tr.rows, m_history.data(), m_seen.data(), m_labels.data(), m_cfg.history, f, m_features.data(),
        nullptr);
    CUIS_LAUNCH_CHECK(m_stream);
    CUIS_TRY(m_predictor.predict(m_features.data(), count, nullptr, count, m_pred.data(), m_stream));
    kernels::clamp_kernel<<<blocks(count), LOOP_THREADS, 0, m_stream>>>(m_pred.data(), count, m_cfg.predictor_log,
                                                                        scores);
    CUIS_LAUNCH_CHECK(m_stream);
    return Error::success;
  }
  if (m_cfg.sampler == SamplerKind::cache) {
    kernels::cache_scores_kernel<<<blocks(count), LOOP_THREADS, 0, m_stream>>>(
        rows, count, m_history.data(), m_seen.data(), m_cfg.history, m_loop.data(), scores);
    CUIS_LAUNCH_CHECK(m_stream);
    return Error::success;
  }
  float* loss = m_cfg.sampler == SamplerKind::loss ? scores : norms;
  float* norm = m_cfg.sampler == SamplerKind::loss ? norms : scores;
  return m_main.score(m_x.data(), tr.rows, m_labels.data(), nullptr, rows, count, loss, norm, status, m_stream);
}

// The predictor learns the batch's losses (predicted), then the histories
// take them (predicted and cache).
Error CudaTrainer::learn_losses() {
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

// As the CPU engine computes it: every row's loss under the main network and
// its score (the loss samplers' own, the cache's, or the predictor's, P rows
// at a time), ranked on the host. An evaluation: it allocates its buffers at
// the first call and waits.
Error CudaTrainer::do_score_quality(double* spearman) {
  const int64_t n = m_data->train.rows;
  const size_t un = static_cast<size_t>(n);
  const bool table = keeps_history(m_cfg), gnorm = m_cfg.sampler == SamplerKind::gnorm;
  if (m_quality_status.size() != 1) {  // allocated last: a failed allocation is retried whole
    CUIS_TRY(m_all_loss.resize(un));
    if (gnorm) CUIS_TRY(m_all_norm.resize(un));
    if (table) {
      std::vector<int64_t> rows(un);
      std::iota(rows.begin(), rows.end(), int64_t{0});
      CUIS_TRY(upload(&m_all_rows, rows));
      CUIS_TRY(m_all_scores.resize(un));
      CUIS_CUDA_TRY(cudaDeviceSynchronize());  // the upload has landed: m_stream does not wait for it
    }
    CUIS_TRY(m_quality_status.resize(1));
  }
  CUIS_CUDA_TRY(cudaMemsetAsync(m_quality_status.data(), 0, sizeof(DeviceStatus), m_stream));
  CUIS_TRY(m_main.score(m_x.data(), n, m_labels.data(), nullptr, nullptr, n, m_all_loss.data(),
                        gnorm ? m_all_norm.data() : nullptr, m_quality_status.data(), m_stream));
  const float* scores = gnorm ? m_all_norm.data() : m_all_loss.data();
  if (table) {
    // The predictor's features and predictions hold P rows; the cache reads its table for any count.
    const int64_t chunk = m_cfg.sampler == SamplerKind::predicted ? candidates_per_step(m_cfg, n) : n;
    for (int64_t at = 0; at < n; at += chunk)
      CUIS_TRY(score_rows(m_all_rows.data() + at, std::min(chunk, n - at), m_all_scores.data() + at, nullptr, nullptr));
    scores = m_all_scores.data();
  }
  std::vector<float> loss(un), score(un);
  DeviceStatus st{};
  CUIS_CUDA_TRY(cudaMemcpyAsync(loss.data(), m_all_loss.data(), un * sizeof(float), cudaMemcpyDeviceToHost, m_stream));
  CUIS_CUDA_TRY(cudaMemcpyAsync(score.data(), scores, un * sizeof(float), cudaMemcpyDeviceToHost, m_stream));
  CUIS_CUDA_TRY(cudaMemcpyAsync(&st, m_quality_status.data(), sizeof st, cudaMemcpyDeviceToHost, m_stream));
  CUIS_CUDA_TRY(cudaStreamSynchronize(m_stream));
  if (st.code != Error::success) return set_error(st.code, "score_quality: " + describe(st));
  return rank_correlation(score, loss, spearman);
}

}  // namespace detail

using detail::set_error;

Error make_cuda_trainer(const TrainConfig& config, const DataSplit* data, std::unique_ptr<Trainer>* out) {
  return detail::guarded("make_cuda_trainer", [&]() -> Error {
    if (!data || !out) return set_error(Error::null_pointer, "make_cuda_trainer: data and out are required");
    CUIS_TRY(detail::check_config(config, *data));
    CUIS_TRY(detail::require_device("make_cuda_trainer"));
    auto t = std::make_unique<detail::CudaTrainer>(config, data);
    CUIS_TRY(t->init());
    *out = std::move(t);
    return set_error(Error::success, "");
  });
}

}  // namespace cuis
