// cuis::Mlp's public calls: init (allocates everything, once), train_step,
// score, predict, evaluate, checkpoints. The passes they enqueue are in
// mlp_passes.cu; the state they act on in mlp_impl.h.
#include <cublas_v2.h>

#include <algorithm>
#include <string>
#include <utility>

#include "core/cuda_check.h"
#include "nn/blas_check.h"
#include "nn/mlp_impl.h"

namespace cuis {

using detail::set_error;

Mlp::Mlp() = default;
Mlp::~Mlp() = default;
Mlp::Mlp(Mlp&&) noexcept = default;
Mlp& Mlp::operator=(Mlp&&) noexcept = default;

Error Mlp::init(const MlpShape& shape, const OptimizerConfig& opt, int64_t max_batch, uint64_t seed, Math math) {
  MlpOptions o;
  o.math = math;
  return init(shape, opt, max_batch, seed, o);
}

Error Mlp::init(const MlpShape& shape, const OptimizerConfig& opt, int64_t max_batch, uint64_t seed,
                const MlpOptions& options) {
  return detail::guarded("Mlp::init", [&]() -> Error {
    CUIS_TRY(detail::require_device("Mlp::init"));
    CUIS_TRY(validate_shape(shape));
    const Math math = options.math;
    if (math != Math::fp32 && math != Math::tf32)
      return set_error(Error::invalid_argument, "math must be fp32 or tf32");
    if (options.backend != MlpBackend::cublas && options.backend != MlpBackend::cublaslt &&
        options.backend != MlpBackend::cudnn)
      return set_error(Error::invalid_argument, "unknown MLP backend (cublas, cublaslt or cudnn)");
    CUIS_TRY(validate_optimizer(opt));
    if (max_batch < 1 || max_batch > (int64_t{1} << 24))
      return set_error(Error::invalid_argument, "max_batch must be in [1, 2^24]");
    for (int64_t b : options.batch_sizes)
      if (b < 1 || b > max_batch)
        return set_error(Error::invalid_argument, "MlpOptions::batch_sizes: " + std::to_string(b) +
                                                      " is outside [1, max_batch = " + std::to_string(max_batch) + "]");
    auto impl = std::make_unique<Impl>();
    Impl& d = *impl;
    d.shape = shape;
    d.opt = opt;
    d.layers = param_layout(shape);
    d.max_batch = max_batch;
    int64_t act_total = 0;
    int32_t widest = 0;
    for (int32_t size : shape.sizes) {  // each layer's rows 256-byte aligned (what cuBLASLt's algorithms assume)
      d.act_offset.push_back(act_total);
      act_total += (max_batch * size + 63) / 64 * 64;
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
    CUIS_TRY(d.make_dense(options));
    CUIS_CUDA_TRY(cudaDeviceSynchronize());  // the memsets and staged copies are done before any stream uses them
    m = std::move(impl);
    return set_error(Error::success, "");
  });
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
  return detail::guarded("Mlp::evaluate", [&]() -> Error {
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
      CUIS_TRY(
          d.status_kernel(data, rows, labels, targets, nullptr, nullptr, first, false, d.eval_status.data(), false, s));
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
  });
}

// The dense layers' backend: the one asked for, or cuBLAS with the reason.
Error Mlp::Impl::make_dense(const MlpOptions& o) {
  detail::DenseContext c;
  c.layers = layers;
  c.activation = shape.activation;
  c.math = o.math;
  c.params = params.data();
  c.grads = grads.data();
  c.ones = ones.data();
  c.max_batch = max_batch;
  c.plan_rows = o.batch_sizes;
  c.plan_rows.push_back(max_batch);
  std::sort(c.plan_rows.begin(), c.plan_rows.end());
  c.plan_rows.erase(std::unique(c.plan_rows.begin(), c.plan_rows.end()), c.plan_rows.end());
  c.blas = blas;
  c.workspace = blas_ws.data();
  c.workspace_bytes = BLAS_WORKSPACE;
  std::string note;
  if (o.backend == MlpBackend::cublaslt) CUIS_TRY(detail::make_cublaslt_ops(c, &dense, &note));
  if (o.backend == MlpBackend::cudnn) CUIS_TRY(detail::make_cudnn_ops(c, &dense, &note));
  backend = o.backend;
  if (!dense) {
    if (o.backend != MlpBackend::cublas)
      note = std::string(backend_name(o.backend)) + " cannot run this model, using cublas: " + note;
    backend = MlpBackend::cublas;
    CUIS_TRY(detail::make_cublas_ops(c, &dense));
  }
  backend_note = note;
  return Error::success;
}

MlpBackend Mlp::backend() const { return m ? m->backend : MlpBackend::cublas; }
const std::string& Mlp::backend_note() const {
  static const std::string none;
  return m ? m->backend_note : none;
}

const DeviceStatus* Mlp::status() const { return m ? m->status.data() : nullptr; }
const MlpShape& Mlp::shape() const {
  static const MlpShape none;
  return m ? m->shape : none;
}
int64_t Mlp::max_batch() const { return m ? m->max_batch : 0; }

Error Mlp::checkpoint(Checkpoint* out, cudaStream_t s) const {
  return detail::guarded("Mlp::checkpoint", [&]() -> Error {
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
  });
}

Error Mlp::restore(const Checkpoint& c, cudaStream_t s) {
  return detail::guarded("Mlp::restore", [&]() -> Error {
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
  });
}

Error Mlp::save(const std::string& path, cudaStream_t s) const {
  return detail::guarded("Mlp::save", [&]() -> Error {
    Checkpoint c;
    CUIS_TRY(checkpoint(&c, s));
    return write_checkpoint(path, c);
  });
}

Error Mlp::load(const std::string& path, cudaStream_t s) {
  return detail::guarded("Mlp::load", [&]() -> Error {
    Checkpoint c;
    CUIS_TRY(read_checkpoint(path, &c));
    return restore(c, s);
  });
}

Error Mlp::gradients(std::vector<float>* out, cudaStream_t s) const {
  return detail::guarded("Mlp::gradients", [&]() -> Error {
    if (!m || !out) return set_error(Error::invalid_argument, "gradients: no model or no output");
    out->resize(m->grads.size());
    CUIS_CUDA_TRY(cudaMemcpyAsync(out->data(), m->grads.data(), m->grads.bytes(), cudaMemcpyDeviceToHost, s));
    CUIS_CUDA_TRY(cudaStreamSynchronize(s));
    return set_error(Error::success, "");
  });
}

}  // namespace cuis
