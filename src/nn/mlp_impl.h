// Internal: the device state of one cuis::Mlp (parameters, optimizer state,
// activations, the cuBLAS handle and its fixed workspace, the dense layers'
// backend) and the pieces of its launch sequence, defined in mlp_passes.cu.
// Included by CUDA sources only.
#pragma once

#include <cublas_v2.h>

#include <memory>
#include <string>
#include <vector>

#include "core/error_detail.h"
#include "core/launch.h"
#include "cuis/device_buffer.h"
#include "cuis/mlp.h"
#include "kernels/nn/mlp_params.h"
#include "nn/dense_ops.h"

namespace cuis {

// cuBLAS's recommended workspace for Hopper; fixed, so that a captured graph
// holds no allocation.
constexpr size_t BLAS_WORKSPACE = size_t{32} << 20;

// Grid for an elementwise MLP kernel over `elements` items.
inline Error mlp_grid(int64_t elements, unsigned* grid) {
  return detail::grid_size((elements + kernels::MLP_THREADS - 1) / kernels::MLP_THREADS, 8, grid);
}

struct Mlp::Impl {
  MlpShape shape;
  OptimizerConfig opt;
  std::vector<LayerParams> layers;
  std::vector<int64_t> act_offset;  // acts[l] at act_offset[l], max_batch * sizes[l] floats
  int64_t max_batch = 0;
  cublasHandle_t blas = nullptr;
  std::unique_ptr<detail::DenseOps> dense;  // the dense layers (dense_ops.h); destroyed before the handle
  MlpBackend backend = MlpBackend::cublas;  // in use
  std::string backend_note;
  DeviceBuffer<float> params, grads, state, acts, delta[2], ones, batch_targets, loss_tmp;
  DeviceBuffer<int32_t> batch_labels, correct;
  DeviceBuffer<char> blas_ws;
  DeviceBuffer<kernels::BatchFlags> flags;
  DeviceBuffer<kernels::StepState> step;
  DeviceBuffer<DeviceStatus> status, eval_status;

  ~Impl() {
    dense.reset();
    if (blas) cublasDestroy(blas);
  }
  int32_t classes() const { return shape.sizes.back(); }
  float* act(size_t l) const { return acts.data() + act_offset[l]; }

  // Only the inputs this model's loss reads.
  const int32_t* used(const int32_t* labels) const { return shape.loss == LossKind::cross_entropy ? labels : nullptr; }
  const float* used(const float* targets) const { return shape.loss == LossKind::squared_error ? targets : nullptr; }

  // The launch sequence's pieces (mlp_passes.cu).
  // cublasSetStream resets the workspace to cuBLAS's own pool: set ours again,
  // so that captured graphs hold no allocations and plain and captured steps
  // pick the same GEMM algorithms.
  Error bind(cudaStream_t s);
  // acts[L] = network(acts[0]) for n rows. A backend with fixed plans runs
  // the planned count >= n, the rows between zeroed in acts[0] first.
  Error forward(int64_t n, cudaStream_t s);
  // Gradients of every parameter from delta[0] = dLoss/dOutputs (n rows; the
  // padded rows of forward() zeroed in delta[0] first).
  Error backward(int64_t n, cudaStream_t s);
  // Chooses and builds the dense layers' backend (init).
  Error make_dense(const MlpOptions& o);
  // Gathers rows [first, first + n) of the batch (positions; indices maps them
  // to dataset rows) into acts[0] and the label / target buffers.
  Error gather(const float* data, int64_t rows, const int32_t* labels, const float* targets, const int64_t* indices,
               const float* weights, int64_t first, int64_t n, cudaStream_t s);
  // Per-sample loss of the n rows in acts[L]; dlogits into delta[0] when wanted.
  Error loss(int64_t n, const float* weights, float grad_scale, float* out_loss, float* out_norm, bool with_grad,
             int32_t* correct_out, int64_t row_offset, cudaStream_t s);
  Error status_kernel(const float* data, int64_t rows, const int32_t* labels, const float* targets,
                      const int64_t* indices, const float* weights, int64_t chunk_first, bool keep_earlier,
                      DeviceStatus* out, bool training, cudaStream_t s);
  Error update(cudaStream_t s);

  Error check_data(const float* data, int64_t rows, const int32_t* labels, const float* targets) const {
    if (!data) return detail::set_error(Error::null_pointer, "data must not be null");
    if (shape.loss == LossKind::cross_entropy && !labels)
      return detail::set_error(Error::null_pointer, "a cross-entropy model needs labels");
    if (shape.loss == LossKind::squared_error && !targets)
      return detail::set_error(Error::null_pointer, "a squared-error model needs targets");
    if (rows <= 0) return detail::set_error(Error::empty_input, "the dataset has no rows");
    return Error::success;
  }
};

}  // namespace cuis
