// The CPU reference training engine: the same loop as the CUDA engine, built
// from cuis::ref::sample, cuis::ref::Mlp and the shared helpers.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>

#include "core/error_detail.h"
#include "cuis/nn/reference.h"
#include "cuis/sampler/reference.h"
#include "cuis/train/predictor_features.h"
#include "train/trainer_common.h"
#include "train/trainer_state.h"

namespace cuis {

using detail::set_error;

namespace {

class CpuTrainer final : public detail::EngineBase {
 public:
  CpuTrainer(const TrainConfig& c, const DataSplit* d) : EngineBase(c, d), m_seeds(detail::run_seeds(c.seed)) {}

  Error init() {
    if (const Error e = m_main.init(detail::main_shape(m_cfg, m_data->train), m_cfg.optimizer, m_seeds.init);
        e != Error::success)
      return e;
    const int64_t n = m_data->train.rows, p = detail::candidates_per_step(m_cfg, n);
    m_candidates.resize(p);
    if (detail::whole_set(m_cfg)) {
      std::iota(m_candidates.begin(), m_candidates.end(), int64_t{0});
      m_uniform.resize(m_cfg.batch);
    }
    m_scores.resize(p);
    m_norms.resize(p);
    m_indices.resize(m_cfg.batch);
    m_weights.resize(m_cfg.batch);
    m_batch_loss.resize(m_cfg.batch);
    if (m_cfg.sampler == SamplerKind::predicted) {
      OptimizerConfig popt;  // Adam, lr 1e-3, as the authors' predictor
      if (const Error e = m_predictor.init(detail::predictor_shape(m_cfg, m_data->train), popt, m_seeds.predictor_init);
          e != Error::success)
        return e;
      m_features.resize(static_cast<size_t>(std::max(p, m_cfg.batch)) * m_predictor.shape().sizes[0]);
    }
    if (detail::keeps_history(m_cfg)) {
      m_history.assign(static_cast<size_t>(n) * m_cfg.history, 0.0f);
      m_seen.assign(n, 0);
    }
    return set_error(Error::success, "");
  }

  Error do_step() override {
    m_stepped = false;  // set again when this step completes
    const Dataset& train = m_data->train;
    const int64_t p = detail::candidates_per_step(m_cfg, train.rows);
    const uint64_t s = m_stats.step;
    // The step's uniform draws: the candidates, or with the whole set as
    // candidates the batch used when not sampling by importance.
    const bool whole = detail::whole_set(m_cfg);
    std::vector<int64_t>& uniform = whole ? m_uniform : m_candidates;
    const int64_t draws = detail::uniform_draws_per_step(m_cfg, train.rows);
    if (const Error e =
            ref::uniform_indices(uniform.data(), draws, train.rows, RngState{m_seeds.candidates, s * draws});
        e != Error::success)
      return e;
    bool importance = m_cfg.sampler != SamplerKind::uniform && static_cast<int64_t>(s) >= m_cfg.warmup;
    if (m_cfg.sampler != SamplerKind::uniform) {
      if (const Error e = score_candidates(p); e != Error::success) return e;
      double sum = 0.0, sum_sq = 0.0;
      for (float x : m_scores) {
        sum += x;
        sum_sq += static_cast<double>(x) * x;
      }
      const double tau = detail::tau_from_sums(sum, sum_sq, static_cast<double>(p));
      m_stats.tau = m_tau_seen ? 0.9 * m_stats.tau + 0.1 * tau : tau;
      m_tau_seen = true;
      if (m_cfg.tau_th > 0.0f) importance = importance && m_stats.tau > m_cfg.tau_th;
    }
    const float* weights = nullptr;
    if (importance) {
      DeviceStatus st{};
      const SampleArgs a{m_scores.data(), p, m_candidates.data(), m_cfg.batch, m_indices.data(), m_weights.data(), &st};
      if (const Error e =
              ref::sample(a, detail::sample_options(m_cfg, m_seeds.draws, s, static_cast<float>(m_stats.mean_loss)));
          e != Error::success)
        return e;
      if (st.code != Error::success)
        return set_error(st.code, "step " + std::to_string(s) + ": sampling: " + describe(st));
      weights = m_weights.data();
    } else {
      // The candidates are uniform: the first `batch` of them are a uniform batch.
      for (int64_t j = 0; j < m_cfg.batch; ++j) m_indices[j] = uniform[j % draws];
    }
    TrainBatch b;
    b.data = train.x.data();
    b.rows = train.rows;
    b.labels = train.labels.data();
    b.indices = m_indices.data();
    b.weights = weights;
    b.batch = m_cfg.batch;
    b.loss = m_batch_loss.data();
    DeviceStatus st{};
    if (const Error e = m_main.train_step(b, &st); e != Error::success) return e;
    if (st.code != Error::success)
      return set_error(st.code, "step " + std::to_string(s) + ": training: " + describe(st));
    const double mean =
        std::accumulate(m_batch_loss.begin(), m_batch_loss.end(), 0.0) / static_cast<double>(m_cfg.batch);
    m_stats.mean_loss = s == 0 ? mean : 0.9 * m_stats.mean_loss + 0.1 * mean;
    m_stats.batch_loss = mean;
    m_stats.importance = importance;
    if (detail::keeps_history(m_cfg))
      if (const Error e = learn_losses(); e != Error::success) return e;
    ++m_stats.step;
    m_stepped = true;
    return set_error(Error::success, "");
  }

