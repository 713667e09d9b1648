// cuis::Mlp: buffers, the cuBLAS GEMMs of the forward and backward passes, and
// the launch sequence of a training step:
//   memset flags | gather | (GEMM, bias+act) per layer | loss | (dW GEMM, db GEMV,
//   dX GEMM, act') per layer | status + step count | fused optimizer update
#include <cublas_v2.h>

#include <algorithm>
#include <string>
#include <utility>

#include "core/cuda_check.h"
#include "cuis/device_buffer.h"
#include "cuis/mlp.h"
#include "kernels/nn/mlp.cuh"
#include "core/launch.h"
#include "nn/loss_launch.h"

namespace cuis {

using detail::set_error;

namespace {

const char* blas_name(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    default: return "cuBLAS error";
  }
}

#define CUIS_BLAS_TRY(call)                                                                              \
  do {                                                                                                   \
    const cublasStatus_t cuis_bs_ = (call);                                                              \
    if (cuis_bs_ != CUBLAS_STATUS_SUCCESS)                                                               \
      return set_error(cuis_bs_ == CUBLAS_STATUS_ALLOC_FAILED ? Error::out_of_memory : Error::cuda_error, \
                       std::string(__FILE__) + ":" + std::to_string(__LINE__) + ": " + #call + ": " +    \
                           blas_name(cuis_bs_));                                                         \
  } while (0)

#define CUIS_TRY(expr)                                   \
  do {                                                   \
    const Error cuis_e_ = (expr);                        \
    if (cuis_e_ != Error::success) return cuis_e_;       \
  } while (0)

constexpr size_t BLAS_WORKSPACE = size_t{32} << 20;  // cuBLAS's recommendation for Hopper; fixed for graph capture

Error grid_for(int64_t elements, unsigned* grid) {
  return detail::grid_size((elements + kernels::MLP_THREADS - 1) / kernels::MLP_THREADS, 8, grid);
}

}  // namespace

struct Mlp::Impl {
  MlpShape shape;
  OptimizerConfig opt;
  std::vector<LayerParams> layers;
  std::vector<int64_t> act_offset;  // acts[l] at act_offset[l], max_batch * sizes[l] floats
  int64_t max_batch = 0;
  cublasHandle_t blas = nullptr;
  DeviceBuffer<float> params, grads, state, acts, delta[2], ones, batch_targets, loss_tmp;
  DeviceBuffer<int32_t> batch_labels, correct;
  DeviceBuffer<char> blas_ws;
  DeviceBuffer<kernels::BatchFlags> flags;
  DeviceBuffer<kernels::StepState> step;
  DeviceBuffer<DeviceStatus> status, eval_status;

  ~Impl() {
    if (blas) cublasDestroy(blas);
  }
  int32_t classes() const { return shape.sizes.back(); }
  float* act(size_t l) const { return acts.data() + act_offset[l]; }

  // cublasSetStream resets the workspace to cuBLAS's own pool: set ours again,
  // so that captured graphs hold no allocations and plain and captured steps
  // pick the same GEMM algorithms.
  Error bind(cudaStream_t s) {
    CUIS_BLAS_TRY(cublasSetStream(blas, s));
    CUIS_BLAS_TRY(cublasSetWorkspace(blas, blas_ws.data(), BLAS_WORKSPACE));
    return Error::success;
  }
  // Only the inputs this model's loss reads.
  const int32_t* used(const int32_t* labels) const { return shape.loss == LossKind::cross_entropy ? labels : nullptr; }
  const float* used(const float* targets) const { return shape.loss == LossKind::squared_error ? targets : nullptr; }

