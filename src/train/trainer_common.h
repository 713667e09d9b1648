// Internal: what both training engines derive from a TrainConfig, and the
// base they share: the public calls guarded against exceptions, and the
// trainer checkpoint's save and load (the engines supply their state).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cuis/data.h"
#include "cuis/sampler.h"
#include "cuis/trainer.h"
#include "train/trainer_state.h"

namespace cuis {
namespace detail {

// Seeds of the run's independent random streams.
struct RunSeeds {
  uint64_t init, predictor_init, candidates, draws;
};
RunSeeds run_seeds(uint64_t seed);

MlpShape main_shape(const TrainConfig& c, const Dataset& d);
MlpShape predictor_shape(const TrainConfig& c, const Dataset& d);
// Checks the configuration against the data; a clear error for each problem.
Error check_config(const TrainConfig& c, const DataSplit& d);
// The part of check_config that needs no data (also run on a checkpoint's
// stored configuration before any size is derived from it).
Error check_settings(const TrainConfig& c);
// The sampler options of step `step` (RNG offset step * batch).
SampleOptions sample_options(const TrainConfig& c, uint64_t draws_seed, uint64_t step, float mean_loss);
// Candidates per step: P for scoring samplers (N = rows with PRESAMPLE_ALL),
// the batch for uniform.
int64_t candidates_per_step(const TrainConfig& c, int64_t rows);
// Spearman's rank correlation of a and b (ties get their mean rank; 0 when
// either is constant).
double spearman(const std::vector<float>& a, const std::vector<float>& b);
// score_quality's result: spearman(scores, losses), or non_finite_value naming
// the first NaN or infinite score or loss (ranks of NaN are undefined).
Error rank_correlation(const std::vector<float>& scores, const std::vector<float>& losses, double* out);
// Whether the loop keeps each sample's loss history (predicted, cache).
bool keeps_history(const TrainConfig& c);
// Whether the candidates are the whole training set, in order.
bool whole_set(const TrainConfig& c);
// Uniform draws per step from the candidate stream (offset step * this): the
// candidates, or with the whole set the batch used when not sampling by
// importance.
int64_t uniform_draws_per_step(const TrainConfig& c, int64_t rows);

// Whether a checkpoint's run continues as this one: its configuration
// (compare_configs) and data (DataIdentity) against this trainer's;
// shape_mismatch naming the first difference.
Error check_resumable(const std::string& path, const TrainerCheckpoint& saved, const TrainConfig& c,
                      const DataIdentity& data);

// Both engines: the public calls run the engine's under guarded() (no
// exception leaves the library); save() and load() handle the file, the
// configuration and data checks and the training time.
class EngineBase : public Trainer {
 public:
  EngineBase(const TrainConfig& c, const DataSplit* d) : m_cfg(c), m_data(d) {}
  Error step() final;
  Error stats(TrainerStats* out) final;
  Error evaluate(bool test_split, double* loss, double* error_rate) final;
  Error score_quality(double* spearman) final;
  Error last_step(StepRecord* out) final;
  Error save(const std::string& path) final;
  Error load(const std::string& path) final;

 protected:
  virtual Error do_step() = 0;
  virtual Error do_stats(TrainerStats* out) = 0;
  virtual Error do_evaluate(bool test_split, double* loss, double* error_rate) = 0;
  virtual Error do_score_quality(double* spearman) = 0;
  virtual Error do_last_step(StepRecord* out) = 0;
  // The main network (f->head.network) and the loop's state (f->loop).
  virtual Error snapshot(TrainerFile* f) = 0;
  // Takes the state of a file already checked against this run: all or nothing.
  virtual Error restore(TrainerFile& f) = 0;

  const TrainConfig m_cfg;
  const DataSplit* const m_data;

 private:
  Error identity(DataIdentity* out);  // computed once
  bool m_identity_known = false;
  DataIdentity m_identity;
};

}  // namespace detail
}  // namespace cuis