  Error do_stats(TrainerStats* out) override {
    *out = m_stats;
    return Error::success;
  }

  Error do_evaluate(bool test_split, double* loss, double* error_rate) override {
    const Dataset& d = test_split ? m_data->test : m_data->train;
    return m_main.evaluate(d.x.data(), d.rows, d.labels.data(), nullptr, loss, error_rate);
  }

  const char* engine() const override { return "cpu"; }
  std::string dense_backend() const override { return "cpu"; }

  Error do_last_step(StepRecord* out) override {
    if (!m_stepped)
      return set_error(Error::invalid_argument, "last_step: no step since the trainer was made or loaded");
    const bool scoring = m_cfg.sampler != SamplerKind::uniform;
    StepRecord r;
    r.step = m_stats.step - 1;
    r.importance = m_stats.importance;
    if (scoring) {
      r.candidates = m_candidates;
      r.scores = m_scores;
    }
    r.indices = m_indices;
    r.weights = m_stats.importance ? m_weights : std::vector<float>(m_indices.size(), 1.0f);
    *out = std::move(r);
    return set_error(Error::success, "");
  }

  Error snapshot(detail::TrainerFile* f) override {
    f->head.network = m_main.checkpoint();
    detail::LoopState& s = f->loop;
    s.stats = m_stats;
    s.tau_seen = m_tau_seen;
    s.has_predictor = m_cfg.sampler == SamplerKind::predicted;
    if (s.has_predictor) s.predictor = m_predictor.checkpoint();
    if (detail::keeps_history(m_cfg)) {
      s.history = m_history;
      s.seen = m_seen;
    }
    return set_error(Error::success, "");
  }

  Error restore(detail::TrainerFile& f) override {
    detail::LoopState& s = f.loop;
    const bool predicted = m_cfg.sampler == SamplerKind::predicted;
    ref::Mlp main_copy = m_main, predictor_copy = m_predictor;  // restore both or neither
    if (const Error e = main_copy.restore(f.head.network); e != Error::success) return e;
    if (predicted)
      if (const Error e = predictor_copy.restore(s.predictor); e != Error::success) return e;
    m_main = std::move(main_copy);
    m_predictor = std::move(predictor_copy);
    m_stats = s.stats;
    m_tau_seen = s.tau_seen;
    m_stepped = false;
    if (detail::keeps_history(m_cfg)) {
      m_history = std::move(s.history);
      m_seen = std::move(s.seen);
    }
    return set_error(Error::success, "");
  }

