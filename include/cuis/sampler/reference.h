// The CPU reference: plain C++ for every operation of the sampler, the oracle
// the CUDA path is tested against. It shares only the host/device helpers in
// cuis/core/ and cuis/sampler/ (RNG, transform, quantisation, weights) and returns the same
// indices and weights as cuis::sample() for the same inputs.
#pragma once

#include <cstdint>
#include <vector>

#include "cuis/core/hd.h"
#include "cuis/error.h"
#include "cuis/sampler.h"

namespace cuis {
namespace ref {

// The with-replacement distribution of cuis/sampler/distribution.h, item by item.
struct Distribution {
  int64_t n = 0;
  std::vector<double> t;            // transformed scores
  std::vector<uint64_t> q;          // quantised scores (tile scale)
  std::vector<int> tile_exp;        // E_j
  std::vector<uint64_t> tile_sum;   // S_j
  std::vector<uint64_t> mass;       // M_j
  std::vector<u128> prefix;         // inclusive prefix of M_j
  int max_exp = 0;

  u128 total() const { return prefix.empty() ? 0 : prefix.back(); }
  // The item that draw (r1 in [0, total), r2 in [0, S_j)) selects.
  int64_t locate(u128 r1, uint64_t r2) const;
  // The tile r1 selects.
  int64_t locate_tile(u128 r1) const;
  // p_i exactly as drawn, rounded to double.
  double probability(int64_t i) const;
};

// Checks the scores and options as the device does. code is success, or the
// first problem: invalid_mean_loss, then the lowest bad score, then
// zero_total; not_enough_positive when num_draws exceeds the positive count
// without replacement.
DeviceStatus check_scores(const float* scores, int64_t n, int64_t num_draws, const SampleOptions& opts);

// Builds the with-replacement distribution (scores assumed valid).
Distribution build_distribution(const float* scores, int64_t n, const SampleOptions& opts);

// cuis::sample() on the host: args holds host pointers; opts.mean_loss and
// opts.rng are used (d_mean_loss and d_rng are ignored). Argument errors are
// returned; score errors go to *args.status with indices -1 and weights 0.
Error sample(const SampleArgs& args, const SampleOptions& opts);

// cuis::uniform_indices() on the host.
Error uniform_indices(int64_t* out, int64_t count, int64_t n, RngState rng);

}  // namespace ref
}  // namespace cuis
