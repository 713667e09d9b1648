// cuis::Mlp's launch sequence, piece by piece: the forward and backward
// passes (the dense layers' backend, dense_ops.h), and the kernels around
// them. A training step is
//   memset flags | gather | forward per layer | loss | backward per layer
//   (dW, db, dX and act') | status + step count | fused optimizer update
#include "core/cuda_check.h"
#include "kernels/nn/batch_status.cuh"
#include "kernels/nn/gather.cuh"
#include "kernels/nn/optimizer.cuh"
#include "nn/blas_check.h"
#include "nn/loss_launch.h"
#include "nn/mlp_impl.h"

namespace cuis {

// cublasSetStream resets the workspace to cuBLAS's own pool: set ours again,
// so that captured graphs hold no allocations and plain and captured steps
// pick the same GEMM algorithms.
Error Mlp::Impl::bind(cudaStream_t s) {
  CUIS_BLAS_TRY(cublasSetStream(blas, s));
  CUIS_BLAS_TRY(cublasSetWorkspace(blas, blas_ws.data(), BLAS_WORKSPACE));
  return dense->bind(s);
}

// acts[L] = network(acts[0]) for n rows (padded to the backend's planned count).
Error Mlp::Impl::forward(int64_t n, cudaStream_t s) {
  const int64_t rows = dense->rows_for(n);
  if (rows > n)
    CUIS_CUDA_TRY(cudaMemsetAsync(act(0) + n * shape.sizes[0], 0, (rows - n) * shape.sizes[0] * sizeof(float), s));
  for (size_t l = 0; l < layers.size(); ++l) CUIS_TRY(dense->forward(l, rows, act(l), act(l + 1), s));
  return Error::success;
}

// Gradients of every parameter from delta[0] = dLoss/dOutputs (n rows).
Error Mlp::Impl::backward(int64_t n, cudaStream_t s) {
  const int64_t rows = dense->rows_for(n);
  if (rows > n)  // padded rows contribute nothing: zero output gradient, finite (zero-input) activations
    CUIS_CUDA_TRY(cudaMemsetAsync(delta[0].data() + n * classes(), 0, (rows - n) * classes() * sizeof(float), s));
  int cur = 0;
  for (size_t l = layers.size(); l-- > 0;) {
    float* dx = l == 0 ? nullptr : delta[1 - cur].data();
    CUIS_TRY(dense->backward(l, rows, delta[cur].data(), act(l), dx, s));
    cur = 1 - cur;
  }
  return Error::success;
}

// Gathers rows [first, first + n) of the batch (positions; indices maps them
// to dataset rows) into acts[0] and the label / target buffers.
Error Mlp::Impl::gather(const float* data, int64_t rows, const int32_t* labels, const float* targets,
                        const int64_t* indices, const float* weights, int64_t first, int64_t n, cudaStream_t s) {
  unsigned grid = 0;
  CUIS_TRY(mlp_grid(n * shape.sizes[0], &grid));
  const kernels::GatherParams gp{data,
                                 rows,
                                 shape.sizes[0],
                                 labels,
                                 targets,
                                 indices ? indices + first : nullptr,
                                 first,
                                 weights ? weights + first : nullptr,
                                 n,
                                 first,
                                 act(0),
                                 labels ? batch_labels.data() : nullptr,
                                 targets ? batch_targets.data() : nullptr,
                                 flags.data()};
  kernels::gather_kernel<<<grid, kernels::MLP_THREADS, 0, s>>>(gp);
  CUIS_LAUNCH_CHECK(s);
  return Error::success;
}

// Per-sample loss of the n rows in acts[L]; dlogits into delta[0] when wanted.
Error Mlp::Impl::loss(int64_t n, const float* weights, float grad_scale, float* out_loss, float* out_norm,
                      bool with_grad, int32_t* correct_out, int64_t row_offset, cudaStream_t s) {
  if (shape.loss == LossKind::cross_entropy)
    return detail::launch_cross_entropy(
        kernels::CrossEntropyParams{act(layers.size()), batch_labels.data(), n, classes(), weights, grad_scale,
                                    out_loss, out_norm, with_grad ? delta[0].data() : nullptr, correct_out,
                                    &flags.data()->loss_bad, row_offset},
        s);
  return detail::launch_squared_error(
      kernels::SquaredErrorParams{act(layers.size()), batch_targets.data(), n, weights, grad_scale, out_loss, out_norm,
                                  with_grad ? delta[0].data() : nullptr, &flags.data()->loss_bad, row_offset},
      s);
}

Error Mlp::Impl::status_kernel(const float* data, int64_t rows, const int32_t* labels, const float* targets,
                               const int64_t* indices, const float* weights, int64_t chunk_first, bool keep_earlier,
                               DeviceStatus* out, bool training, cudaStream_t s) {
  const kernels::BatchStatusParams bp{flags.data(),
                                      data,
                                      rows,
                                      shape.sizes[0],
                                      labels,
                                      targets,
                                      indices,
                                      weights,
                                      act(layers.size()),
                                      classes(),
                                      chunk_first,
                                      keep_earlier,
                                      out,
                                      training ? step.data() : nullptr,
                                      opt.beta1,
                                      opt.beta2};
  kernels::batch_status_kernel<<<1, 1, 0, s>>>(bp);
  CUIS_LAUNCH_CHECK(s);
  return Error::success;
}

Error Mlp::Impl::update(cudaStream_t s) {
  const int64_t n = static_cast<int64_t>(params.size());
  unsigned grid = 0;
  CUIS_TRY(mlp_grid(n, &grid));
  const kernels::UpdateParams up{params.data(), grads.data(), state.data(), n, opt, step.data()};
  if (opt.kind == OptimizerKind::sgd) {
    kernels::sgd_kernel<<<grid, kernels::MLP_THREADS, 0, s>>>(up);
  } else {
    kernels::adam_kernel<<<grid, kernels::MLP_THREADS, 0, s>>>(up);
  }
  CUIS_LAUNCH_CHECK(s);
  return Error::success;
}

}  // namespace cuis