 private:
  void build_features(const int64_t* rows, int64_t count) {
    const int32_t f = m_predictor.shape().sizes[0], h = m_cfg.history;
    for (int64_t j = 0; j < count; ++j)
      for (int32_t k = 0; k < f; ++k)
        m_features[j * f + k] =
            detail::predictor_feature(&m_history[rows[j] * h], m_seen[rows[j]], m_data->train.labels[rows[j]], h, k);
  }

  // The predictor's scores of `count` rows into scores (features in m_features).
  void predict(const int64_t* rows, int64_t count, float* scores) {
    build_features(rows, count);
    std::vector<float> out;
    m_predictor.forward(m_features.data(), count, &out);
    for (int64_t j = 0; j < count; ++j) {
      if (!std::isfinite(out[j])) {
        scores[j] = out[j];  // reported by the sampler
      } else if (m_cfg.predictor_log) {
        scores[j] = std::exp(std::min(std::max(out[j], -30.0f), 30.0f));
      } else {
        scores[j] = std::max(out[j], 0.0f) + 1e-6f;  // scores must be >= 0: a negative prediction is (almost) zero
      }
    }
  }

  // The cache's score: the last observed loss, or for a sample not seen yet
  // the running mean batch loss (1 before the first step).
  float cached(int64_t row) const {
    if (m_seen[row] > 0) return m_history[row * m_cfg.history + m_cfg.history - 1];
    return m_stats.step > 0 ? static_cast<float>(m_stats.mean_loss) : 1.0f;
  }

  Error score_candidates(int64_t p) {
    const Dataset& train = m_data->train;
    DeviceStatus st{};
    if (m_cfg.sampler == SamplerKind::predicted) {
      predict(m_candidates.data(), p, m_scores.data());
      return set_error(Error::success, "");
    }
    if (m_cfg.sampler == SamplerKind::cache) {
      for (int64_t j = 0; j < p; ++j) m_scores[j] = cached(m_candidates[j]);
      return set_error(Error::success, "");
    }
    if (const Error e = m_main.score(train.x.data(), train.rows, train.labels.data(), nullptr, m_candidates.data(), p,
                                     m_scores.data(), m_norms.data(), &st);
        e != Error::success)
      return e;
    if (st.code != Error::success)
      return set_error(st.code, "step " + std::to_string(m_stats.step) + ": scoring: " + describe(st));
    if (m_cfg.sampler == SamplerKind::gnorm) m_scores = m_norms;
    return set_error(Error::success, "");
  }

  Error do_score_quality(double* spearman) override {
    const Dataset& train = m_data->train;
    const int64_t n = train.rows;
    std::vector<int64_t> rows(n);
    std::iota(rows.begin(), rows.end(), int64_t{0});
    std::vector<float> loss(n), norm(n), score(n);
    DeviceStatus st{};
    if (const Error e = m_main.score(train.x.data(), n, train.labels.data(), nullptr, rows.data(), n, loss.data(),
                                     norm.data(), &st);
        e != Error::success)
      return e;
    if (st.code != Error::success) return set_error(st.code, "score_quality: " + describe(st));
    if (m_cfg.sampler == SamplerKind::predicted) {
      const int64_t chunk = static_cast<int64_t>(m_features.size()) / m_predictor.shape().sizes[0];
      for (int64_t at = 0; at < n; at += chunk) predict(rows.data() + at, std::min(chunk, n - at), score.data() + at);
    } else if (m_cfg.sampler == SamplerKind::cache) {
      for (int64_t i = 0; i < n; ++i) score[i] = cached(i);
    } else {
      score = m_cfg.sampler == SamplerKind::gnorm ? norm : loss;
    }
    return detail::rank_correlation(score, loss, spearman);
  }

