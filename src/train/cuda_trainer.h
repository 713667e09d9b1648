// Internal: the CUDA training engine, the loop of cuis/trainer.h with every
// array on the device and no host round trip per step (the host only
// enqueues; stats() is the one place that waits). Nothing a step enqueues
// depends on host state: the step count, the RNG offsets, warm-up and the tau
// switch live in LoopDevice, so one step is captured in a CUDA graph (unless
// TrainConfig::cuda_graph is off) and replayed for every later step.
// cuda_trainer.cu holds the step, its scoring and make_cuda_trainer (every
// launch of the loop kernels); cuda_trainer_state.cpp what the host reads and
// writes between steps (stats, evaluation, the last step, checkpoints).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <string>

#include "core/cuda_handles.h"
#include "cuis/device_buffer.h"
#include "cuis/mlp.h"
#include "cuis/trainer.h"
#include "kernels/train/loop_state.h"
#include "train/trainer_common.h"
#include "train/trainer_state.h"

namespace cuis {
namespace detail {

class CudaTrainer final : public EngineBase {
 public:
  CudaTrainer(const TrainConfig& c, const DataSplit* d) : EngineBase(c, d), m_seeds(run_seeds(c.seed)) {}
  Error init();

  Error do_step() override;
  Error do_score_quality(double* spearman) override;

  Error do_stats(TrainerStats* out) override;
  Error do_evaluate(bool test_split, double* loss, double* error_rate) override;
  const char* engine() const override { return "cuda"; }
  std::string dense_backend() const override;
  Error do_last_step(StepRecord* out) override;
  Error snapshot(TrainerFile* f) override;
  Error restore(TrainerFile& f) override;

 private:
  // The networks' math and backend, with plans for the training batch and
  // the last of the chunks that score `scored` rows (0: none), max_batch at a time.
  MlpOptions mlp_options(int64_t max_batch, int64_t scored) const;
  Error read_loop(kernels::LoopDevice* l);
  Error enqueue_step();
  // The sampler's scores of rows[0..count) (count <= P), as a step scores its
  // candidates; the main network's also write norms and status.
  Error score_rows(const int64_t* rows, int64_t count, float* scores, float* norms, DeviceStatus* status);
  Error learn_losses();

  StreamHolder m_holder;  // first: destroyed last
  RunSeeds m_seeds;
  cudaStream_t m_stream = nullptr;
  bool m_ran_eagerly = false;  // a step ran since init() / load(): the next may be captured
  Mlp m_main, m_predictor;
  DeviceBuffer<float> m_x, m_test_x, m_scores, m_norms, m_w, m_batch_loss, m_history, m_features, m_pred, m_target;
  DeviceBuffer<int32_t> m_labels, m_test_labels, m_seen, m_last;
  DeviceBuffer<int64_t> m_cand, m_idx, m_uniform;
  DeviceBuffer<kernels::LoopDevice> m_loop;
  DeviceBuffer<DeviceStatus> m_sample_status, m_score_status, m_first_error;
  DeviceBuffer<char> m_ws;
  // score_quality's, allocated at its first call: rows 0..N-1, each row's loss,
  // gradient-norm bound and score, and the main network's status.
  DeviceBuffer<int64_t> m_all_rows;
  DeviceBuffer<float> m_all_loss, m_all_norm, m_all_scores;
  DeviceBuffer<DeviceStatus> m_quality_status;
  GraphHolder m_graph;  // last: destroyed first. Its kernels read the loop state from device memory, but
                        // the networks' optimizer settings are captured by value: load() drops it.
};

}  // namespace detail
}  // namespace cuis
