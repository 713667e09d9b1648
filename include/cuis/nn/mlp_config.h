// What defines a multilayer perceptron and its training, shared by the CUDA
// trainer (cuis::Mlp), the CPU reference (cuis::ref::Mlp) and checkpoints:
// the shape, the loss, the optimizer, the flat parameter layout and the
// seeded initialisation.
#pragma once

#include <cstdint>
#include <vector>

#include "cuis/error.h"

namespace cuis {

enum class Activation : int32_t { relu = 0, tanh = 1 };
enum class LossKind : int32_t {
  cross_entropy = 0,  // classification: int32 labels, outputs are logits
  squared_error = 1,  // regression (the loss predictor): one output, float targets
};
enum class OptimizerKind : int32_t { sgd = 0, adam = 1 };

// The GEMMs' arithmetic on the GPU: FP32 (the default, what the CPU reference
// computes), or TF32 tensor cores (inputs rounded to 10 mantissa bits, FP32
// accumulation: several times the throughput, about 1e-3 relative error per
// product). Everything outside the GEMMs stays FP32 either way.
enum class Math : int32_t { fp32 = 0, tf32 = 1 };

// The library that runs the dense layers' GEMMs on the GPU (docs/trainer.md "MLP
// backends"): cuBLAS GEMMs with cuis's own bias / activation / derivative
// kernels; cuBLASLt with those fused into the GEMMs' epilogues; or cuDNN's
// graph API, one fused graph per layer and pass. All three compute the same
// network within the GPU tolerances; none is bit-identical to another.
enum class MlpBackend : int32_t { cublas = 0, cublaslt = 1, cudnn = 2 };

// "cublas", "cublaslt", "cudnn".
const char* backend_name(MlpBackend b);
// The inverse of backend_name; invalid_argument naming the text otherwise.
Error parse_backend(const char* text, MlpBackend* out);

struct MlpShape {
  std::vector<int32_t> sizes;                // inputs, hidden..., outputs; e.g. {784, 512, 512, 10}
  Activation activation = Activation::relu;  // after every layer but the last
  LossKind loss = LossKind::cross_entropy;
};

// PyTorch's semantics. SGD: g = grad + wd w; v = momentum v + g; w -= lr v.
// Adam: g = grad + wd w; m, v moments; w -= lr mhat / (sqrt(vhat) + eps).
struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::adam;
  float lr = 1e-3f;
  float momentum = 0.9f;  // SGD
  float weight_decay = 0.0f;
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;  // Adam
};

// Flat parameters: for each layer l, W_l [out, in] row-major, then b_l [out].
struct LayerParams {
  int32_t in, out;
  int64_t weight, bias;  // offsets into the flat array
};

// Checks sizes (at least two, each in [1, 2^20]), the activation, and that a
// squared-error model has one output.
Error validate_shape(const MlpShape& shape);
Error validate_optimizer(const OptimizerConfig& opt);

std::vector<LayerParams> param_layout(const MlpShape& shape);
int64_t param_count(const MlpShape& shape);
// Optimizer state floats: SGD keeps the velocity, Adam both moments.
int64_t optimizer_state_count(OptimizerKind kind, int64_t params);

// One training step's input. Pointers are device memory for cuis::Mlp and
// host memory for cuis::ref::Mlp.
struct TrainBatch {
  const float* data = nullptr;  // [rows, sizes[0]] features of the whole dataset
  int64_t rows = 0;
  const int32_t* labels = nullptr;   // [rows] class labels (cross-entropy)
  const float* targets = nullptr;    // [rows] regression targets (squared error)
  const int64_t* indices = nullptr;  // [batch] dataset rows of this batch (e.g. from cuis::sample); null: 0..batch-1
  const float* weights = nullptr;    // [batch] per-sample weights (importance weights), or null for 1
  int64_t batch = 0;
  float* loss = nullptr;       // out [batch]: each sample's loss before the step, or null
  float* grad_norm = nullptr;  // out [batch]: ||softmax - onehot|| (cross-entropy), or null
};

// Seeded initialisation, identical for both paths: W ~ U(-a, a) with
// a = sqrt(6 / fan_in) (He, for ReLU) or sqrt(6 / (fan_in + fan_out)) (Glorot,
// for tanh), from Philox(seed) with one counter per parameter; biases 0.
std::vector<float> init_params(const MlpShape& shape, uint64_t seed);

}  // namespace cuis