  // acts[L] = network(acts[0]) for n rows.
  Error forward(int64_t n, cudaStream_t s) {
    const float one = 1.0f, zero = 0.0f;
    for (size_t l = 0; l < layers.size(); ++l) {
      const LayerParams& L = layers[l];
      // Row-major Y[n, out] = X[n, in] W^T: column-major Y^T = W^T' X^T.
      CUIS_BLAS_TRY(cublasSgemm(blas, CUBLAS_OP_T, CUBLAS_OP_N, L.out, static_cast<int>(n), L.in, &one,
                                params.data() + L.weight, L.in, act(l), L.in, &zero, act(l + 1), L.out));
      unsigned grid = 0;
      CUIS_TRY(grid_for(n * L.out, &grid));
      kernels::bias_act_kernel<<<grid, kernels::MLP_THREADS, 0, s>>>(act(l + 1), params.data() + L.bias, n, L.out,
                                                                    shape.activation, l + 1 == layers.size());
      CUIS_LAUNCH_CHECK(s);
    }
    return Error::success;
  }

  // Gradients of every parameter from delta[0] = dLoss/dOutputs (n rows).
  Error backward(int64_t n, cudaStream_t s) {
    const float one = 1.0f, zero = 0.0f;
    int cur = 0;
    for (size_t l = layers.size(); l-- > 0;) {
      const LayerParams& L = layers[l];
      const float* dy = delta[cur].data();
      // dW[out, in] = dY^T X: column-major dW^T = X^T dY.
      CUIS_BLAS_TRY(cublasSgemm(blas, CUBLAS_OP_N, CUBLAS_OP_T, L.in, L.out, static_cast<int>(n), &one, act(l), L.in,
                                dy, L.out, &zero, grads.data() + L.weight, L.in));
      // db = column sums of dY (a GEMV with ones: deterministic, no atomics).
      CUIS_BLAS_TRY(cublasSgemv(blas, CUBLAS_OP_N, L.out, static_cast<int>(n), &one, dy, L.out, ones.data(), 1, &zero,
                                grads.data() + L.bias, 1));
      if (l == 0) break;
      // dX[n, in] = dY W, then through the previous layer's activation.
      CUIS_BLAS_TRY(cublasSgemm(blas, CUBLAS_OP_N, CUBLAS_OP_N, L.in, static_cast<int>(n), L.out, &one,
                                params.data() + L.weight, L.in, dy, L.out, &zero, delta[1 - cur].data(), L.in));
      unsigned grid = 0;
      CUIS_TRY(grid_for(n * L.in, &grid));
      kernels::act_backward_kernel<<<grid, kernels::MLP_THREADS, 0, s>>>(delta[1 - cur].data(), act(l), n * L.in,
                                                                        shape.activation);
      CUIS_LAUNCH_CHECK(s);
      cur = 1 - cur;
    }
    return Error::success;
  }