  // The predictor learns the batch's observed losses from the histories as they
  // were, then the histories take the new losses (a row drawn twice: its last
  // occurrence counts).
  Error learn_losses() {
    const int64_t b = m_cfg.batch;
    if (m_cfg.sampler == SamplerKind::predicted) {
      build_features(m_indices.data(), b);
      TrainBatch pb;
      pb.data = m_features.data();
      pb.rows = b;
      pb.batch = b;
      m_target.resize(b);
      for (int64_t j = 0; j < b; ++j) m_target[j] = detail::predictor_input(m_batch_loss[j], m_cfg.predictor_log);
      pb.targets = m_target.data();
      DeviceStatus st{};
      if (const Error e = m_predictor.train_step(pb, &st); e != Error::success) return e;
      if (st.code != Error::success) return set_error(st.code, "loss predictor: " + describe(st));
    }
    const int32_t h = m_cfg.history;
    for (int64_t j = 0; j < b; ++j) {
      bool later = false;
      for (int64_t k = j + 1; k < b && !later; ++k) later = m_indices[k] == m_indices[j];
      if (later) continue;
      float* hist = &m_history[m_indices[j] * h];
      std::copy(hist + 1, hist + h, hist);
      // The predictor's histories hold losses as it sees them (log with predictor_log); the cache's raw losses.
      hist[h - 1] = m_cfg.sampler == SamplerKind::predicted
                        ? detail::predictor_input(m_batch_loss[j], m_cfg.predictor_log)
                        : m_batch_loss[j];
      m_seen[m_indices[j]] = std::min(m_seen[m_indices[j]] + 1, h);
    }
    return set_error(Error::success, "");
  }

  detail::RunSeeds m_seeds;
  ref::Mlp m_main, m_predictor;
  std::vector<int64_t> m_candidates, m_indices, m_uniform;
  std::vector<float> m_scores, m_norms, m_weights, m_batch_loss, m_history, m_features, m_target;
  std::vector<int32_t> m_seen;
  TrainerStats m_stats;
  bool m_stepped = false;  // a step ran since init or load: last_step() has something to say
  bool m_tau_seen = false;
};

// Host bytes the engine needs, roughly: each network's parameters, gradients,
// optimizer state and a step's double-precision gradient, and the histories.
double host_bytes(const TrainConfig& c, const Dataset& train) {
  auto network = [&](const MlpShape& s, OptimizerKind k) {
    const double n = static_cast<double>(param_count(s));
    return n * 16.0 + 4.0 * static_cast<double>(optimizer_state_count(k, param_count(s)));
  };
  double bytes = network(detail::main_shape(c, train), c.optimizer.kind);
  if (c.sampler == SamplerKind::predicted)
    bytes += network(detail::predictor_shape(c, train), OptimizerKind::adam) +
             4.0 * static_cast<double>(train.rows) * (c.history + 1);
  return bytes;
}

}  // namespace

Error make_cpu_trainer(const TrainConfig& config, const DataSplit* data, std::unique_ptr<Trainer>* out) {
  return detail::guarded("make_cpu_trainer", [&]() -> Error {
    if (!data || !out) return set_error(Error::null_pointer, "make_cpu_trainer: data and out are required");
    if (const Error e = detail::check_config(config, *data); e != Error::success) return e;
    // Refused before allocating: past the physical memory, the allocations
    // could succeed and the process then be killed when it touches them.
    const double need = host_bytes(config, data->train);
    const double have = static_cast<double>(::sysconf(_SC_PHYS_PAGES)) * static_cast<double>(::sysconf(_SC_PAGE_SIZE));
    if (have > 0 && need > have) {
      char b[200];
      std::snprintf(b, sizeof b,
                    "the CPU engine needs about %.1f GiB for this network (%.3g parameters), more than "
                    "this machine's %.1f GiB of memory",
                    need / 1073741824.0, static_cast<double>(param_count(detail::main_shape(config, data->train))),
                    have / 1073741824.0);
      return set_error(Error::out_of_memory, b);
    }
    auto t = std::make_unique<CpuTrainer>(config, data);
    if (const Error e = t->init(); e != Error::success) return e;
    *out = std::move(t);
    return set_error(Error::success, "");
  });
}

}  // namespace cuis
