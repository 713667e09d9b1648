// The CPU reference trainer: plain loops, double accumulation.
#include "cuis/nn/reference.h"

#include <algorithm>
#include <cmath>

#include "core/error_detail.h"

namespace cuis {
namespace ref {

using detail::set_error;

Error cross_entropy_row(const float* z, int32_t classes, int32_t label, float scale, float* loss, float* grad_norm,
                        float* dz) {
  bool finite = true;
  double m = -HUGE_VAL;
  for (int32_t c = 0; c < classes; ++c) {
    finite = finite && std::isfinite(z[c]);
    m = std::max(m, static_cast<double>(z[c]));
  }
  const bool label_ok = label >= 0 && label < classes;
  if (!finite || !label_ok) {
    *loss = NAN;
    if (grad_norm) *grad_norm = NAN;
    if (dz) std::fill(dz, dz + classes, 0.0f);
    return label_ok ? Error::non_finite_value : Error::invalid_label;
  }
  double s = 0.0;
  for (int32_t c = 0; c < classes; ++c) s += std::exp(z[c] - m);
  double sq = 0.0;
  for (int32_t c = 0; c < classes; ++c) {
    const double d = std::exp(z[c] - m) / s - (c == label ? 1.0 : 0.0);
    sq += d * d;
    if (dz) dz[c] = static_cast<float>(scale * d);
  }
  *loss = static_cast<float>(m + std::log(s) - z[label]);
  if (grad_norm) *grad_norm = static_cast<float>(std::sqrt(sq));
  return Error::success;
}

namespace {

// ReLU keeps a NaN (a bad row's marker) as NaN, like the GPU kernel.
double activate(Activation a, double x) { return a == Activation::relu ? (x < 0.0 ? 0.0 : x) : std::tanh(x); }
// Derivative from the activation's output y.
double activate_grad(Activation a, double y) { return a == Activation::relu ? (y > 0.0 ? 1.0 : 0.0) : 1.0 - y * y; }

DeviceStatus ok_status() { return DeviceStatus{Error::success, 0, -1, 0.0f, 0.0f, 0}; }

// The loss of one row's outputs; dz (if not null) receives scale * dloss/dout.
Error row_loss(const MlpShape& s, const float* out, int64_t row, const int32_t* labels, const float* targets,
               float scale, float* loss, float* grad_norm, float* dz) {
  if (s.loss == LossKind::cross_entropy)
    return cross_entropy_row(out, s.sizes.back(), labels[row], scale, loss, grad_norm, dz);
  const float d = out[0] - targets[row];
  if (!std::isfinite(d)) {
    *loss = NAN;
    if (grad_norm) *grad_norm = NAN;
    if (dz) dz[0] = 0.0f;
    return Error::non_finite_value;
  }
  *loss = d * d;
  if (grad_norm) *grad_norm = std::fabs(2.0f * d);
  if (dz) dz[0] = scale * 2.0f * d;
  return Error::success;
}

DeviceStatus bad_row_status(Error e, int64_t pos, int64_t row, const MlpShape& s, const float* out,
                            const int32_t* labels, const float* targets) {
  DeviceStatus st{e, 0, pos, 0.0f, 0.0f, 0};
  if (e == Error::invalid_label) {
    st.value = static_cast<float>(labels[row]);
  } else {
    const int32_t n = s.sizes.back();
    for (int32_t c = 0; c < n; ++c)
      if (!std::isfinite(out[c])) {
        st.value = out[c];
        break;
      }
    if (s.loss == LossKind::squared_error && std::isfinite(out[0])) st.value = targets[row];
  }
  return st;
}

}  // namespace

namespace {

// The gather-level problem of batch position j: index out of range, a
// non-finite feature, or a weight that is not finite and >= 0.
DeviceStatus gather_problem(const float* data, int64_t rows, int32_t features, const int64_t* indices,
                            const float* weights, int64_t j) {
  const int64_t row = indices ? indices[j] : j;
  if (row < 0 || row >= rows) return DeviceStatus{Error::index_out_of_range, 0, j, static_cast<float>(row), 0.0f, 0};
  for (int32_t f = 0; f < features; ++f) {
    const float v = data[row * features + f];
    if (!std::isfinite(v)) return DeviceStatus{Error::non_finite_value, 0, j, v, 0.0f, 0};
  }
  if (weights && !(weights[j] >= 0.0f && std::isfinite(weights[j])))
    return DeviceStatus{Error::non_finite_value, 0, j, weights[j], 0.0f, 0};
  return ok_status();
}

}  // namespace

DeviceStatus check_batch(const TrainBatch& b, int32_t features) {
  for (int64_t j = 0; j < b.batch; ++j) {
    const DeviceStatus st = gather_problem(b.data, b.rows, features, b.indices, b.weights, j);
    if (st.code != Error::success) return st;
  }
  return ok_status();
}

Error Mlp::init(const MlpShape& shape, const OptimizerConfig& opt, uint64_t seed) {
  if (const Error e = validate_shape(shape); e != Error::success) return e;
  if (const Error e = validate_optimizer(opt); e != Error::success) return e;
  m_shape = shape;
  m_opt = opt;
  m_layers = param_layout(shape);
  m_params = init_params(shape, seed);
  m_grads.assign(m_params.size(), 0.0f);
  m_state.assign(static_cast<size_t>(optimizer_state_count(opt.kind, static_cast<int64_t>(m_params.size()))), 0.0f);
  m_step = 0;
  return set_error(Error::success, "");
}

void Mlp::forward_row(const float* x, std::vector<std::vector<float>>* acts) const {
  acts->resize(m_layers.size() + 1);
  (*acts)[0].assign(x, x + m_shape.sizes[0]);
  for (size_t l = 0; l < m_layers.size(); ++l) {
    const LayerParams& L = m_layers[l];
    const std::vector<float>& in = (*acts)[l];
    std::vector<float>& out = (*acts)[l + 1];
    out.resize(L.out);
    const bool last = l + 1 == m_layers.size();
    for (int32_t o = 0; o < L.out; ++o) {
      double z = m_params[L.bias + o];
      const float* w = &m_params[L.weight + static_cast<int64_t>(o) * L.in];
      for (int32_t i = 0; i < L.in; ++i) z += static_cast<double>(w[i]) * in[i];
      out[o] = static_cast<float>(last ? z : activate(m_shape.activation, z));
    }
  }
}

void Mlp::forward(const float* x, int64_t rows, std::vector<float>* out) const {
  const int32_t n_in = m_shape.sizes[0], n_out = m_shape.sizes.back();
  out->resize(static_cast<size_t>(rows) * n_out);
  std::vector<std::vector<float>> acts;
  for (int64_t r = 0; r < rows; ++r) {
    forward_row(x + r * n_in, &acts);
    std::copy(acts.back().begin(), acts.back().end(), out->begin() + r * n_out);
  }
}

Error Mlp::train_step(const TrainBatch& b, DeviceStatus* status) {
  if (!b.data || !status || (m_shape.loss == LossKind::cross_entropy ? !b.labels : !b.targets))
    return set_error(Error::null_pointer, "train_step: data, labels (or targets) and status are required");
  if (b.batch <= 0 || b.rows <= 0) return set_error(Error::empty_input, "train_step: empty batch or dataset");
  *status = ok_status();
  const int32_t n_in = m_shape.sizes[0], n_out = m_shape.sizes.back();
  std::vector<double> g(m_params.size(), 0.0);
  std::vector<std::vector<float>> acts;
  std::vector<float> dz(n_out);
  const float scale = 1.0f / static_cast<float>(b.batch);
  for (int64_t j = 0; j < b.batch; ++j) {
    const int64_t row = b.indices ? b.indices[j] : j;
    const DeviceStatus gp = gather_problem(b.data, b.rows, n_in, b.indices, b.weights, j);
    if (gp.code != Error::success) {
      if (status->code == Error::success) *status = gp;
      if (b.loss) b.loss[j] = NAN;
      if (b.grad_norm) b.grad_norm[j] = NAN;
      continue;
    }
    forward_row(b.data + row * n_in, &acts);
    float loss = 0.0f, gn = 0.0f;
    const float w = (b.weights ? b.weights[j] : 1.0f) * scale;
    const Error e = row_loss(m_shape, acts.back().data(), row, b.labels, b.targets, w, &loss, &gn, dz.data());
    if (b.loss) b.loss[j] = loss;
    if (b.grad_norm) b.grad_norm[j] = gn;
    if (e != Error::success) {
      if (status->code == Error::success)
        *status = bad_row_status(e, j, row, m_shape, acts.back().data(), b.labels, b.targets);
      continue;
    }
    if (status->code != Error::success) continue;  // the step is skipped anyway
    // Backward through the layers, accumulating this row's gradient.
    std::vector<double> delta(dz.begin(), dz.end());
    for (size_t l = m_layers.size(); l-- > 0;) {
      const LayerParams& L = m_layers[l];
      const std::vector<float>& in = acts[l];
      std::vector<double> prev(l > 0 ? L.in : 0, 0.0);
      for (int32_t o = 0; o < L.out; ++o) {
        const double d = delta[o];
        g[L.bias + o] += d;
        const int64_t base = L.weight + static_cast<int64_t>(o) * L.in;
        for (int32_t i = 0; i < L.in; ++i) {
          g[base + i] += d * in[i];
          if (l > 0) prev[i] += d * m_params[base + i];
        }
      }
      if (l > 0)
        for (int32_t i = 0; i < L.in; ++i) prev[i] *= activate_grad(m_shape.activation, in[i]);
      delta.swap(prev);
    }
  }
  if (status->code != Error::success) return set_error(Error::success, "");  // model unchanged
  for (size_t i = 0; i < g.size(); ++i) m_grads[i] = static_cast<float>(g[i]);
  update();
  return set_error(Error::success, "");
}

void Mlp::update() {
  ++m_step;
  const size_t n = m_params.size();
  const OptimizerConfig& o = m_opt;
  if (o.kind == OptimizerKind::sgd) {
    for (size_t i = 0; i < n; ++i) {
      const float g = m_grads[i] + o.weight_decay * m_params[i];
      m_state[i] = o.momentum * m_state[i] + g;
      m_params[i] -= o.lr * m_state[i];
    }
    return;
  }
  const double bc1 = 1.0 - std::pow(static_cast<double>(o.beta1), static_cast<double>(m_step));
  const double bc2 = 1.0 - std::pow(static_cast<double>(o.beta2), static_cast<double>(m_step));
  float* m = m_state.data();
  float* v = m_state.data() + n;
  for (size_t i = 0; i < n; ++i) {
    const float g = m_grads[i] + o.weight_decay * m_params[i];
    m[i] = o.beta1 * m[i] + (1.0f - o.beta1) * g;
    v[i] = o.beta2 * v[i] + (1.0f - o.beta2) * g * g;
    const double mhat = m[i] / bc1, vhat = v[i] / bc2;
    m_params[i] -= static_cast<float>(o.lr * mhat / (std::sqrt(vhat) + o.eps));
  }
}

Error Mlp::score(const float* data, int64_t rows, const int32_t* labels, const float* targets, const int64_t* indices,
                 int64_t count, float* loss, float* grad_norm, DeviceStatus* status) const {
  if (!data || !loss || !status || (m_shape.loss == LossKind::cross_entropy ? !labels : !targets))
    return set_error(Error::null_pointer, "score: data, labels (or targets), loss and status are required");
  *status = ok_status();
  std::vector<std::vector<float>> acts;
  for (int64_t j = 0; j < count; ++j) {
    const int64_t row = indices ? indices[j] : j;
    const DeviceStatus gp = gather_problem(data, rows, m_shape.sizes[0], indices, nullptr, j);
    if (gp.code != Error::success) {
      if (status->code == Error::success) *status = gp;
      loss[j] = NAN;
      if (grad_norm) grad_norm[j] = NAN;
      continue;
    }
    forward_row(data + row * m_shape.sizes[0], &acts);
    float gn = 0.0f;
    const Error e = row_loss(m_shape, acts.back().data(), row, labels, targets, 1.0f, &loss[j], &gn, nullptr);
    if (grad_norm) grad_norm[j] = gn;
    if (e != Error::success && status->code == Error::success)
      *status = bad_row_status(e, j, row, m_shape, acts.back().data(), labels, targets);
  }
  return set_error(Error::success, "");
}

Error Mlp::evaluate(const float* data, int64_t rows, const int32_t* labels, const float* targets, double* mean_loss,
                    double* error_rate) const {
  if (!data || !mean_loss || (m_shape.loss == LossKind::cross_entropy ? !labels : !targets))
    return set_error(Error::null_pointer, "evaluate: data, labels (or targets) and mean_loss are required");
  if (rows <= 0) return set_error(Error::empty_input, "evaluate: no rows");
  std::vector<std::vector<float>> acts;
  double total = 0.0;
  int64_t wrong = 0;
  for (int64_t r = 0; r < rows; ++r) {
    forward_row(data + r * m_shape.sizes[0], &acts);
    const std::vector<float>& out = acts.back();
    float loss = 0.0f, gn = 0.0f;
    if (const Error e = row_loss(m_shape, out.data(), r, labels, targets, 1.0f, &loss, &gn, nullptr);
        e != Error::success)
      return set_error(e, "evaluate: row " + std::to_string(r) + ": " + error_string(e));
    total += loss;
    if (m_shape.loss == LossKind::cross_entropy)
      wrong += (std::max_element(out.begin(), out.end()) - out.begin()) != labels[r];
  }
  *mean_loss = total / static_cast<double>(rows);
  if (error_rate) *error_rate = static_cast<double>(wrong) / static_cast<double>(rows);
  return set_error(Error::success, "");
}

Checkpoint Mlp::checkpoint() const { return Checkpoint{m_shape, m_opt, m_step, m_params, m_state}; }

Error Mlp::restore(const Checkpoint& c) {
  if (c.shape.sizes != m_shape.sizes || c.shape.activation != m_shape.activation || c.shape.loss != m_shape.loss ||
      c.optimizer.kind != m_opt.kind)
    return set_error(Error::shape_mismatch, "restore: the checkpoint's model or optimizer differs from this one");
  if (const Error e = validate_optimizer(c.optimizer); e != Error::success) return e;
  if (static_cast<int64_t>(c.params.size()) != param_count(c.shape) ||
      static_cast<int64_t>(c.state.size()) != optimizer_state_count(c.optimizer.kind, param_count(c.shape)))
    return set_error(Error::shape_mismatch, "restore: parameters or state do not match the shape");
  m_shape = c.shape;
  m_opt = c.optimizer;
  m_layers = param_layout(c.shape);
  m_params = c.params;
  m_state = c.state;
  m_grads.assign(m_params.size(), 0.0f);
  m_step = c.step;
  return set_error(Error::success, "");
}

}  // namespace ref
}  // namespace cuis
