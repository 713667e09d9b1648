// Named score arrays used by the CPU and GPU tests alike.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace cuis_test {

struct ScoreSet {
  std::string name;
  std::vector<float> scores;
};

inline std::vector<float> uniform_scores(int64_t n) { return std::vector<float>(n, 1.0f); }

inline std::vector<float> zipf_scores(int64_t n, double s = 1.1) {
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<float>(1.0 / std::pow(static_cast<double>(i + 1), s));
  return v;
}

// One heavy item among light ones.
inline std::vector<float> spike_scores(int64_t n, int64_t at) {
  std::vector<float> v(n, 1e-3f);
  v[at] = 1e3f;
  return v;
}

// Log-uniform over [1e-30, 1e30].
inline std::vector<float> extreme_range_scores(int64_t n, uint64_t seed = 7) {
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<double> e(-30.0, 30.0);
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(std::pow(10.0, e(g)));
  return v;
}

// 95% zeros, the rest uniform in (0, 1].
inline std::vector<float> many_zeros_scores(int64_t n, uint64_t seed = 11) {
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<float> v(n, 0.0f);
  for (auto& x : v)
    if (u(g) < 0.05) x = static_cast<float>(1.0 - u(g));
  return v;
}

// Zero except at tile and chunk boundaries (2048, 64) and the last item.
inline std::vector<float> tile_edge_scores(int64_t n) {
  std::vector<float> v(n, 0.0f);
  const int64_t marks[] = {0, 63, 64, 2047, 2048, 2049, 4095, 4096, 6143, n - 1};
  float w = 1.0f;
  for (int64_t m : marks)
    if (m >= 0 && m < n) v[m] = (w += 0.5f);
  return v;
}

inline std::vector<float> lognormal_scores(int64_t n, double sigma = 5.0, uint64_t seed = 13) {
  std::mt19937_64 g(seed);
  std::lognormal_distribution<double> d(0.0, sigma);
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(std::fmin(d(g), 3e38));
  return v;
}

// PyTorch issue #43115: first half 2, second half 1.
inline std::vector<float> half_two_one_scores(int64_t n) {
  std::vector<float> v(n, 1.0f);
  for (int64_t i = 0; i < n / 2; ++i) v[i] = 2.0f;
  return v;
}

// The distributions every goodness-of-fit test runs over.
inline std::vector<ScoreSet> gof_sets(int64_t n) {
  return {{"uniform", uniform_scores(n)},
          {"zipf1.1", zipf_scores(n)},
          {"spike", spike_scores(n, n / 3)},
          {"extreme_range", extreme_range_scores(n)},
          {"many_zeros", many_zeros_scores(n)},
          {"tile_edges", tile_edge_scores(n)},
          {"lognormal5", lognormal_scores(n)}};
}

}  // namespace cuis_test