  // Gathers rows [first, first + n) of the batch (positions; indices maps them
  // to dataset rows) into acts[0] and the label / target buffers.
  Error gather(const float* data, int64_t rows, const int32_t* labels, const float* targets, const int64_t* indices,
               const float* weights, int64_t first, int64_t n, cudaStream_t s) {
    unsigned grid = 0;
    CUIS_TRY(grid_for(n * shape.sizes[0], &grid));
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
  Error loss(int64_t n, const float* weights, float grad_scale, float* out_loss, float* out_norm, bool with_grad,
             int32_t* correct_out, int64_t row_offset, cudaStream_t s) {
    if (shape.loss == LossKind::cross_entropy)
      return detail::launch_cross_entropy(
          kernels::CrossEntropyParams{act(layers.size()), batch_labels.data(), n, classes(), weights, grad_scale,
                                      out_loss, out_norm, with_grad ? delta[0].data() : nullptr, correct_out,
                                      &flags.data()->loss_bad, row_offset},
          s);
    return detail::launch_squared_error(
        kernels::SquaredErrorParams{act(layers.size()), batch_targets.data(), n, weights, grad_scale, out_loss,
                                    out_norm, with_grad ? delta[0].data() : nullptr, &flags.data()->loss_bad,
                                    row_offset},
        s);
  }

  Error status_kernel(const float* data, int64_t rows, const int32_t* labels, const float* targets,
                      const int64_t* indices, const float* weights, int64_t chunk_first, bool keep_earlier,
                      DeviceStatus* out, bool training, cudaStream_t s) {
    const kernels::BatchStatusParams bp{flags.data(), data,    rows,          shape.sizes[0], labels,
                                        targets,      indices, weights,       act(layers.size()), classes(),
                                        chunk_first,  keep_earlier, out,      training ? step.data() : nullptr,
                                        opt.beta1,    opt.beta2};
    kernels::batch_status_kernel<<<1, 1, 0, s>>>(bp);
    CUIS_LAUNCH_CHECK(s);
    return Error::success;
  }

  Error update(cudaStream_t s) {
    const int64_t n = static_cast<int64_t>(params.size());
    unsigned grid = 0;
    CUIS_TRY(grid_for(n, &grid));
    const kernels::UpdateParams up{params.data(), grads.data(), state.data(), n, opt, step.data()};
    if (opt.kind == OptimizerKind::sgd) {
      kernels::sgd_kernel<<<grid, kernels::MLP_THREADS, 0, s>>>(up);
    } else {
      kernels::adam_kernel<<<grid, kernels::MLP_THREADS, 0, s>>>(up);
    }
    CUIS_LAUNCH_CHECK(s);
    return Error::success;
  }

  Error check_data(const float* data, int64_t rows, const int32_t* labels, const float* targets) const {
    if (!data) return set_error(Error::null_pointer, "data must not be null");
    if (shape.loss == LossKind::cross_entropy && !labels)
      return set_error(Error::null_pointer, "a cross-entropy model needs labels");
    if (shape.loss == LossKind::squared_error && !targets)
      return set_error(Error::null_pointer, "a squared-error model needs targets");
    if (rows <= 0) return set_error(Error::empty_input, "the dataset has no rows");
    return Error::success;
  }
};

Mlp::Mlp() = default;
Mlp::~Mlp() = default;
Mlp::Mlp(Mlp&&) noexcept = default;
Mlp& Mlp::operator=(Mlp&&) noexcept = default;

Error Mlp::init(const MlpShape& shape, const OptimizerConfig& opt, int64_t max_batch, uint64_t seed, Math math) {
  CUIS_TRY(validate_shape(shape));
  if (math != Math::fp32 && math != Math::tf32) return set_error(Error::invalid_argument, "math must be fp32 or tf32");
  CUIS_TRY(validate_optimizer(opt));
  if (max_batch < 1 || max_batch > (int64_t{1} << 24))
    return set_error(Error::invalid_argument, "max_batch must be in [1, 2^24]");
  auto impl = std::make_unique<Impl>();
  Impl& d = *impl;
  d.shape = shape;
  d.opt = opt;
  d.layers = param_layout(shape);
  d.max_batch = max_batch;
  int64_t act_total = 0;
  int32_t widest = 0;
  for (int32_t size : shape.sizes) {
    d.act_offset.push_back(act_total);
    act_total += max_batch * size;
    widest = std::max(widest, size);
  }
  const std::vector<float> p = init_params(shape, seed);
  const int64_t n = static_cast<int64_t>(p.size());
  CUIS_TRY(d.params.resize(n));
  CUIS_TRY(d.grads.resize(n));
  CUIS_TRY(d.state.resize(optimizer_state_count(opt.kind, n)));
  CUIS_TRY(d.acts.resize(act_total));
  CUIS_TRY(d.delta[0].resize(max_batch * widest));
  CUIS_TRY(d.delta[1].resize(max_batch * widest));
  CUIS_TRY(d.ones.resize(max_batch));
  CUIS_TRY(d.batch_targets.resize(max_batch));
  CUIS_TRY(d.loss_tmp.resize(max_batch));
  CUIS_TRY(d.batch_labels.resize(max_batch));
  CUIS_TRY(d.correct.resize(max_batch));
  CUIS_TRY(d.blas_ws.resize(BLAS_WORKSPACE));
  CUIS_TRY(d.flags.resize(1));
  CUIS_TRY(d.step.resize(1));
  CUIS_TRY(d.status.resize(1));
  CUIS_TRY(d.eval_status.resize(1));
  CUIS_BLAS_TRY(cublasCreate(&d.blas));
  CUIS_BLAS_TRY(cublasSetWorkspace(d.blas, d.blas_ws.data(), BLAS_WORKSPACE));
  CUIS_BLAS_TRY(cublasSetMathMode(d.blas, math == Math::tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  const std::vector<float> ones(max_batch, 1.0f);
  const kernels::StepState zero_step{0, 0.0, 0.0, 0, 0};
  const DeviceStatus ok{Error::success, 0, -1, 0.0f, 0.0f, 0};
  CUIS_CUDA_TRY(cudaMemcpy(d.params.data(), p.data(), n * sizeof(float), cudaMemcpyHostToDevice));
  CUIS_CUDA_TRY(cudaMemset(d.state.data(), 0, d.state.bytes()));
  CUIS_CUDA_TRY(cudaMemset(d.grads.data(), 0, d.grads.bytes()));
  CUIS_CUDA_TRY(cudaMemcpy(d.ones.data(), ones.data(), ones.size() * sizeof(float), cudaMemcpyHostToDevice));
  CUIS_CUDA_TRY(cudaMemcpy(d.step.data(), &zero_step, sizeof zero_step, cudaMemcpyHostToDevice));
  CUIS_CUDA_TRY(cudaMemcpy(d.status.data(), &ok, sizeof ok, cudaMemcpyHostToDevice));
  CUIS_CUDA_TRY(cudaDeviceSynchronize());  // the memsets and staged copies are done before any stream uses them
  m = std::move(impl);
  return set_error(Error::success, "");
}

Error Mlp::train_step(const TrainBatch& b, cudaStream_t s) {
  if (!m) return set_error(Error::invalid_argument, "train_step: the model is not initialised");
  Impl& d = *m;
  CUIS_TRY(d.check_data(b.data, b.rows, b.labels, b.targets));
  if (b.batch < 1 || b.batch > d.max_batch)
    return set_error(Error::invalid_argument, "train_step: batch " + std::to_string(b.batch) + " is outside [1, " +
                                                  std::to_string(d.max_batch) + "]");
  CUIS_TRY(d.bind(s));
  CUIS_CUDA_TRY(cudaMemsetAsync(d.flags.data(), 0xFF, sizeof(kernels::BatchFlags), s));
  const int32_t* labels = d.used(b.labels);
  const float* targets = d.used(b.targets);
  CUIS_TRY(d.gather(b.data, b.rows, labels, targets, b.indices, b.weights, 0, b.batch, s));
  CUIS_TRY(d.forward(b.batch, s));
  CUIS_TRY(d.loss(b.batch, b.weights, 1.0f / static_cast<float>(b.batch), b.loss, b.grad_norm, true, nullptr, 0, s));
  CUIS_TRY(d.backward(b.batch, s));
  CUIS_TRY(d.status_kernel(b.data, b.rows, labels, targets, b.indices, b.weights, 0, false, d.status.data(), true, s));
  CUIS_TRY(d.update(s));
  return set_error(Error::success, "");
}

Error Mlp::score(const float* data, int64_t rows, const int32_t* labels, const float* targets, const int64_t* indices,
                 int64_t count, float* loss, float* grad_norm, DeviceStatus* status, cudaStream_t s) {
  if (!m) return set_error(Error::invalid_argument, "score: the model is not initialised");
  Impl& d = *m;
  CUIS_TRY(d.check_data(data, rows, labels, targets));
  if (!loss || !status) return set_error(Error::null_pointer, "score: loss and status are required");
  if (count < 1) return set_error(Error::empty_input, "score: count must be positive");
  CUIS_TRY(d.bind(s));
  labels = d.used(labels);
  targets = d.used(targets);
  for (int64_t first = 0; first < count; first += d.max_batch) {
    const int64_t n = std::min(d.max_batch, count - first);
    CUIS_CUDA_TRY(cudaMemsetAsync(d.flags.data(), 0xFF, sizeof(kernels::BatchFlags), s));
    CUIS_TRY(d.gather(data, rows, labels, targets, indices, nullptr, first, n, s));
    CUIS_TRY(d.forward(n, s));
    CUIS_TRY(d.loss(n, nullptr, 1.0f, loss + first, grad_norm ? grad_norm + first : nullptr, false, nullptr, first, s));
    CUIS_TRY(d.status_kernel(data, rows, labels, targets, indices, nullptr, first, first > 0, status, false, s));
  }
  return set_error(Error::success, "");
}

Error Mlp::predict(const float* data, int64_t rows, const int64_t* indices, int64_t count, float* out, cudaStream_t s) {
  if (!m) return set_error(Error::invalid_argument, "predict: the model is not initialised");
  Impl& d = *m;
  if (!data || !out) return set_error(Error::null_pointer, "predict: data and out are required");
  if (rows < 1 || count < 1) return set_error(Error::empty_input, "predict: rows and count must be positive");
  CUIS_TRY(d.bind(s));
  const int32_t outputs = d.classes();
  for (int64_t first = 0; first < count; first += d.max_batch) {
    const int64_t n = std::min(d.max_batch, count - first);
    CUIS_CUDA_TRY(cudaMemsetAsync(d.flags.data(), 0xFF, sizeof(kernels::BatchFlags), s));
    CUIS_TRY(d.gather(data, rows, nullptr, nullptr, indices, nullptr, first, n, s));
    CUIS_TRY(d.forward(n, s));
    CUIS_CUDA_TRY(cudaMemcpyAsync(out + first * outputs, d.act(d.layers.size()), n * outputs * sizeof(float),
                                  cudaMemcpyDeviceToDevice, s));
  }
  return set_error(Error::success, "");
}

Error Mlp::evaluate(const float* data, int64_t rows, const int32_t* labels, const float* targets, double* mean_loss,
                    double* error_rate, cudaStream_t s) {
  if (!m) return set_error(Error::invalid_argument, "evaluate: the model is not initialised");
  Impl& d = *m;
  CUIS_TRY(d.check_data(data, rows, labels, targets));
  if (!mean_loss) return set_error(Error::null_pointer, "evaluate: mean_loss is required");
  CUIS_TRY(d.bind(s));
  labels = d.used(labels);
  targets = d.used(targets);
  const bool ce = d.shape.loss == LossKind::cross_entropy;
  std::vector<float> loss(d.max_batch);
  std::vector<int32_t> correct(d.max_batch);
  double total = 0.0;
  int64_t right = 0;
  for (int64_t first = 0; first < rows; first += d.max_batch) {
    const int64_t n = std::min(d.max_batch, rows - first);
    CUIS_CUDA_TRY(cudaMemsetAsync(d.flags.data(), 0xFF, sizeof(kernels::BatchFlags), s));
    CUIS_TRY(d.gather(data, rows, labels, targets, nullptr, nullptr, first, n, s));
    CUIS_TRY(d.forward(n, s));
    CUIS_TRY(d.loss(n, nullptr, 1.0f, d.loss_tmp.data(), nullptr, false, ce ? d.correct.data() : nullptr, first, s));
    DeviceStatus st{};
    CUIS_TRY(d.status_kernel(data, rows, labels, targets, nullptr, nullptr, first, false, d.eval_status.data(), false, s));
    CUIS_CUDA_TRY(cudaMemcpyAsync(&st, d.eval_status.data(), sizeof st, cudaMemcpyDeviceToHost, s));
    CUIS_CUDA_TRY(cudaMemcpyAsync(loss.data(), d.loss_tmp.data(), n * sizeof(float), cudaMemcpyDeviceToHost, s));
    if (ce) CUIS_CUDA_TRY(cudaMemcpyAsync(correct.data(), d.correct.data(), n * 4, cudaMemcpyDeviceToHost, s));
    CUIS_CUDA_TRY(cudaStreamSynchronize(s));
    if (st.code != Error::success) return set_error(st.code, "evaluate: " + describe(st));
    for (int64_t i = 0; i < n; ++i) {
      total += loss[i];
      if (ce) right += correct[i];
    }
  }
  *mean_loss = total / static_cast<double>(rows);
  if (error_rate) *error_rate = ce ? 1.0 - static_cast<double>(right) / static_cast<double>(rows) : 0.0;
  return set_error(Error::success, "");
}

const DeviceStatus* Mlp::status() const { return m ? m->status.data() : nullptr; }
const MlpShape& Mlp::shape() const {
  static const MlpShape none;
  return m ? m->shape : none;
}
int64_t Mlp::max_batch() const { return m ? m->max_batch : 0; }

Error Mlp::checkpoint(Checkpoint* out, cudaStream_t s) const {
  if (!m || !out) return set_error(Error::invalid_argument, "checkpoint: no model or no output");
  Checkpoint c{m->shape, m->opt, 0, std::vector<float>(m->params.size()), std::vector<float>(m->state.size())};
  kernels::StepState st{};
  CUIS_CUDA_TRY(cudaMemcpyAsync(c.params.data(), m->params.data(), m->params.bytes(), cudaMemcpyDeviceToHost, s));
  CUIS_CUDA_TRY(cudaMemcpyAsync(c.state.data(), m->state.data(), m->state.bytes(), cudaMemcpyDeviceToHost, s));
  CUIS_CUDA_TRY(cudaMemcpyAsync(&st, m->step.data(), sizeof st, cudaMemcpyDeviceToHost, s));
  CUIS_CUDA_TRY(cudaStreamSynchronize(s));
  c.step = st.step;
  *out = std::move(c);
  return set_error(Error::success, "");
}

Error Mlp::restore(const Checkpoint& c, cudaStream_t s) {
  if (!m) return set_error(Error::invalid_argument, "restore: the model is not initialised");
  Impl& d = *m;
  if (c.shape.sizes != d.shape.sizes || c.shape.activation != d.shape.activation || c.shape.loss != d.shape.loss ||
      c.optimizer.kind != d.opt.kind || c.params.size() != d.params.size() || c.state.size() != d.state.size())
    return set_error(Error::shape_mismatch, "restore: the checkpoint's model or optimizer differs from this one");
  CUIS_TRY(validate_optimizer(c.optimizer));
  const kernels::StepState st{c.step, 0.0, 0.0, 0, 0};
  CUIS_CUDA_TRY(cudaMemcpyAsync(d.params.data(), c.params.data(), d.params.bytes(), cudaMemcpyHostToDevice, s));
  CUIS_CUDA_TRY(cudaMemcpyAsync(d.state.data(), c.state.data(), d.state.bytes(), cudaMemcpyHostToDevice, s));
  CUIS_CUDA_TRY(cudaMemcpyAsync(d.step.data(), &st, sizeof st, cudaMemcpyHostToDevice, s));
  CUIS_CUDA_TRY(cudaStreamSynchronize(s));
  d.opt = c.optimizer;
  return set_error(Error::success, "");
}

Error Mlp::save(const std::string& path, cudaStream_t s) const {
  Checkpoint c;
  CUIS_TRY(checkpoint(&c, s));
  return write_checkpoint(path, c);
}

Error Mlp::load(const std::string& path, cudaStream_t s) {
  Checkpoint c;
  CUIS_TRY(read_checkpoint(path, &c));
  return restore(c, s);
}

Error Mlp::gradients(std::vector<float>* out, cudaStream_t s) const {
  if (!m || !out) return set_error(Error::invalid_argument, "gradients: no model or no output");
  out->resize(m->grads.size());
  CUIS_CUDA_TRY(cudaMemcpyAsync(out->data(), m->grads.data(), m->grads.bytes(), cudaMemcpyDeviceToHost, s));
  CUIS_CUDA_TRY(cudaStreamSynchronize(s));
  return set_error(Error::success, "");
}

}  // namespace cuis
