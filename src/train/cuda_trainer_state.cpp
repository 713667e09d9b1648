// The CUDA engine between steps (train/cuda_trainer.h): its stats, evaluation,
// the last step's record and its checkpoints, read from and written to the
// device state that the step leaves (host code: no kernel of its own).
#include <string>
#include <utility>

#include "core/cuda_check.h"
#include "train/cuda_trainer.h"

namespace cuis {
namespace detail {

// The first problem any stage reported (scoring, sampling, training, the
// predictor) fails the run here, as the CPU engine's step() would have.
Error CudaTrainer::do_stats(TrainerStats* out) {
  kernels::LoopDevice l{};
  DeviceStatus first{};
  CUIS_CUDA_TRY(cudaMemcpyAsync(&l, m_loop.data(), sizeof l, cudaMemcpyDeviceToHost, m_stream));
  CUIS_CUDA_TRY(cudaMemcpyAsync(&first, m_first_error.data(), sizeof first, cudaMemcpyDeviceToHost, m_stream));
  CUIS_CUDA_TRY(cudaStreamSynchronize(m_stream));  // one wait for both
  if (first.code != Error::success)
    return set_error(first.code, "step " + std::to_string(l.step) + ": " + describe(first));
  *out = TrainerStats{l.step, l.batch_loss, l.mean_loss, l.tau, l.importance != 0};
  return set_error(Error::success, "");
}

Error CudaTrainer::do_evaluate(bool test_split, double* loss, double* error_rate) {
  const Dataset& d = test_split ? m_data->test : m_data->train;
  return m_main.evaluate(test_split ? m_test_x.data() : m_x.data(), d.rows,
                         test_split ? m_test_labels.data() : m_labels.data(), nullptr, loss, error_rate, m_stream);
}

std::string CudaTrainer::dense_backend() const {
  const std::string note = m_main.backend_note();
  return std::string(backend_name(m_main.backend())) + (note.empty() ? "" : " (" + note + ")");
}

Error CudaTrainer::do_last_step(StepRecord* out) {
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

Error CudaTrainer::snapshot(TrainerFile* f) {
  detail::LoopState& s = f->loop;
  CUIS_TRY(m_main.checkpoint(&f->head.network, m_stream));
  CUIS_TRY(do_stats(&s.stats));
  kernels::LoopDevice l{};
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
Error CudaTrainer::restore(TrainerFile& f) {
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
  const kernels::LoopDevice l = kernels::loop_at(
      saved, s.tau_seen, m_seeds, detail::uniform_draws_per_step(m_cfg, m_data->train.rows), m_cfg.batch);
  CUIS_CUDA_TRY(cudaMemcpyAsync(m_loop.data(), &l, sizeof l, cudaMemcpyHostToDevice, m_stream));
  CUIS_CUDA_TRY(cudaMemsetAsync(m_first_error.data(), 0, sizeof(DeviceStatus), m_stream));
  CUIS_CUDA_TRY(cudaStreamSynchronize(m_stream));  // the host values above live on this stack frame
  return set_error(Error::success, "");
}

Error CudaTrainer::read_loop(kernels::LoopDevice* l) {
  CUIS_CUDA_TRY(cudaMemcpyAsync(l, m_loop.data(), sizeof *l, cudaMemcpyDeviceToHost, m_stream));
  CUIS_CUDA_TRY(cudaStreamSynchronize(m_stream));
  return Error::success;
}

}  // namespace detail
}  // namespace cuis
