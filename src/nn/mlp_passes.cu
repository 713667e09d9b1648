// cuis::Mlp's launch sequence, piece by piece: the cuBLAS GEMMs of the
// forward and backward passes, and the kernels around them. A training step is
//   memset flags | gather | (GEMM, bias+act) per layer | loss | (dW GEMM, db GEMV,
//   dX GEMM, act') per layer | status + step count | fused optimizer update
#include "core/cuda_check.h"
#include "kernels/nn/activation.cuh"
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
  return Error::success;
}

// acts[L] = network(acts[0]) for n rows.
Error Mlp::Impl::forward(int64_t n, cudaStream_t s) {
  const float one = 1.0f, zero = 0.0f;
  for (size_t l = 0; l < layers.size(); ++l) {
    const LayerParams& L = layers[l];
    // Row-major Y[n, out] = X[n, in] W^T: column-major Y^T = W^T' X^T.
    CUIS_BLAS_TRY(cublasSgemm(blas, CUBLAS_OP_T, CUBLAS_OP_N, L.out, static_cast<int>(n), L.in, &one,
                              params.data() + L.weight, L.in, act(l), L.in, &zero, act(l + 1), L.out));
    unsigned grid = 0;
    CUIS_TRY(mlp_grid(n * L.out, &grid));
    kernels::bias_act_kernel<<<grid, kernels::MLP_THREADS, 0, s>>>(act(l + 1), params.data() + L.bias, n, L.out,
                                                                   shape.activation, l + 1 == layers.size());
    CUIS_LAUNCH_CHECK(s);
  }
  return Error::success;
}

// Gradients of every parameter from delta[0] = dLoss/dOutputs (n rows).
Error Mlp::Impl::backward(int64_t n, cudaStream_t s) {
  const float one = 1.0f, zero = 0.0f;
  int cur = 0;
  for (size_t l = layers.size(); l-- > 0;) {
    const LayerParams& L = layers[l];
    const float* dy = delta[cur].data();
    // dW[out, in] = dY^T X: column-major dW^T = X^T dY.
    CUIS_BLAS_TRY(cublasSgemm(blas, CUBLAS_OP_N, CUBLAS_OP_T, L.in, L.out, static_cast<int>(n), &one, act(l), L.in, dy,
                              L.out, &zero, grads.data() + L.weight, L.in));
    // db = column sums of dY (a GEMV with ones: deterministic, no atomics).
    CUIS_BLAS_TRY(cublasSgemv(blas, CUBLAS_OP_N, L.out, static_cast<int>(n), &one, dy, L.out, ones.data(), 1, &zero,
                              grads.data() + L.bias, 1));
    if (l == 0) break;
    // dX[n, in] = dY W, then through the previous layer's activation.
    CUIS_BLAS_TRY(cublasSgemm(blas, CUBLAS_OP_N, CUBLAS_OP_N, L.in, static_cast<int>(n), L.out, &one,
                              params.data() + L.weight, L.in, dy, L.out, &zero, delta[1 - cur].data(), L.in));
    unsigned grid = 0;
    CUIS_TRY(mlp_grid(n * L.in, &grid));
    kernels::act_backward_kernel<<<grid, kernels::MLP_THREADS, 0, s>>>(delta[1 - cur].data(), act(l), n * L.in,
                                                                       shape.activation);
    CUIS_LAUNCH_CHECK(s);
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
