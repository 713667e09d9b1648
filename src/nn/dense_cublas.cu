// The cuBLAS backend of the dense layers (MlpBackend::cublas): one cublasSgemm
// per product, cuis's kernels for bias + activation and the activation's
// derivative, a GEMV with ones for the bias gradient (deterministic, no
// atomics). Takes any row count. Also the activation launchers that the other
// backends share.
#include <algorithm>

#include "core/cuda_check.h"
#include "core/launch.h"
#include "kernels/nn/activation.cuh"
#include "nn/blas_check.h"
#include "nn/dense_ops.h"

namespace cuis {
namespace detail {
namespace {

Error elementwise_grid(int64_t elements, unsigned* grid) {
  return grid_size((elements + kernels::MLP_THREADS - 1) / kernels::MLP_THREADS, 8, grid);
}

class CublasOps final : public DenseOps {
 public:
  explicit CublasOps(const DenseContext& c) : m_c(c) {}

  Error bind(cudaStream_t) override { return Error::success; }  // the model binds its handle
  int64_t rows_for(int64_t n) const override { return n; }

  Error forward(size_t l, int64_t n, const float* x, float* y, cudaStream_t s) override {
    const float one = 1.0f, zero = 0.0f;
    const LayerParams& L = m_c.layers[l];
    // Row-major Y[n, out] = X[n, in] W^T: column-major Y^T = W^T' X^T.
    CUIS_BLAS_TRY(cublasSgemm(m_c.blas, CUBLAS_OP_T, CUBLAS_OP_N, L.out, static_cast<int>(n), L.in, &one,
                              m_c.params + L.weight, L.in, x, L.in, &zero, y, L.out));
    return launch_bias_act(y, m_c.params + L.bias, n, L.out, m_c.activation, l + 1 == m_c.layers.size(), s);
  }

  Error backward(size_t l, int64_t n, const float* dy, const float* x, float* dx, cudaStream_t s) override {
    const float one = 1.0f, zero = 0.0f;
    const LayerParams& L = m_c.layers[l];
    // dW[out, in] = dY^T X: column-major dW^T = X^T dY.
    CUIS_BLAS_TRY(cublasSgemm(m_c.blas, CUBLAS_OP_N, CUBLAS_OP_T, L.in, L.out, static_cast<int>(n), &one, x, L.in, dy,
                              L.out, &zero, m_c.grads + L.weight, L.in));
    // db = column sums of dY (a GEMV with ones: deterministic, no atomics).
    CUIS_BLAS_TRY(cublasSgemv(m_c.blas, CUBLAS_OP_N, L.out, static_cast<int>(n), &one, dy, L.out, m_c.ones, 1, &zero,
                              m_c.grads + L.bias, 1));
    if (!dx) return Error::success;
    // dX[n, in] = dY W, then through the previous layer's activation.
    CUIS_BLAS_TRY(cublasSgemm(m_c.blas, CUBLAS_OP_N, CUBLAS_OP_N, L.in, static_cast<int>(n), L.out, &one,
                              m_c.params + L.weight, L.in, dy, L.out, &zero, dx, L.in));
    return launch_act_backward(dx, x, n * L.in, m_c.activation, s);
  }

 private:
  DenseContext m_c;
};

}  // namespace

Error make_cublas_ops(const DenseContext& c, std::unique_ptr<DenseOps>* out) {
  *out = std::make_unique<CublasOps>(c);
  return Error::success;
}

Error launch_bias_act(float* y, const float* bias, int64_t rows, int32_t cols, Activation act, bool linear,
                      cudaStream_t s) {
  if (linear && !bias) return Error::success;
  unsigned grid = 0;
  CUIS_TRY(elementwise_grid(rows * cols, &grid));
  kernels::bias_act_kernel<<<grid, kernels::MLP_THREADS, 0, s>>>(y, bias, rows, cols, act, linear);
  CUIS_LAUNCH_CHECK(s);
  return Error::success;
}

Error launch_act_backward(float* da, const float* a, int64_t count, Activation act, cudaStream_t s) {
  unsigned grid = 0;
  CUIS_TRY(elementwise_grid(count, &grid));
  kernels::act_backward_kernel<<<grid, kernels::MLP_THREADS, 0, s>>>(da, a, count, act);
  CUIS_LAUNCH_CHECK(s);
  return Error::success;
}

int64_t planned_rows(const std::vector<int64_t>& plan_rows, int64_t n) {
  const auto it = std::lower_bound(plan_rows.begin(), plan_rows.end(), n);
  return it == plan_rows.end() ? n : *it;
}

}  // namespace detail
}  // namespace cuis
