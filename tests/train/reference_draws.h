// A check both engines' tests run: at every step, warm-up included, a
// trainer's candidates are the reference's uniform draws (or the whole set),
// and its batch and weights are the CPU reference sampler's draws from the
// trainer's own candidate scores, bit for bit (a uniform batch: the first
// uniform draws, weight 1), with the running mean loss of the stats before
// the step for adaptive smoothing.
#pragma once

#define ASSERT_SUCCESS(x) ASSERT_EQ((x), cuis::Error::success) << #x << ": " << cuis::last_error_message()

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "common/train_data.h"
#include "cuis/sampler/reference.h"
#include "cuis/trainer.h"
#include "train/trainer_common.h"

namespace cuis_test {

// One step's record against the reference: candidates, and a uniform batch
// or the reference sampler's draws from the record's own scores. mean_loss:
// the running mean loss before the step (adaptive smoothing reads it as a float).
inline void expect_step_is_reference(const cuis::StepRecord& r, const cuis::TrainConfig& c, int64_t rows, uint64_t step,
                                     double mean_loss, const std::string& at) {
  using cuis::Error;
  const int64_t b = c.batch;
  const int64_t p = cuis::detail::candidates_per_step(c, rows), draws = cuis::detail::uniform_draws_per_step(c, rows);
  const cuis::detail::RunSeeds seeds = cuis::detail::run_seeds(c.seed);
  EXPECT_EQ(r.step, step) << at;
  std::vector<int64_t> uniform(draws, -2);
  ASSERT_SUCCESS(
      cuis::ref::uniform_indices(uniform.data(), draws, rows, cuis::RngState{seeds.candidates, step * draws}));
  ASSERT_EQ(r.indices.size(), static_cast<size_t>(b)) << at;
  ASSERT_EQ(r.weights.size(), static_cast<size_t>(b)) << at;
  if (c.sampler != cuis::SamplerKind::uniform) {
    std::vector<int64_t> want = uniform;
    if (c.presample == cuis::PRESAMPLE_ALL) {
      want.resize(rows);
      for (int64_t j = 0; j < rows; ++j) want[j] = j;
    }
    EXPECT_EQ(r.candidates, want) << at;
    ASSERT_EQ(r.scores.size(), static_cast<size_t>(p)) << at;
  } else {
    EXPECT_TRUE(r.candidates.empty() && r.scores.empty()) << at;
  }
  if (!r.importance) {
    for (int64_t j = 0; j < b; ++j) {
      EXPECT_EQ(r.indices[j], uniform[j % draws]) << at << " draw " << j;
      EXPECT_EQ(r.weights[j], 1.0f) << at << " draw " << j;
    }
    return;
  }
  std::vector<int64_t> idx(b, -7);
  std::vector<float> w(b, -7.0f);
  cuis::DeviceStatus st{};
  st.code = cuis::Error::invalid_argument;  // unwritten
  const cuis::SampleArgs a{r.scores.data(), p, r.candidates.data(), b, idx.data(), w.data(), &st};
  // The options written out here, not taken from the engines' own helper: draws at offset step * B.
  cuis::SampleOptions o;
  o.replacement = true;
  o.weighting = c.k == 1.0f ? cuis::Weighting::unbiased : cuis::Weighting::biased;
  o.k = c.k;
  o.smooth = c.smooth;
  o.adaptive_smooth = c.adaptive_smooth;
  o.mean_loss = static_cast<float>(mean_loss);
  o.power = c.power;
  o.rng = cuis::RngState{seeds.draws, step * static_cast<uint64_t>(c.batch)};
  ASSERT_SUCCESS(cuis::ref::sample(a, o));
  ASSERT_EQ(st.code, Error::success) << at << ": " << cuis::describe(st);
  EXPECT_EQ(r.indices, idx) << at;
  EXPECT_EQ(r.weights, w) << at;
}

using MakeTrainer = cuis::Error (*)(const cuis::TrainConfig&, const cuis::DataSplit*, std::unique_ptr<cuis::Trainer>*);

// Every sampler (and the whole set as candidates), 8 steps through warm-up.
inline void expect_reference_draws(const MakeTrainer& make, const cuis::DataSplit& data, int warmup) {
  using cuis::Error;
  std::vector<cuis::TrainConfig> configs;
  for (cuis::SamplerKind s : {cuis::SamplerKind::loss, cuis::SamplerKind::gnorm, cuis::SamplerKind::predicted,
                              cuis::SamplerKind::predicted, cuis::SamplerKind::uniform}) {
    configs.push_back(small_config(s));
    configs.back().warmup = warmup;
  }
  configs[3].presample = cuis::PRESAMPLE_ALL;
  for (const cuis::TrainConfig& c : configs) {
    const std::string what =
        std::string(cuis::sampler_name(c.sampler)) + (c.presample == cuis::PRESAMPLE_ALL ? " all" : "");
    std::unique_ptr<cuis::Trainer> t;
    ASSERT_EQ(make(c, &data, &t), Error::success) << what << ": " << cuis::last_error_message();
    cuis::StepRecord r;
    EXPECT_EQ(t->last_step(&r), Error::invalid_argument) << "before the first step";
    for (int i = 0; i < 8; ++i) {
      cuis::TrainerStats before;
      before.mean_loss = NAN;
      ASSERT_SUCCESS(t->stats(&before));
      ASSERT_SUCCESS(t->step());
      r = cuis::StepRecord{};
      r.step = ~uint64_t{0};
      ASSERT_SUCCESS(t->last_step(&r));
      EXPECT_EQ(r.importance, c.sampler != cuis::SamplerKind::uniform && i >= c.warmup) << what << " step " << i;
      expect_step_is_reference(r, c, data.train.rows, static_cast<uint64_t>(i), before.mean_loss,
                               what + " step " + std::to_string(i));
    }
  }
}

}  // namespace cuis_test
