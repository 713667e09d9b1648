// Small datasets for the trainer tests: random features with random labels
// and a linear regression target; and the synthetic split and the small
// training configuration the CPU and CUDA engine tests share.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "cuis/data.h"
#include "cuis/trainer.h"

namespace cuis_test {

struct Data {
  std::vector<float> x, targets;
  std::vector<int32_t> labels;
  int64_t rows;
};

inline Data make_data(int64_t rows, int32_t features, int32_t classes, uint64_t seed) {
  Data d{std::vector<float>(rows * features), std::vector<float>(rows), std::vector<int32_t>(rows), rows};
  std::mt19937_64 g(seed);
  std::normal_distribution<float> n(0.0f, 1.0f);
  for (auto& v : d.x) v = n(g);
  for (int64_t r = 0; r < rows; ++r) {
    d.labels[r] = static_cast<int32_t>(g() % classes);
    d.targets[r] = 0.5f * d.x[r * features] - 0.25f * d.x[r * features + 1];
  }
  return d;
}

inline const cuis::DataSplit& trainer_data() {
  static const cuis::DataSplit d = cuis::synthetic_data(1000, 200, 12, 4, 3);
  return d;
}

inline cuis::TrainConfig small_config(cuis::SamplerKind s) {
  cuis::TrainConfig c;
  c.sampler = s;
  c.hidden = {16};
  c.batch = 32;
  c.presample = 100;
  c.history = 4;
  c.predictor_hidden = {8};
  c.adaptive_smooth = 0.1f;
  c.warmup = 3;
  c.seed = 9;
  return c;
}

}  // namespace cuis_test
