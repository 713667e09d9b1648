// Parameter blocks and device-side state of the MLP trainer's kernels (the
// dense layers' GEMMs belong to a backend, src/nn/dense_ops.h: cuBLAS,
// cuBLASLt or cuDNN):
//   gather.cuh:       batch rows (and labels / targets) by index, validated
//   activation.cuh:   Y = act(Y + b) after a GEMM; dA *= act'(A) before one
//                     (the cuBLAS backend, and the others where they cannot fuse)
//   batch_status.cuh: the step's DeviceStatus; Adam's bias corrections
//   optimizer.cuh:    fused SGD and Adam updates over the flat parameters
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "cuis/error.h"
#include "cuis/nn/mlp_config.h"

namespace cuis {
namespace kernels {

constexpr int MLP_THREADS = 256;

// Flags of one batch, reset (0xFF bytes) before it: lowest bad position per stage.
struct BatchFlags {
  unsigned long long gather_bad;
  unsigned long long loss_bad;
};

// Device-side optimizer state that a captured graph must advance itself.
struct StepState {
  unsigned long long step;
  double bc1, bc2;  // 1 - beta^step (Adam)
  int skip;         // 1: this batch was bad, do not update
  int reserved;
};

struct GatherParams {
  const float* data;
  int64_t rows;
  int32_t features;
  const int32_t* labels;   // or null
  const float* targets;    // or null
  const int64_t* indices;  // or null: position j is row j + first
  int64_t first;
  const float* weights;  // or null
  int64_t batch;
  int64_t pos_offset;     // added to positions recorded in the flags
  float* x;               // out [batch, features]
  int32_t* batch_labels;  // out [batch] or null
  float* batch_targets;   // out [batch] or null
  BatchFlags* flags;
};

struct BatchStatusParams {
  const BatchFlags* flags;
  // To name the problem: the dataset, the batch and the network outputs.
  const float* data;
  int64_t rows;
  int32_t features;
  const int32_t* labels;
  const float* targets;
  const int64_t* indices;
  const float* weights;
  const float* outputs;  // [batch, classes] of the current chunk
  int32_t classes;
  int64_t chunk_first;      // position of outputs' first row
  bool keep_earlier_error;  // later chunks of a score() keep the first error
  DeviceStatus* status;
  // Training only (null otherwise): Adam's bias corrections.
  StepState* step;
  float beta1, beta2;
};

struct UpdateParams {
  float* params;
  const float* grads;
  float* state;  // SGD: velocity [n]; Adam: m [n] then v [n]
  int64_t n;
  OptimizerConfig opt;
  const StepState* step;
};

}  // namespace kernels
}  // namespace cuis
