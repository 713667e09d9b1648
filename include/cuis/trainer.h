// Importance-sampled training end to end (docs/METHOD.md sections 1 to 5): each
// step draws a uniform candidate set, scores it (the main network's loss or
// gradient-norm bound, or the loss predictor), draws the batch in proportion
// to the smoothed scores with importance weights, trains on it, and feeds the
// observed losses to the loss predictor. Two engines share this interface: the
// CUDA one (everything on device, no host round trip per step) and the CPU
// reference. No call throws: a failed host allocation is out_of_memory, any
// other exception from the standard library internal_error, with a message.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cuis/data.h"
#include "cuis/error.h"
#include "cuis/nn/checkpoint.h"
#include "cuis/nn/mlp_config.h"

namespace cuis {

// uniform; loss or gnorm: the main network scores the candidates; predicted:
// the loss predictor does; cache: each candidate's last observed loss (a
// sample not seen yet scores the running mean batch loss). The cache is the
// cheap scorer the project recommends, with power = 0.5 and presample = 16384
// (cuis-train's defaults for it; bench/results/predictor-study-cpu-2026-12-01.md).
enum class SamplerKind { uniform, loss, gnorm, predicted, cache };

// TrainConfig::presample for scoring the whole training set every step (no
// candidate draw; P = N): cheap with the loss predictor, costly otherwise.
constexpr int64_t PRESAMPLE_ALL = -1;

// "uniform", "loss", "gnorm", "predicted", "cache"; false for anything else.
bool parse_sampler(const std::string& name, SamplerKind* out);
const char* sampler_name(SamplerKind k);

struct TrainConfig {
  SamplerKind sampler = SamplerKind::uniform;
  float k = 0.5f;                // weight exponent (1: unbiased; the authors' default 0.5)
  float smooth = 0.0f;           // additive smoothing c
  float adaptive_smooth = 0.0f;  // c_adaptive times the running mean batch loss
  float power = 1.0f;            // power smoothing a
  int64_t presample = 1024;      // candidate set size P, or PRESAMPLE_ALL
  int64_t warmup = 0;            // uniform steps before importance sampling
  float tau_th = 0.0f;           // > 0: sample by importance only while the smoothed tau exceeds it
  int64_t batch = 128;
  std::vector<int32_t> hidden = {512, 512};
  Activation activation = Activation::relu;
  OptimizerConfig optimizer;
  uint64_t seed = 1;
  int32_t history = 10;  // predictor: losses remembered per sample (cache: the last one is used)
  std::vector<int32_t> predictor_hidden = {32, 32};
  // predictor: learn and read losses in log space (features log(max(loss,
  // 1e-6)), target the log of the observed loss, score exp(prediction)).
  bool predictor_log = false;
  // CUDA engine: after one eager step (after init or load), capture a step in
  // a CUDA graph and replay it (one launch per step); off: every step
  // enqueues its kernels. Same results.
  bool cuda_graph = true;
  // CUDA engine: the networks' GEMMs in FP32 or TF32 (cuis/nn/mlp_config.h). The
  // CPU engine computes FP32 whatever this says.
  Math math = Math::fp32;
  // CUDA engine: the library of the networks' dense layers (cuis/nn/mlp_config.h;
  // falls back to cuBLAS where the one asked cannot run, see
  // Trainer::dense_backend()). Like the engine, not part of a checkpoint: a run
  // may continue on another backend, its results then equal to FP32 rounding.
  MlpBackend backend = MlpBackend::cublas;
};

// The default variance-reduction threshold (P + 3b) / (3b) of docs/METHOD.md section 5.
double default_tau_threshold(int64_t presample, int64_t batch);

struct TrainerStats {
  uint64_t step = 0;
  double batch_loss = 0.0;  // mean loss of the last batch (before its update)
  double mean_loss = 0.0;   // running mean of batch losses (forget 0.9)
  double tau = 0.0;         // smoothed tau of the last scored candidate set (0 before any)
  bool importance = false;  // whether the last step sampled by importance
};

// What one step drew and trained on, copied to the host: for inspection, logs
// and tests, not for the training loop (the CUDA engine waits for its stream).
struct StepRecord {
  uint64_t step = 0;                // the step described (TrainerStats::step - 1)
  bool importance = false;          // whether its batch was drawn by importance
  std::vector<int64_t> candidates;  // the scored candidate rows (empty for the uniform sampler)
  std::vector<float> scores;        // their scores: loss, gradient-norm bound or predicted loss
  std::vector<int64_t> indices;     // the batch's rows
  std::vector<float> weights;       // the batch's importance weights (1 for a uniform batch)
};

class Trainer {
 public:
  virtual ~Trainer() = default;
  // One training step. The CUDA engine only enqueues work.
  virtual Error step() = 0;
  // The running numbers (the CUDA engine waits for its stream).
  virtual Error stats(TrainerStats* out) = 0;
  // Mean loss and error rate of the main network over the training or test split.
  virtual Error evaluate(bool test_split, double* loss, double* error_rate) = 0;
  // How well the sampler's scores rank the training set: Spearman's rank
  // correlation between the score every training sample would get now
  // (predicted loss, cached loss, or for loss / gnorm the network's own) and
  // its true current loss under the main network. A study instrument, not
  // part of a step: it scores the whole training set twice, and the CUDA
  // engine allocates its buffers at the first call and waits for its stream
  // (invalid_argument for the uniform sampler).
  virtual Error score_quality(double* spearman) = 0;
  virtual const char* engine() const = 0;
  // What the main network's dense layers run on: "cpu" (the CPU engine), or
  // the CUDA engine's backend in use ("cublas", "cublaslt", "cudnn"),
  // followed by Mlp::backend_note() in parentheses when it has one (a
  // fallback and its reason, the cuDNN version loaded).
  virtual std::string dense_backend() const = 0;
  // The last step's candidates, scores, batch and weights; invalid_argument
  // before the first step (and after load(), until the next step).
  virtual Error last_step(StepRecord* out) = 0;
  // Everything a run needs to continue exactly, in ONE file at `path` written
  // atomically (see TrainerCheckpoint): the configuration, the data's
  // identity, the training time, the loop's state, the main network and the
  // loss predictor with its histories.
  virtual Error save(const std::string& path) = 0;
  // Reads a file save() wrote and continues its run. Refused, with nothing
  // changed: an unreadable file (io_error), a damaged, truncated or foreign
  // one (corrupt_checkpoint), and one written by a run this one does not
  // continue (shape_mismatch, naming the first difference: see
  // compare_configs; and other data: see DataIdentity). The engine may
  // differ: a CUDA checkpoint continues on the CPU engine and the other way
  // round, with results then equal to FP32 rounding rather than bit for bit.
  virtual Error load(const std::string& path) = 0;

