// Internal: what both training engines derive from a TrainConfig.
#pragma once

#include <cstdint>

#include "cuis/data.h"
#include "cuis/sampler.h"
#include "cuis/trainer.h"

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
// The sampler options of step `step` (RNG offset step * batch).
SampleOptions sample_options(const TrainConfig& c, uint64_t draws_seed, uint64_t step, float mean_loss);
// Candidates per step: P for scoring samplers (N = rows with PRESAMPLE_ALL),
// the batch for uniform.
int64_t candidates_per_step(const TrainConfig& c, int64_t rows);
// Whether the candidates are the whole training set, in order.
bool whole_set(const TrainConfig& c);
// Uniform draws per step from the candidate stream (offset step * this): the
// candidates, or with the whole set the batch used when not sampling by
// importance.
int64_t uniform_draws_per_step(const TrainConfig& c, int64_t rows);

}  // namespace detail
}  // namespace cuis
