// The MLP trainer's own kernels; the GEMMs are cuBLAS calls in src/mlp.cu.
//   gather_kernel:       batch rows (and labels / targets) by index, validated
//   bias_act_kernel:     Y = act(Y + b), in place after a GEMM
//   act_backward_kernel: dA *= act'(A), from the activation's output
//   batch_status_kernel: the step's DeviceStatus; Adam's bias corrections
//   sgd_kernel, adam_kernel: fused optimizer updates over the flat parameters
// cuDNN is not used: its fusions target convolutions, and for dense layers
// cuBLAS GEMMs plus these elementwise kernels are the whole computation.
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
  const float* weights;    // or null
  int64_t batch;
  int64_t pos_offset;      // added to positions recorded in the flags
  float* x;                // out [batch, features]
  int32_t* batch_labels;   // out [batch] or null
  float* batch_targets;    // out [batch] or null
  BatchFlags* flags;
};

__global__ void __launch_bounds__(MLP_THREADS) gather_kernel(GatherParams p) {
  const int64_t total = p.batch * p.features;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * MLP_THREADS + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * MLP_THREADS) {
    const int64_t j = e / p.features, f = e - j * p.features;
    const int64_t row = p.indices ? p.indices[j] : j + p.first;
    const bool in_range = row >= 0 && row < p.rows;
    const float v = in_range ? p.data[row * p.features + f] : 0.0f;
    bool bad = !in_range || !isfinite(v);
    if (f == 0) {
      if (p.weights) bad |= !(p.weights[j] >= 0.0f && p.weights[j] <= 3.402823466e38f);
      if (p.batch_labels) p.batch_labels[j] = in_range ? p.labels[row] : 0;
      if (p.batch_targets) p.batch_targets[j] = in_range ? p.targets[row] : 0.0f;
    }
    if (bad) atomicMin(&p.flags->gather_bad, static_cast<unsigned long long>(j + p.pos_offset));
    // A bad element becomes NaN, so the row's loss comes out NaN (and the
    // step is skipped) instead of a finite, meaningless number.
    p.x[e] = bad ? NAN : v;
  }
}

// ReLU as x < 0 ? 0 : x, so that a bad row's NaN reaches its loss (fmaxf would drop it).
__device__ __forceinline__ float activate(Activation a, float x) { return a == Activation::relu ? (x < 0.0f ? 0.0f : x) : tanhf(x); }

__global__ void __launch_bounds__(MLP_THREADS) bias_act_kernel(float* y, const float* bias, int64_t rows, int32_t cols,
                                                               Activation act, bool linear) {
  const int64_t total = rows * cols;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * MLP_THREADS + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * MLP_THREADS) {
    const float z = y[e] + bias[e % cols];
    y[e] = linear ? z : activate(act, z);
  }
}

__global__ void __launch_bounds__(MLP_THREADS) act_backward_kernel(float* da, const float* a, int64_t n, Activation act) {
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * MLP_THREADS + threadIdx.x; e < n;
       e += static_cast<int64_t>(gridDim.x) * MLP_THREADS) {
    const float y = a[e];
    da[e] *= act == Activation::relu ? (y > 0.0f ? 1.0f : 0.0f) : 1.0f - y * y;
  }
}

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
  const float* outputs;     // [batch, classes] of the current chunk
  int32_t classes;
  int64_t chunk_first;      // position of outputs' first row
  bool keep_earlier_error;  // later chunks of a score() keep the first error
  DeviceStatus* status;
  // Training only (null otherwise): Adam's bias corrections.
  StepState* step;
  float beta1, beta2;
};

__global__ void batch_status_kernel(BatchStatusParams p) {
  if (p.keep_earlier_error && p.status->code != Error::success) return;
  DeviceStatus st{Error::success, 0, -1, 0.0f, 0.0f, 0};
  // The lowest bad position wins; at one position a gather problem (index,
  // feature, weight) is named before a loss problem (label, output).
  const unsigned long long g = p.flags->gather_bad, l = p.flags->loss_bad;
  if (g != ~0ull && g <= l) {
    const int64_t j = static_cast<int64_t>(g);
    const int64_t row = p.indices ? p.indices[j] : j;
    st.index = j;
    if (row < 0 || row >= p.rows) {
      st.code = Error::index_out_of_range;
      st.value = static_cast<float>(row);
    } else {
      st.code = Error::non_finite_value;
      bool found = false;
      for (int32_t f = 0; f < p.features && !found; ++f) {
        const float v = p.data[row * p.features + f];
        if (!isfinite(v)) {
          st.value = v;
          found = true;
        }
      }
      if (!found && p.weights) st.value = p.weights[j];
    }
  } else if (l != ~0ull) {
    const int64_t j = static_cast<int64_t>(l);
    const int64_t row = p.indices ? p.indices[j] : j;
    st.index = j;
    const float* out = p.outputs + (j - p.chunk_first) * p.classes;
    if (p.labels && (p.labels[row] < 0 || p.labels[row] >= p.classes)) {
      st.code = Error::invalid_label;
      st.value = static_cast<float>(p.labels[row]);
    } else {
      st.code = Error::non_finite_value;
      for (int32_t c = 0; c < p.classes; ++c)
        if (!isfinite(out[c])) {
          st.value = out[c];
          break;
        }
      if (!p.labels && isfinite(out[0])) st.value = p.targets[row];
    }
  }
  *p.status = st;
  if (p.step) {
    p.step->skip = st.code != Error::success;
    if (!p.step->skip) {
      const unsigned long long t = ++p.step->step;
      p.step->bc1 = 1.0 - pow(static_cast<double>(p.beta1), static_cast<double>(t));
      p.step->bc2 = 1.0 - pow(static_cast<double>(p.beta2), static_cast<double>(t));
    }
  }
}

struct UpdateParams {
  float* params;
  const float* grads;
  float* state;  // SGD: velocity [n]; Adam: m [n] then v [n]
  int64_t n;
  OptimizerConfig opt;
  const StepState* step;
};

__global__ void __launch_bounds__(MLP_THREADS) sgd_kernel(UpdateParams p) {
  if (p.step->skip) return;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * MLP_THREADS + threadIdx.x; i < p.n;
       i += static_cast<int64_t>(gridDim.x) * MLP_THREADS) {
    const float g = p.grads[i] + p.opt.weight_decay * p.params[i];
    const float v = p.opt.momentum * p.state[i] + g;
    p.state[i] = v;
    p.params[i] -= p.opt.lr * v;
  }
}

__global__ void __launch_bounds__(MLP_THREADS) adam_kernel(UpdateParams p) {
  if (p.step->skip) return;
  const double bc1 = p.step->bc1, bc2 = p.step->bc2;
  float* m = p.state;
  float* v = p.state + p.n;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * MLP_THREADS + threadIdx.x; i < p.n;
       i += static_cast<int64_t>(gridDim.x) * MLP_THREADS) {
    const float g = p.grads[i] + p.opt.weight_decay * p.params[i];
    const float mi = p.opt.beta1 * m[i] + (1.0f - p.opt.beta1) * g;
    const float vi = p.opt.beta2 * v[i] + (1.0f - p.opt.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    const double mhat = mi / bc1, vhat = vi / bc2;
    p.params[i] -= static_cast<float>(p.opt.lr * mhat / (sqrt(vhat) + p.opt.eps));
  }
}

}  // namespace kernels
}  // namespace cuis
