// A check both engines' tests run: at every step, warm-up included, a
// trainer's candidates are the reference's uniform draws (or the whole set),
// and its batch and weights are the CPU reference sampler's draws from the
// trainer's own candidate scores, bit for bit (a uniform batch: the first
// uniform draws, weight 1). Adaptive smoothing is off here, so that the
// sampler's options follow from the configuration alone.
#pragma once

#define ASSERT_SUCCESS(x) ASSERT_EQ((x), cuis::Error::success) << #x << ": " << cuis::last_error_message()

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "common/train_data.h"
#include "cuis/sampler/reference.h"
#include "cuis/trainer.h"
#include "train/trainer_common.h"

namespace cuis_test {

using MakeTrainer = cuis::Error (*)(const cuis::TrainConfig&, const cuis::DataSplit*, std::unique_ptr<cuis::Trainer>*);

inline void expect_reference_draws(const MakeTrainer& make, const cuis::DataSplit& data, int warmup) {
  using cuis::Error;
  auto config = [warmup](cuis::SamplerKind s) {
    cuis::TrainConfig c = small_config(s);
    c.warmup = warmup;
    return c;
  };
  std::vector<cuis::TrainConfig> configs;
  for (cuis::SamplerKind s : {cuis::SamplerKind::loss, cuis::SamplerKind::gnorm, cuis::SamplerKind::predicted})
    configs.push_back(config(s));
  configs.push_back(config(cuis::SamplerKind::predicted));
  configs.back().presample = cuis::PRESAMPLE_ALL;
  configs.push_back(config(cuis::SamplerKind::uniform));
  for (cuis::TrainConfig& c : configs) {
    c.adaptive_smooth = 0.0f;
    c.smooth = 0.01f;
    const std::string what =
        std::string(cuis::sampler_name(c.sampler)) + (c.presample == cuis::PRESAMPLE_ALL ? " all" : "");
    const int64_t rows = data.train.rows, b = c.batch;
    const int64_t p = cuis::detail::candidates_per_step(c, rows), draws = cuis::detail::uniform_draws_per_step(c, rows);
    const cuis::detail::RunSeeds seeds = cuis::detail::run_seeds(c.seed);
    std::unique_ptr<cuis::Trainer> t;
    ASSERT_EQ(make(c, &data, &t), Error::success) << what << ": " << cuis::last_error_message();
    cuis::StepRecord r;
    EXPECT_EQ(t->last_step(&r), Error::invalid_argument) << "before the first step";
    for (int i = 0; i < 8; ++i) {
      ASSERT_SUCCESS(t->step());
      ASSERT_SUCCESS(t->last_step(&r));
      const std::string at = what + " step " + std::to_string(i);
      EXPECT_EQ(r.step, static_cast<uint64_t>(i)) << at;
      std::vector<int64_t> uniform(draws);
      ASSERT_SUCCESS(cuis::ref::uniform_indices(uniform.data(), draws, rows,
                                                cuis::RngState{seeds.candidates, static_cast<uint64_t>(i * draws)}));
      const bool scoring = c.sampler != cuis::SamplerKind::uniform;
      EXPECT_EQ(r.importance, scoring && i >= c.warmup) << at;
      if (scoring) {
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
        continue;
      }
      std::vector<int64_t> idx(b, -7);
      std::vector<float> w(b, -7.0f);
      cuis::DeviceStatus st{};
      const cuis::SampleArgs a{r.scores.data(), p, r.candidates.data(), b, idx.data(), w.data(), &st};
      ASSERT_SUCCESS(
          cuis::ref::sample(a, cuis::detail::sample_options(c, seeds.draws, static_cast<uint64_t>(i), 0.0f)));
      ASSERT_EQ(st.code, Error::success) << at << ": " << cuis::describe(st);
      EXPECT_EQ(r.indices, idx) << at;
      EXPECT_EQ(r.weights, w) << at;
    }
  }
}

}  // namespace cuis_test
