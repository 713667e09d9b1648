// Configuration checks and derived settings shared by both training engines,
// what identifies a run (its data, the settings that change its results), and
// the engines' shared base.
#include "train/trainer_common.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/binary_io.h"
#include "core/error_detail.h"
#include "cuis/train/predictor_features.h"

namespace cuis {

bool parse_sampler(const std::string& name, SamplerKind* out) {
  if (name == "uniform")
    *out = SamplerKind::uniform;
  else if (name == "loss")
    *out = SamplerKind::loss;
  else if (name == "gnorm")
    *out = SamplerKind::gnorm;
  else if (name == "predicted")
    *out = SamplerKind::predicted;
  else if (name == "cache")
    *out = SamplerKind::cache;
  else
    return false;
  return true;
}

const char* sampler_name(SamplerKind k) {
  switch (k) {
    case SamplerKind::uniform:
      return "uniform";
    case SamplerKind::loss:
      return "loss";
    case SamplerKind::gnorm:
      return "gnorm";
    case SamplerKind::predicted:
      return "predicted";
    case SamplerKind::cache:
      return "cache";
  }
  return "?";
}

double default_tau_threshold(int64_t presample, int64_t batch) {
  return static_cast<double>(presample + 3 * batch) / static_cast<double>(3 * batch);
}

Error data_identity(const DataSplit& data, DataIdentity* out) {
  return detail::guarded("data_identity", [&]() -> Error {
    if (!out) return detail::set_error(Error::null_pointer, "data_identity: out is required");
    DataIdentity d;
    d.train_name = data.train.name;
    d.test_name = data.test.name;
    d.train_rows = data.train.rows;
    d.test_rows = data.test.rows;
    d.features = data.train.features;
    d.classes = data.train.classes;
    uint64_t parts[4];
    int i = 0;
    for (const Dataset* s : {&data.train, &data.test}) {
      parts[i++] = detail::fnv1a(reinterpret_cast<const unsigned char*>(s->x.data()), s->x.size() * sizeof(float));
      parts[i++] =
          detail::fnv1a(reinterpret_cast<const unsigned char*>(s->labels.data()), s->labels.size() * sizeof(int32_t));
    }
    d.checksum = detail::fnv1a(reinterpret_cast<const unsigned char*>(parts), sizeof parts);
    *out = std::move(d);
    return detail::set_error(Error::success, "");
  });
}

std::string describe(const DataIdentity& d) {
  char b[160];
  std::snprintf(b, sizeof b, " (%" PRId64 " + %" PRId64 " rows, %d features, %d classes, checksum 0x%016" PRIx64 ")",
                d.train_rows, d.test_rows, d.features, d.classes, d.checksum);
  return "'" + d.train_name + "'" + b;
}

namespace {

// Floats as the shortest text that reads back to the same float.
std::string text(float f) {
  char b[32];
  for (int digits : {6, 9}) {
    std::snprintf(b, sizeof b, "%.*g", digits, static_cast<double>(f));
    if (std::strtof(b, nullptr) == f) break;
  }
  return b;
}
std::string text(int64_t v) { return std::to_string(v); }
std::string text(uint64_t v) { return std::to_string(v); }
std::string text(const std::vector<int32_t>& v) {
  std::string s;
  for (int32_t x : v) s += (s.empty() ? "" : ",") + std::to_string(x);
  return s;
}

struct Comparer {
  ConfigDifference* out;
  // Records the first difference; true once one is found.
  template <class T>
  bool operator()(const char* field, const T& saved, const T& asked) {
    if (!out->field.empty() || saved == asked) return !out->field.empty();
    *out = ConfigDifference{field, text(saved), text(asked)};
    return true;
  }
  bool operator()(const char* field, const std::string& saved, const std::string& asked) {
    if (!out->field.empty() || saved == asked) return !out->field.empty();
    *out = ConfigDifference{field, saved, asked};
    return true;
  }
};

std::string presample_text(int64_t p) { return p == PRESAMPLE_ALL ? "all" : std::to_string(p); }
const char* optimizer_text(OptimizerKind k) { return k == OptimizerKind::sgd ? "sgd" : "adam"; }
const char* activation_text(Activation a) { return a == Activation::relu ? "relu" : "tanh"; }
const char* math_text(Math m) { return m == Math::tf32 ? "tf32" : "fp32"; }

}  // namespace

Error compare_configs(const TrainConfig& a, const TrainConfig& b, ConfigDifference* out) {
  return detail::guarded("compare_configs", [&]() -> Error {
    if (!out) return detail::set_error(Error::null_pointer, "compare_configs: out is required");
    ConfigDifference d;
    Comparer same{&d};
    const OptimizerConfig &oa = a.optimizer, &ob = b.optimizer;
    const bool scoring = a.sampler != SamplerKind::uniform, adam = oa.kind == OptimizerKind::adam;
    (void)(same("sampler", std::string(sampler_name(a.sampler)), sampler_name(b.sampler)) ||
           same("batch", a.batch, b.batch) || same("seed", a.seed, b.seed) || same("hidden", a.hidden, b.hidden) ||
           same("activation", std::string(activation_text(a.activation)), activation_text(b.activation)) ||
           same("optimizer.kind", std::string(optimizer_text(oa.kind)), optimizer_text(ob.kind)) ||
           same("optimizer.lr", oa.lr, ob.lr) || same("optimizer.weight_decay", oa.weight_decay, ob.weight_decay) ||
           (!adam && same("optimizer.momentum", oa.momentum, ob.momentum)) ||
           (adam && (same("optimizer.beta1", oa.beta1, ob.beta1) || same("optimizer.beta2", oa.beta2, ob.beta2) ||
                     same("optimizer.eps", oa.eps, ob.eps))) ||
           same("math", std::string(math_text(a.math)), math_text(b.math)) ||
           (scoring &&
            (same("k", a.k, b.k) || same("smooth", a.smooth, b.smooth) ||
             same("adaptive_smooth", a.adaptive_smooth, b.adaptive_smooth) || same("power", a.power, b.power) ||
             same("presample", presample_text(a.presample), presample_text(b.presample)) ||
             same("warmup", a.warmup, b.warmup) || same("tau_th", a.tau_th, b.tau_th))) ||
           (detail::keeps_history(a) && same("history", int64_t{a.history}, int64_t{b.history})) ||
           (a.sampler == SamplerKind::predicted &&
            (same("predictor_hidden", a.predictor_hidden, b.predictor_hidden) ||
             same("predictor_log", std::string(a.predictor_log ? "on" : "off"), b.predictor_log ? "on" : "off"))));
    *out = std::move(d);
    return detail::set_error(Error::success, "");
  });
}

namespace detail {

RunSeeds run_seeds(uint64_t seed) {
  // A Philox key per stream: splitmix64's finaliser (a bijection of 64-bit
  // words) of the seed xor a per-stream constant, so that every seed in
  // [0, 2^64) gives its own keys (shifting the seed would alias seeds above 2^56).
  auto key = [seed](uint64_t stream) {
    uint64_t z = seed ^ (stream * 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  return RunSeeds{key(1), key(2), key(3), key(4)};
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

namespace {
// Ranks 1..n, tied values sharing their mean rank.
std::vector<double> ranks(const std::vector<float>& v) {
  std::vector<size_t> order(v.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    for (size_t k = i; k <= j; ++k) r[order[k]] = 0.5 * static_cast<double>(i + j) + 1.0;
    i = j + 1;
  }
  return r;
}
}  // namespace

double spearman(const std::vector<float>& a, const std::vector<float>& b) {
  const std::vector<double> ra = ranks(a), rb = ranks(b);
  const double n = static_cast<double>(a.size()), mean = (n + 1.0) / 2.0;
  double sab = 0.0, saa = 0.0, sbb = 0.0;
  for (size_t i = 0; i < ra.size(); ++i) {
    sab += (ra[i] - mean) * (rb[i] - mean);
    saa += (ra[i] - mean) * (ra[i] - mean);
    sbb += (rb[i] - mean) * (rb[i] - mean);
  }
  return saa > 0.0 && sbb > 0.0 ? sab / std::sqrt(saa * sbb) : 0.0;
}

Error rank_correlation(const std::vector<float>& scores, const std::vector<float>& losses, double* out) {
  for (size_t i = 0; i < scores.size(); ++i) {
    if (!std::isfinite(scores[i]) || !std::isfinite(losses[i]))
      return set_error(Error::non_finite_value, "score_quality: row " + std::to_string(i) + " has score " +
                                                    std::to_string(scores[i]) + " and loss " +
                                                    std::to_string(losses[i]) + ": only finite values are ranked");
  }
  *out = spearman(scores, losses);
  return set_error(Error::success, "");
}

bool keeps_history(const TrainConfig& c) {
  return c.sampler == SamplerKind::predicted || c.sampler == SamplerKind::cache;
}

bool whole_set(const TrainConfig& c) { return c.sampler != SamplerKind::uniform && c.presample == PRESAMPLE_ALL; }

int64_t candidates_per_step(const TrainConfig& c, int64_t rows) {
  return c.sampler == SamplerKind::uniform ? c.batch : whole_set(c) ? rows : c.presample;
}

int64_t uniform_draws_per_step(const TrainConfig& c, int64_t rows) {
  return whole_set(c) ? c.batch : candidates_per_step(c, rows);
}

Error check_settings(const TrainConfig& c) {
  if (c.sampler != SamplerKind::uniform && c.sampler != SamplerKind::loss && c.sampler != SamplerKind::gnorm &&
      c.sampler != SamplerKind::predicted && c.sampler != SamplerKind::cache)
    return set_error(Error::invalid_argument,
                     "sampler " + std::to_string(static_cast<int>(c.sampler)) + " is not a SamplerKind");
  if (c.batch < 1 || c.batch > (int64_t{1} << 20))
    return set_error(Error::invalid_argument, "batch must be in [1, 2^20]");
  if (c.sampler != SamplerKind::uniform && c.presample != PRESAMPLE_ALL &&
      (c.presample < 1 || c.presample > (int64_t{1} << 24)))
    return set_error(Error::invalid_argument, "presample must be in [1, 2^24] or PRESAMPLE_ALL");
  if (c.warmup < 0) return set_error(Error::invalid_argument, "warmup must be >= 0");
  if (!(c.tau_th >= 0.0f) || !std::isfinite(c.tau_th))
    return set_error(Error::invalid_argument, "tau threshold must be >= 0");
  if (c.history < 1 || c.history > 1000) return set_error(Error::invalid_argument, "history must be in [1, 1000]");
  SampleOptions o;
  o.weighting = Weighting::biased;
  o.k = c.k;
  o.smooth = c.smooth;
  o.adaptive_smooth = c.adaptive_smooth;
  o.power = c.power;
  if (const Error e = validate_options(o); e != Error::success) return e;
  return validate_optimizer(c.optimizer);
}

Error check_config(const TrainConfig& c, const DataSplit& d) {
  if (d.train.rows <= 0 || d.test.rows <= 0)
    return set_error(Error::empty_input, "the training or test split is empty");
  if (d.train.features != d.test.features) return set_error(Error::shape_mismatch, "train and test features differ");
  CUIS_TRY(check_settings(c));
  for (const Dataset* s : {&d.train, &d.test}) {
    if (s->features < 1 || s->classes < 1)
      return set_error(Error::shape_mismatch, s->name + ": features and classes must be positive");
    if (s->x.size() != static_cast<uint64_t>(s->rows) * static_cast<uint64_t>(s->features) ||
        s->labels.size() != static_cast<uint64_t>(s->rows))
      return set_error(Error::shape_mismatch, s->name + ": " + std::to_string(s->x.size()) + " features and " +
                                                  std::to_string(s->labels.size()) + " labels for " +
                                                  std::to_string(s->rows) + " rows of " + std::to_string(s->features));
  }
  if (whole_set(c) && d.train.rows > (int64_t{1} << 24))
    return set_error(Error::invalid_argument, "presample all: the training set has more than 2^24 rows");
  if (const Error e = validate_shape(main_shape(c, d.train)); e != Error::success) return e;
  if (c.sampler == SamplerKind::predicted) return validate_shape(predictor_shape(c, d.train));
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

Error check_resumable(const std::string& path, const TrainerCheckpoint& saved, const TrainConfig& c,
                      const DataIdentity& data) {
  ConfigDifference d;
  CUIS_TRY(compare_configs(saved.config, c, &d));
  if (!d.field.empty())
    return set_error(Error::shape_mismatch, path + ": the checkpoint was written with " + d.field + " " + d.saved +
                                                ", this run asks for " + d.field + " " + d.asked);
  const DataIdentity& s = saved.data;
  if (s.train_rows != data.train_rows || s.test_rows != data.test_rows || s.features != data.features ||
      s.classes != data.classes || s.checksum != data.checksum)
    return set_error(Error::shape_mismatch, path + ": the checkpoint was written on other data: " + describe(s) +
                                                "; this run's: " + describe(data));
  return set_error(Error::success, "");
}

Error EngineBase::step() {
  return guarded("Trainer::step", [&] { return do_step(); });
}
Error EngineBase::stats(TrainerStats* out) {
  return guarded("Trainer::stats", [&] {
    return out ? do_stats(out) : set_error(Error::null_pointer, "Trainer::stats: out is required");
  });
}
Error EngineBase::evaluate(bool test_split, double* loss, double* error_rate) {
  return guarded("Trainer::evaluate", [&] {
    return loss && error_rate ? do_evaluate(test_split, loss, error_rate)
                              : set_error(Error::null_pointer, "Trainer::evaluate: loss and error_rate are required");
  });
}
Error EngineBase::score_quality(double* spearman) {
  return guarded("Trainer::score_quality", [&] {
    if (!spearman) return set_error(Error::null_pointer, "Trainer::score_quality: spearman is required");
    if (m_cfg.sampler == SamplerKind::uniform)
      return set_error(Error::invalid_argument, "score_quality: the uniform sampler has no scores");
    return do_score_quality(spearman);
  });
}
Error EngineBase::last_step(StepRecord* out) {
  return guarded("Trainer::last_step", [&] {
    return out ? do_last_step(out) : set_error(Error::null_pointer, "Trainer::last_step: out is required");
  });
}

Error EngineBase::identity(DataIdentity* out) {
  if (!m_identity_known) {
    CUIS_TRY(data_identity(*m_data, &m_identity));
    m_identity_known = true;
  }
  *out = m_identity;
  return Error::success;
}

Error EngineBase::save(const std::string& path) {
  return guarded("Trainer::save", [&]() -> Error {
    TrainerFile f;
    CUIS_TRY(identity(&f.head.data));
    f.head.config = m_cfg;
    f.head.engine = engine();
    f.head.train_seconds = m_train_seconds;
    CUIS_TRY(snapshot(&f));
    f.head.stats = f.loop.stats;
    return write_trainer_file(path, f);
  });
}

Error EngineBase::load(const std::string& path) {
  return guarded("Trainer::load", [&]() -> Error {
    TrainerFile f;
    DataIdentity here;
    CUIS_TRY(read_trainer_file(path, &f));
    CUIS_TRY(identity(&here));
    CUIS_TRY(check_resumable(path, f.head, m_cfg, here));
    CUIS_TRY(restore(f));
    m_train_seconds = f.head.train_seconds;
    return set_error(Error::success, "");
  });
}

}  // namespace detail
}  // namespace cuis
