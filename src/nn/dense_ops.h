// Internal: the dense layers' work of a cuis::Mlp, behind one interface with
// three implementations (MlpBackend):
//   dense_cublas.cu    cuBLAS GEMMs + cuis's bias/activation kernels (any row count)
//   dense_cublaslt.cu  cuBLASLt GEMMs with bias, ReLU, ReLU' and bias-gradient epilogues
//   dense_cudnn.cpp    cuDNN graphs (cudnn-frontend): matmul + bias + activation fused
// Layouts are row-major: X [n, in], W_l [out, in], Y [n, out]. Every call
// enqueues on the stream given to bind(), allocates nothing and is capturable.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cuis/error.h"
#include "cuis/nn/mlp_config.h"

namespace cuis {
namespace detail {

// What every backend reads: fixed for the model's lifetime.
struct DenseContext {
  std::vector<LayerParams> layers;
  Activation activation = Activation::relu;
  Math math = Math::fp32;
  float* params = nullptr;      // flat parameters (cuis/nn/mlp_config.h layout)
  float* grads = nullptr;       // flat gradients, same layout
  const float* ones = nullptr;  // [max_batch] ones (a GEMV bias gradient)
  int64_t max_batch = 0;
  std::vector<int64_t> plan_rows;  // cuBLASLt / cuDNN: the row counts with a plan, ascending, last = max_batch
  cublasHandle_t blas = nullptr;   // the model's cuBLAS handle (bound to the stream and workspace)
  void* workspace = nullptr;       // shared GEMM workspace
  size_t workspace_bytes = 0;
};

class DenseOps {
 public:
  virtual ~DenseOps() = default;
  // Called before a sequence of calls on stream s.
  virtual Error bind(cudaStream_t s) = 0;
  // The row count to run n rows with: n, or the smallest planned count >= n
  // (the caller zeroes the input rows and output gradients between).
  virtual int64_t rows_for(int64_t n) const = 0;
  // y = act(x W_l^T + b_l), no activation on the last layer. n rows.
  virtual Error forward(size_t l, int64_t n, const float* x, float* y, cudaStream_t s) = 0;
  // Gradients of layer l: dW_l = dy^T x and db_l = column sums of dy. When dx
  // is not null also dx = (dy W_l) * act'(x), x being the previous layer's
  // activated output (l > 0). forward() of the same rows must have run since
  // the parameters last changed (cuBLASLt keeps the ReLU mask from it).
  virtual Error backward(size_t l, int64_t n, const float* dy, const float* x, float* dx, cudaStream_t s) = 0;
};

// Builders. On success *out is ready, or, for cuBLASLt and cuDNN, null when
// that backend cannot run this model (no library, engine or algorithm): then
// *note says why and the caller falls back to cuBLAS. A non-null *out may
// come with a note too: what the backend left to cuis's kernels. Errors are
// hard failures (out of memory, CUDA errors).
Error make_cublas_ops(const DenseContext& c, std::unique_ptr<DenseOps>* out);
Error make_cublaslt_ops(const DenseContext& c, std::unique_ptr<DenseOps>* out, std::string* note);
Error make_cudnn_ops(const DenseContext& c, std::unique_ptr<DenseOps>* out, std::string* note);

// The cuDNN library this process loads (dlopen, as the backend does): its
// version (e.g. 91900) and path, or false with *why. Needs no GPU.
bool cudnn_library(int64_t* version, std::string* path, std::string* why);

// Describes every graph the cuDNN backend would build for c (fused and
// unfused forms) and validates it with cudnn-frontend, without a GPU or a
// cuDNN handle (the pointers only give alignments): what a CPU test can
// check of the descriptions. false with *why, or when built without cuDNN.
bool cudnn_validate_graphs(const DenseContext& c, std::string* why);

// cuis's activation kernels (kernels/nn/activation.cuh) for backends written
// in plain C++: y = act(y + b) in place (bias may be null; linear: no
// activation), and da *= act'(a) over count floats.
Error launch_bias_act(float* y, const float* bias, int64_t rows, int32_t cols, Activation act, bool linear,
                      cudaStream_t s);
Error launch_act_backward(float* da, const float* a, int64_t count, Activation act, cudaStream_t s);
// The smallest planned row count >= n (plan_rows ascending, ending at max_batch).
int64_t planned_rows(const std::vector<int64_t>& plan_rows, int64_t n);

}  // namespace detail
}  // namespace cuis
