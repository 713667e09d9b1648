// Configuration checks and derived settings shared by both training engines.
#include "train/trainer_common.h"

#include <cmath>
#include <string>

#include "cuis/train/predictor_features.h"
#include "core/error_detail.h"

namespace cuis {

bool parse_sampler(const std::string& name, SamplerKind* out) {
  if (name == "uniform") *out = SamplerKind::uniform;
  else if (name == "loss") *out = SamplerKind::loss;
  else if (name == "gnorm") *out = SamplerKind::gnorm;
  else if (name == "predicted") *out = SamplerKind::predicted;
  else return false;
  return true;
}

const char* sampler_name(SamplerKind k) {
  switch (k) {
    case SamplerKind::uniform: return "uniform";
    case SamplerKind::loss: return "loss";
    case SamplerKind::gnorm: return "gnorm";
    case SamplerKind::predicted: return "predicted";
  }
  return "?";
}

double default_tau_threshold(int64_t presample, int64_t batch) {
  return static_cast<double>(presample + 3 * batch) / static_cast<double>(3 * batch);
}

namespace detail {

RunSeeds run_seeds(uint64_t seed) {
  // Distinct keys for Philox: the run's seed in the high bits, a stream tag low.
  const uint64_t base = seed << 8;
  return RunSeeds{base | 1, base | 2, base | 3, base | 4};
}

MlpShape main_shape(const TrainConfig& c, const Dataset& d) {
  MlpShape s;
  s.sizes.push_back(d.features);
  s.sizes.insert(s.sizes.end(), c.hidden.begin(), c.hidden.end());
  s.sizes.push_back(d.classes);
  s.activation = c.activation;
  s.loss = LossKind::cross_entropy;
  return s;
}

MlpShape predictor_shape(const TrainConfig& c, const Dataset& d) {
  MlpShape s;
  s.sizes.push_back(predictor_features(c.history, d.classes));
  s.sizes.insert(s.sizes.end(), c.predictor_hidden.begin(), c.predictor_hidden.end());
  s.sizes.push_back(1);
  s.activation = Activation::relu;
  s.loss = LossKind::squared_error;
  return s;
}

bool whole_set(const TrainConfig& c) { return c.sampler != SamplerKind::uniform && c.presample == PRESAMPLE_ALL; }

int64_t candidates_per_step(const TrainConfig& c, int64_t rows) {
  return c.sampler == SamplerKind::uniform ? c.batch : whole_set(c) ? rows : c.presample;
}

int64_t uniform_draws_per_step(const TrainConfig& c, int64_t rows) {
  return whole_set(c) ? c.batch : candidates_per_step(c, rows);
}

Error check_config(const TrainConfig& c, const DataSplit& d) {
  if (d.train.rows <= 0 || d.test.rows <= 0) return set_error(Error::empty_input, "the training or test split is empty");
  if (d.train.features != d.test.features) return set_error(Error::shape_mismatch, "train and test features differ");
  if (c.batch < 1 || c.batch > (int64_t{1} << 20)) return set_error(Error::invalid_argument, "batch must be in [1, 2^20]");
  if (c.sampler != SamplerKind::uniform && c.presample != PRESAMPLE_ALL &&
      (c.presample < 1 || c.presample > (int64_t{1} << 24)))
    return set_error(Error::invalid_argument, "presample must be in [1, 2^24] or PRESAMPLE_ALL");
  if (whole_set(c) && d.train.rows > (int64_t{1} << 24))
    return set_error(Error::invalid_argument, "presample all: the training set has more than 2^24 rows");
  if (c.warmup < 0) return set_error(Error::invalid_argument, "warmup must be >= 0");
  if (!(c.tau_th >= 0.0f) || !std::isfinite(c.tau_th)) return set_error(Error::invalid_argument, "tau threshold must be >= 0");
  if (c.history < 1 || c.history > 1000) return set_error(Error::invalid_argument, "history must be in [1, 1000]");
  SampleOptions o;
  o.weighting = Weighting::biased;
  o.k = c.k;
  o.smooth = c.smooth;
  o.adaptive_smooth = c.adaptive_smooth;
  o.power = c.power;
  if (const Error e = validate_options(o); e != Error::success) return e;
  if (const Error e = validate_shape(main_shape(c, d.train)); e != Error::success) return e;
  if (const Error e = validate_optimizer(c.optimizer); e != Error::success) return e;
  return set_error(Error::success, "");
}

SampleOptions sample_options(const TrainConfig& c, uint64_t draws_seed, uint64_t step, float mean_loss) {
  SampleOptions o;
  o.replacement = true;
  o.weighting = c.k == 1.0f ? Weighting::unbiased : Weighting::biased;
  o.k = c.k;
  o.smooth = c.smooth;
  o.adaptive_smooth = c.adaptive_smooth;
  o.mean_loss = mean_loss;
  o.power = c.power;
  o.rng = RngState{draws_seed, step * static_cast<uint64_t>(c.batch)};
  return o;
}

}  // namespace detail
}  // namespace cuis