  // The run's training time in seconds, measured by the caller (cuis-train
  // counts the steps' time, not evaluations): save() stores it, load()
  // restores it. 0 for a new trainer.
  double train_seconds() const { return m_train_seconds; }
  void set_train_seconds(double seconds) { m_train_seconds = seconds; }

 protected:
  double m_train_seconds = 0.0;
};

// The CPU reference engine. data must outlive the trainer. out_of_memory
// (nothing allocated) when the networks would not fit in this machine's
// memory, and for any failed allocation.
Error make_cpu_trainer(const TrainConfig& config, const DataSplit* data, std::unique_ptr<Trainer>* out);
// The CUDA engine: uploads the data once. no_device without a GPU.
Error make_cuda_trainer(const TrainConfig& config, const DataSplit* data, std::unique_ptr<Trainer>* out);

// What a run trained on, as far as a checkpoint can tell: the splits' names
// (informative: the loaders put file paths there), sizes, and an FNV-1a
// checksum of both splits' features and labels (so another normalisation or
// other files of the same size differ too). load() compares everything but
// the names.
struct DataIdentity {
  std::string train_name, test_name;
  int64_t train_rows = 0, test_rows = 0;
  int32_t features = 0, classes = 0;
  uint64_t checksum = 0;
};
Error data_identity(const DataSplit& data, DataIdentity* out);
// "'NAME' (N + M rows, F features, C classes, checksum 0x...)".
std::string describe(const DataIdentity& d);

// The first setting that changes a run's results in which two
// configurations differ. field names the TrainConfig member ("batch",
// "optimizer.lr", "hidden", ...); saved and asked are the values as text
// ("128", "512,512", "loss", "all" for PRESAMPLE_ALL, "fp32"). Settings a run
// does not use are not compared (the candidate settings under the uniform
// sampler, the predictor's under another sampler, SGD's momentum under Adam,
// Adam's betas under SGD), nor cuda_graph, which changes no result.
// field is empty when the configurations continue each other.
struct ConfigDifference {
  std::string field, saved, asked;
};
Error compare_configs(const TrainConfig& saved, const TrainConfig& asked, ConfigDifference* out);

// A trainer checkpoint as read back, without the loop's internals (the
// predictor and its histories). Format (little-endian, version 1):
//   "CUISTRNR" | u32 version | f64 train_seconds (bytes 12..19) | the engine |
//   the TrainConfig | the DataIdentity | the loop state (TrainerStats, ...) |
//   the main network as a complete network checkpoint image
//   (cuis/nn/checkpoint.h, "CUISCKPT", its own checksum) | the predictor's
//   image or nothing | the loss histories | u64 FNV-1a of everything before.
// Strings are a u64 length and the bytes; vectors a u64 count and the
// elements. Two runs that reach the same state write files equal but for
// bytes 12..19 and the final checksum. read_checkpoint() reads plain network
// checkpoints only; the network of a trainer checkpoint is `network` here.
struct TrainerCheckpoint {
  TrainConfig config;
  DataIdentity data;
  std::string engine;  // "cpu" or "cuda": the engine that wrote it
  double train_seconds = 0.0;
  TrainerStats stats;  // step, running means
  Checkpoint network;  // the main network
};
// io_error, or corrupt_checkpoint naming the problem (not a trainer
// checkpoint, a network checkpoint, unsupported version, checksum mismatch,
// truncated, inconsistent). *out is only written on success.
Error read_trainer_checkpoint(const std::string& path, TrainerCheckpoint* out);

}  // namespace cuis
