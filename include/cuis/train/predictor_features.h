// Host/device helpers of the training loop shared by both engines: the loss
// predictor's input features and the variance-reduction statistic tau.
#pragma once

#include "cuis/core/hd.h"

namespace cuis {
namespace detail {

// Feature f of a sample for the loss predictor, from its loss history
// (`history` floats, most recent last), how many of those slots hold a real
// loss (`seen`), and its class: [history (0 where unseen) | seen mask | one-hot].
CUIS_HD float predictor_feature(const float* hist, int32_t seen, int32_t label, int32_t history, int32_t f) {
  if (f < history) return f >= history - seen ? hist[f] : 0.0f;
  if (f < 2 * history) return f - history >= history - seen ? 1.0f : 0.0f;
  return f - 2 * history == label ? 1.0f : 0.0f;
}

CUIS_HD int32_t predictor_features(int32_t history, int32_t classes) { return 2 * history + classes; }

// TrainConfig::predictor_log: a loss as the predictor sees it (in its features
// and as its target), and a prediction back as a score.
constexpr float PREDICTOR_LOG_FLOOR = 1e-6f;
CUIS_HD float predictor_input(float loss, bool log_space) {
  return log_space ? ::logf(loss > PREDICTOR_LOG_FLOOR ? loss : PREDICTOR_LOG_FLOOR) : loss;
}

// tau = 1 / sqrt(1 - ||g - u||^2 / ||g||^2) for g = s / sum(s), u = 1/P, from
// sum s, sum s^2 and P: ||g - u||^2 / ||g||^2 = 1 - sum(s)^2 / (P sum(s^2)).
CUIS_HD double tau_from_sums(double sum, double sum_sq, double count) {
  if (!(sum_sq > 0.0)) return 1.0;
  const double ratio = sum * sum / (count * sum_sq);  // 1 - ||g-u||^2/||g||^2, in (0, 1]
  return ratio > 0.0 ? 1.0 / sqrt(ratio) : 1.0;
}

}  // namespace detail
}  // namespace cuis
