// Running a sampler into host vectors, for the CPU and GPU tests.
#pragma once

#include <cstdint>
#include <vector>

#include "cuis/sampler/reference.h"

namespace cuis_test {

struct Drawn {
  cuis::Error error = cuis::Error::success;
  cuis::DeviceStatus status{};
  std::vector<int64_t> indices;
  std::vector<float> weights;
};

inline Drawn ref_sample(const std::vector<float>& scores, int64_t draws, const cuis::SampleOptions& o,
                        const std::vector<int64_t>* ids = nullptr) {
  Drawn d;
  d.indices.assign(draws > 0 ? draws : 0, -2);
  d.weights.assign(draws > 0 ? draws : 0, -2.0f);
  cuis::SampleArgs a;
  a.scores = scores.data();
  a.n = static_cast<int64_t>(scores.size());
  a.candidate_ids = ids ? ids->data() : nullptr;
  a.num_draws = draws;
  a.indices = d.indices.data();
  a.weights = d.weights.data();
  a.status = &d.status;
  d.error = cuis::ref::sample(a, o);
  return d;
}

inline cuis::SampleOptions options(uint64_t seed, bool replacement = true,
                                   cuis::Weighting w = cuis::Weighting::unbiased, float k = 1.0f) {
  cuis::SampleOptions o;
  o.rng.seed = seed;
  o.replacement = replacement;
  o.weighting = w;
  o.k = k;
  return o;
}

}  // namespace cuis_test
