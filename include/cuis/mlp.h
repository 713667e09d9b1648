// cuis::Mlp: the CUDA trainer of a multilayer perceptron, used both as the
// network being trained and, at a small size, as the loss predictor
// (docs/METHOD.md section 1). The dense layers run on one of three backends
// (MlpBackend: cuBLAS, cuBLASLt or cuDNN; FP32 by default); gather, loss,
// status and optimizer are cuis's own fused kernels.
//
// init() allocates every buffer once (parameters, gradients, optimizer state,
// activations for batches of up to max_batch rows, a cuBLAS workspace); after
// that, train_step() and score() enqueue work only: no host synchronisation,
// no allocation, capturable in a CUDA graph (the Adam step count lives on the
// device). Results are deterministic for a given GPU and batch size.
//
// One model uses one set of scratch buffers: issue its calls on one stream (or
// order them). A captured train_step keeps the optimizer settings and batch
// size it was captured with. A reported problem names the lowest bad batch
// position; there a gather problem (index, feature, weight) comes before a loss
// problem (label, output). After a skipped step gradients() is unspecified.
#pragma once

#include <cuda_runtime_api.h>

#include <memory>
#include <string>
#include <vector>

#include "cuis/nn/checkpoint.h"
#include "cuis/error.h"
#include "cuis/nn/mlp_config.h"

namespace cuis {

// How a cuis::Mlp computes (not what): the GEMMs' arithmetic and backend.
struct MlpOptions {
  Math math = Math::fp32;
  MlpBackend backend = MlpBackend::cublas;
  // cuBLASLt and cuDNN fix their plans per row count at init: one for
  // max_batch and one for each count listed here (the caller's training batch,
  // its last scoring chunk). A call with another count runs on the plan of the
  // next larger count, the extra rows zero (same results, more work). cuBLAS
  // takes any count and ignores this.
  std::vector<int64_t> batch_sizes;
};

class Mlp {
 public:
  Mlp();
  ~Mlp();
  Mlp(Mlp&&) noexcept;
  Mlp& operator=(Mlp&&) noexcept;
  Mlp(const Mlp&) = delete;
  Mlp& operator=(const Mlp&) = delete;

  // Allocates and initialises (init_params(shape, seed)). Synchronous.
  Error init(const MlpShape& shape, const OptimizerConfig& opt, int64_t max_batch, uint64_t seed,
             Math math = Math::fp32);
  // The same with a backend. Where the backend cannot run this model (no
  // cuDNN library or engine, no cuBLASLt algorithm for a GEMM), init falls
  // back to cuBLAS and says why in backend_note(): never a failure at step
  // time. Invalid options (unknown backend, a batch size outside
  // [1, max_batch]) are errors.
  Error init(const MlpShape& shape, const OptimizerConfig& opt, int64_t max_batch, uint64_t seed,
             const MlpOptions& options);

  // One step on the batch b (device pointers; b.batch <= max_batch): gather,
  // forward, per-sample loss, backward, optimizer update. A bad batch (index
  // out of range, non-finite feature or weight, bad label, non-finite output)
  // skips the update and is reported in *status() after the step.
  Error train_step(const TrainBatch& b, cudaStream_t stream);

  // Forward-only per-sample loss (and gradient-norm bound) of rows
  // indices[0..count) (rows 0..count-1 when indices is null), in chunks of
  // max_batch: the scoring pass of the loss and gnorm samplers. The first bad
  // row is reported in *status (device). No sync, no allocation, capturable.
  Error score(const float* data, int64_t rows, const int32_t* labels, const float* targets, const int64_t* indices,
              int64_t count, float* loss, float* grad_norm, DeviceStatus* status, cudaStream_t stream);

  // The network's outputs (logits, or the prediction of a squared-error model)
  // for rows indices[0..count) (0..count-1 when indices is null), in chunks of
  // max_batch, into out [count, outputs]. Bad rows (index out of range,
  // non-finite features) give NaN outputs. No sync, no allocation, capturable.
  Error predict(const float* data, int64_t rows, const int64_t* indices, int64_t count, float* out, cudaStream_t stream);

  // Mean loss and error rate over a whole dataset (device pointers). Waits for
  // the stream: an evaluation, not a training-step operation.
  Error evaluate(const float* data, int64_t rows, const int32_t* labels, const float* targets, double* mean_loss,
                 double* error_rate, cudaStream_t stream);

  // The device status written by the last train_step().
  const DeviceStatus* status() const;

  // Host copies (synchronous) for checkpoints and tests.
  Error checkpoint(Checkpoint* out, cudaStream_t stream) const;
  // Same shape, loss and optimizer kind required; else shape_mismatch and no change.
  Error restore(const Checkpoint& c, cudaStream_t stream);
  Error save(const std::string& path, cudaStream_t stream) const;
  // Reads and checks the whole file before touching the model.
  Error load(const std::string& path, cudaStream_t stream);
  Error gradients(std::vector<float>* out, cudaStream_t stream) const;

  const MlpShape& shape() const;
  int64_t max_batch() const;
  // The backend in use (after any fallback), and what init had to say about
  // it: empty, or why it fell back or left part of the work to cuis's kernels.
  MlpBackend backend() const;
  const std::string& backend_note() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m;
};

}  // namespace cuis
