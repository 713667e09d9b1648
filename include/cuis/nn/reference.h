// The CPU reference of the trainer: the same network, losses and optimizers
// as cuis::Mlp and cuis/nn/loss.h in plain loops (double accumulation), the
// oracle for the GPU tests and the engine of `--device cpu` runs.
#pragma once

#include <cstdint>
#include <vector>

#include "cuis/nn/checkpoint.h"
#include "cuis/error.h"
#include "cuis/nn/mlp_config.h"

namespace cuis {
namespace ref {

// Softmax cross-entropy of one row: loss, ||softmax - onehot||, and (if dz is
// not null) dz = scale (softmax - onehot). Returns invalid_label or
// non_finite_value for a bad row (outputs then NaN / 0).
Error cross_entropy_row(const float* z, int32_t classes, int32_t label, float scale, float* loss, float* grad_norm,
                        float* dz);

// The checks every training batch passes before anything is computed, in
// batch order: index in [0, rows), finite features, a finite weight >= 0. The
// first failure (lowest batch position) as a status, else success.
DeviceStatus check_batch(const TrainBatch& b, int32_t features);

class Mlp {
 public:
  Error init(const MlpShape& shape, const OptimizerConfig& opt, uint64_t seed);

  // Outputs (logits, or the prediction) of `rows` consecutive feature rows.
  void forward(const float* x, int64_t rows, std::vector<float>* out) const;

  // gather, forward, loss, backward, update. A bad batch (index out of range,
  // bad label, non-finite value) leaves the model unchanged and is reported in
  // *status, as on the GPU.
  Error train_step(const TrainBatch& b, DeviceStatus* status);

  // Per-sample loss (and gradient-norm bound) of the rows `indices[0..count)`
  // (all rows 0..count-1 when indices is null), without training.
  Error score(const float* data, int64_t rows, const int32_t* labels, const float* targets, const int64_t* indices,
              int64_t count, float* loss, float* grad_norm, DeviceStatus* status) const;

  // Mean loss and error rate (cross-entropy) over a whole dataset.
  Error evaluate(const float* data, int64_t rows, const int32_t* labels, const float* targets, double* mean_loss,
                 double* error_rate) const;

  Checkpoint checkpoint() const;
  // Takes step, parameters, optimizer state and hyper-parameters from a
  // checkpoint of the same shape, loss and optimizer kind; anything else is a
  // shape_mismatch and leaves the model untouched.
  Error restore(const Checkpoint& c);

  const MlpShape& shape() const { return m_shape; }
  std::vector<float>& params() { return m_params; }
  const std::vector<float>& params() const { return m_params; }
  const std::vector<float>& grads() const { return m_grads; }
  uint64_t step() const { return m_step; }

 private:
  // Activations of every layer for one input row: acts[0] = x, acts[L] = outputs.
  void forward_row(const float* x, std::vector<std::vector<float>>* acts) const;
  void update();

  MlpShape m_shape;
  OptimizerConfig m_opt;
  std::vector<LayerParams> m_layers;
  std::vector<float> m_params, m_grads, m_state;
  uint64_t m_step = 0;
};

}  // namespace ref
}  // namespace cuis
