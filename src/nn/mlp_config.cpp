// Shape checks, the flat parameter layout and the seeded initialisation.
#include "cuis/nn/mlp_config.h"

#include <cmath>
#include <string>

#include "core/error_detail.h"
#include "cuis/core/philox.h"

namespace cuis {

using detail::set_error;

Error validate_shape(const MlpShape& s) {
  if (s.sizes.size() < 2) return set_error(Error::shape_mismatch, "an MLP needs at least an input and an output size");
  for (size_t i = 0; i < s.sizes.size(); ++i)
    if (s.sizes[i] < 1 || s.sizes[i] > (1 << 20))
      return set_error(Error::shape_mismatch, "layer size " + std::to_string(s.sizes[i]) + " at position " +
                                                  std::to_string(i) + " is outside [1, 2^20]");
  if (s.activation != Activation::relu && s.activation != Activation::tanh)
    return set_error(Error::invalid_argument, "unknown activation");
  if (s.loss == LossKind::squared_error && s.sizes.back() != 1)
    return set_error(Error::shape_mismatch, "a squared-error model has exactly one output");
  if (s.loss != LossKind::cross_entropy && s.loss != LossKind::squared_error)
    return set_error(Error::invalid_argument, "unknown loss");
  return set_error(Error::success, "");
}

Error validate_optimizer(const OptimizerConfig& o) {
  auto bad = [](float x) { return !std::isfinite(x); };
  if (o.kind != OptimizerKind::sgd && o.kind != OptimizerKind::adam)
    return set_error(Error::invalid_argument, "unknown optimizer");
  if (bad(o.lr) || o.lr < 0.0f) return set_error(Error::invalid_argument, "learning rate must be finite and >= 0");
  if (bad(o.momentum) || o.momentum < 0.0f || o.momentum >= 1.0f)
    return set_error(Error::invalid_argument, "momentum must be in [0, 1)");
  if (bad(o.weight_decay) || o.weight_decay < 0.0f)
    return set_error(Error::invalid_argument, "weight decay must be finite and >= 0");
  if (bad(o.beta1) || bad(o.beta2) || o.beta1 < 0.0f || o.beta1 >= 1.0f || o.beta2 < 0.0f || o.beta2 >= 1.0f)
    return set_error(Error::invalid_argument, "Adam betas must be in [0, 1)");
  if (bad(o.eps) || o.eps <= 0.0f) return set_error(Error::invalid_argument, "Adam eps must be finite and > 0");
  return set_error(Error::success, "");
}

const char* backend_name(MlpBackend b) {
  switch (b) {
    case MlpBackend::cublas:
      return "cublas";
    case MlpBackend::cublaslt:
      return "cublaslt";
    case MlpBackend::cudnn:
      return "cudnn";
  }
  return "unknown";
}

Error parse_backend(const char* text, MlpBackend* out) {
  if (!text || !out) return set_error(Error::null_pointer, "parse_backend: text and out are required");
  for (MlpBackend b : {MlpBackend::cublas, MlpBackend::cublaslt, MlpBackend::cudnn})
    if (std::string(text) == backend_name(b)) {
      *out = b;
      return set_error(Error::success, "");
    }
  return set_error(Error::invalid_argument,
                   "unknown MLP backend '" + std::string(text) + "' (cublas, cublaslt or cudnn)");
}

std::vector<LayerParams> param_layout(const MlpShape& s) {
  std::vector<LayerParams> layers;
  int64_t offset = 0;
  for (size_t l = 0; l + 1 < s.sizes.size(); ++l) {
    LayerParams p{s.sizes[l], s.sizes[l + 1], offset, offset + static_cast<int64_t>(s.sizes[l]) * s.sizes[l + 1]};
    offset = p.bias + p.out;
    layers.push_back(p);
  }
  return layers;
}

int64_t param_count(const MlpShape& s) {
  const std::vector<LayerParams> layers = param_layout(s);
  return layers.empty() ? 0 : layers.back().bias + layers.back().out;
}

int64_t optimizer_state_count(OptimizerKind kind, int64_t params) {
  return kind == OptimizerKind::adam ? 2 * params : params;
}

std::vector<float> init_params(const MlpShape& s, uint64_t seed) {
  std::vector<float> p(static_cast<size_t>(param_count(s)), 0.0f);
  for (const LayerParams& l : param_layout(s)) {
    const double fan = s.activation == Activation::relu ? l.in : static_cast<double>(l.in) + l.out;
    const double a = std::sqrt(6.0 / fan);
    for (int64_t i = 0; i < static_cast<int64_t>(l.in) * l.out; ++i) {
      const uint64_t bits =
          static_cast<uint64_t>(detail::random128(seed, static_cast<uint64_t>(l.weight + i), detail::STREAM_INIT));
      const double u = static_cast<double>(bits >> 11) * 0x1p-53;  // [0, 1)
      p[l.weight + i] = static_cast<float>((2.0 * u - 1.0) * a);
    }
  }
  return p;
}

}  // namespace cuis
