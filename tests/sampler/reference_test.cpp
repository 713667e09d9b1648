// The CPU reference sampler: its distribution against the requested one,
// every interval edge, goodness of fit, weights, reproducibility, bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include "cuis/sampler/distribution.h"
#include "cuis/core/philox.h"
#include "cuis/sampler/reference.h"
#include "sample_helpers.h"
#include "score_sets.h"
#include "common/stats.h"

namespace {

using cuis::Error;
using cuis::u128;
using cuis::Weighting;
using namespace cuis_test;

// Goodness-of-fit cases share one family-wise alpha of 1e-3 (Bonferroni).
constexpr double FAMILY_ALPHA = 1e-3;
constexpr int GOF_CASES = 7 /*sets*/ + 2 /*power, smoothing*/ + 1 /*without replacement, B = 1*/;
constexpr double ALPHA = FAMILY_ALPHA / GOF_CASES;

std::vector<double> exact_probabilities(const std::vector<float>& s, const cuis::SampleOptions& o) {
  const cuis::ref::Distribution d = cuis::ref::build_distribution(s.data(), static_cast<int64_t>(s.size()), o);
  std::vector<double> p(s.size());
  for (size_t i = 0; i < s.size(); ++i) p[i] = d.probability(static_cast<int64_t>(i));
  return p;
}

std::vector<double> requested_probabilities(const std::vector<float>& s, const cuis::SampleOptions& o) {
  std::vector<double> t(s.size());
  const double c = static_cast<double>(o.smooth) + static_cast<double>(o.adaptive_smooth) * o.mean_loss;
  for (size_t i = 0; i < s.size(); ++i) t[i] = std::pow(static_cast<double>(s[i]), o.power) + c;
  const double total = std::accumulate(t.begin(), t.end(), 0.0);
  for (double& x : t) x /= total;
  return t;
}

// The documented bound: sum_i |p_i - t_i/T| <= 2 (N + N/TILE) 2^-52 (+ rounding of this check).
TEST(Distribution, MatchesRequestedWithinBound) {
  for (int64_t n : {1, 2, 99, 4097, 100000}) {
    for (const ScoreSet& set : gof_sets(n)) {
      const cuis::SampleOptions o = options(1);
      if (std::all_of(set.scores.begin(), set.scores.end(), [](float x) { return x == 0.0f; })) continue;
      const std::vector<double> p = exact_probabilities(set.scores, o), want = requested_probabilities(set.scores, o);
      double tv = 0.0, sum = 0.0;
      for (size_t i = 0; i < p.size(); ++i) {
        tv += std::fabs(p[i] - want[i]);
        sum += p[i];
        if (set.scores[i] == 0.0f) {
          ASSERT_EQ(p[i], 0.0) << set.name << " item " << i;
        }
      }
      const double bound = 2.0 * (n + n / cuis::detail::TILE + 1) * std::ldexp(1.0, -52) + 1e-13;
      EXPECT_LE(tv, bound) << set.name << " n=" << n;
      EXPECT_NEAR(sum, 1.0, 4.0 * n * std::ldexp(1.0, -52)) << set.name;  // rounding of the p_i and the sum
    }
  }
}

// Injects r1 = P_j - 1, P_j and r2 = C_i - 1, C_i at every interval edge.
TEST(Distribution, EveryIntervalEdge) {
  for (const ScoreSet& set : gof_sets(5000)) {
    const cuis::ref::Distribution d = cuis::ref::build_distribution(set.scores.data(), 5000, options(1));
    const int64_t tiles = static_cast<int64_t>(d.prefix.size());
    for (int64_t j = 0; j < tiles; ++j) {
      if (d.mass[j] == 0) continue;
      EXPECT_EQ(d.locate_tile(d.prefix[j] - 1), j);
      const u128 before = j ? d.prefix[j - 1] : 0;
      EXPECT_EQ(d.locate_tile(before), j);
      // Within the tile, every item's interval edges.
      const int64_t begin = j * cuis::detail::TILE, end = std::min<int64_t>(5000, begin + cuis::detail::TILE);
      uint64_t c = 0;
      for (int64_t i = begin; i < end; ++i) {
        if (d.q[i] == 0) continue;
        EXPECT_EQ(d.locate(before, c), i) << set.name;           // first unit of item i
        c += d.q[i];
        EXPECT_EQ(d.locate(before, c - 1), i) << set.name;       // last unit of item i
      }
      EXPECT_EQ(c, d.tile_sum[j]);
      EXPECT_EQ(d.locate(before, c), -1);  // r2 = S_j is out of range
    }
  }
}

uint64_t count_into(const std::vector<int64_t>& idx, std::vector<uint64_t>& counts) {
  uint64_t bad = 0;
  for (int64_t i : idx) {
    if (i < 0 || i >= static_cast<int64_t>(counts.size())) {
      ++bad;
      continue;
    }
    ++counts[i];
  }
  return bad;
}

void expect_fit(const std::vector<float>& s, const cuis::SampleOptions& o, int64_t draws, const std::string& name) {
  const Drawn d = ref_sample(s, draws, o);
  ASSERT_EQ(d.status.code, Error::success) << name;
  std::vector<uint64_t> counts(s.size());
  ASSERT_EQ(count_into(d.indices, counts), 0u) << name;
  const ChiSquare c = chi_square(counts, exact_probabilities(s, o), draws);
  EXPECT_EQ(c.impossible, 0u) << name;
  EXPECT_GT(c.p_value, ALPHA) << name << " chi2=" << c.statistic << " bins=" << c.bins;
}

// 200000 draws per case over 5000 items (three tiles); alpha = 1e-3 / 10.
TEST(GoodnessOfFit, ScoreSets) {
  for (const ScoreSet& set : gof_sets(5000)) expect_fit(set.scores, options(42), 200000, set.name);
}

TEST(GoodnessOfFit, PowerAndSmoothing) {
  cuis::SampleOptions o = options(43);
  o.power = 0.5f;
  expect_fit(zipf_scores(5000), o, 200000, "power 0.5");
  o = options(44);
  o.smooth = 0.01f;
  o.adaptive_smooth = 0.5f;
  o.mean_loss = 0.02f;
  expect_fit(many_zeros_scores(5000), o, 200000, "additive + adaptive smoothing");
}

// Smoothing power 0 is uniform over every item, zeros included.
TEST(Distribution, PowerZeroIsUniform) {
  cuis::SampleOptions o = options(1);
  o.power = 0.0f;
  const std::vector<double> p = exact_probabilities(many_zeros_scores(3000), o);
  for (double x : p) EXPECT_NEAR(x, 1.0 / 3000, 1e-15);
}

// #43115: at N = 2^24 + 1 half the weights are 2, half 1; the second half must
// get 1/3 of the draws (float32 cumsum gives it none). 300000 draws: a
// binomial z-test at |z| < 5 (alpha about 6e-7).
TEST(Precision, PyTorch43115Pattern) {
  const int64_t n = (int64_t{1} << 24) + 1;
  const std::vector<float> s = half_two_one_scores(n);
  const cuis::SampleOptions o = options(5);
  const double p_upper = static_cast<double>(n - n / 2) / static_cast<double>(n + n / 2);
  const int64_t draws = 300000;
  const Drawn d = ref_sample(s, draws, o);
  ASSERT_EQ(d.status.code, Error::success);
  int64_t upper = 0;
  for (int64_t i : d.indices) {
    ASSERT_GE(i, 0);
    ASSERT_LT(i, n);
    upper += i >= n / 2;
  }
  const double z = (upper - draws * p_upper) / std::sqrt(draws * p_upper * (1 - p_upper));
  EXPECT_LT(std::fabs(z), 5.0) << upper;
  // The last item itself is reachable: its probability is exact.
  const cuis::ref::Distribution dist = cuis::ref::build_distribution(s.data(), n, o);
  EXPECT_NEAR(dist.probability(n - 1) * (n + n / 2), 1.0, 1e-12);
}

// Subnormal scores, scores near FLT_MAX (whose float32 total overflows), and
// one 1e30 among 1e-30s: the distribution stays exact.
TEST(Precision, ExtremeValues) {
  const std::vector<float> subnormal(3000, 1e-45f), huge(3000, 3.0e38f);
  for (const auto* s : {&subnormal, &huge}) {
    const std::vector<double> p = exact_probabilities(*s, options(1));
    for (double x : p) ASSERT_NEAR(x, 1.0 / 3000, 1e-15);
    expect_fit(*s, options(2), 100000, s == &subnormal ? "subnormal" : "near FLT_MAX");
  }
  std::vector<float> spike(5000, 1e-30f);
  spike[4097] = 1e30f;
  const Drawn d = ref_sample(spike, 1000, options(3));
  for (int64_t i : d.indices) ASSERT_EQ(i, 4097);
  EXPECT_NEAR(d.weights[0], 1.0 / 5000, 1e-9);
}

// Twenty seeds of a small goodness-of-fit test: their p-values must look
// uniform (Kolmogorov-Smirnov, D below the alpha = 1e-3 critical value 1.95/sqrt(20)).
TEST(GoodnessOfFit, PValuesAcrossSeedsAreUniform) {
  const std::vector<float> s = zipf_scores(2000);
  const std::vector<double> p = exact_probabilities(s, options(0));
  std::vector<double> pv;
  for (uint64_t seed = 100; seed < 120; ++seed) {
    const Drawn d = ref_sample(s, 50000, options(seed));
    std::vector<uint64_t> counts(s.size());
    ASSERT_EQ(count_into(d.indices, counts), 0u);
    pv.push_back(chi_square(counts, p, 50000).p_value);
  }
  std::sort(pv.begin(), pv.end());
  double dmax = 0.0;
  for (size_t i = 0; i < pv.size(); ++i) {
    const double lo = static_cast<double>(i) / pv.size(), hi = static_cast<double>(i + 1) / pv.size();
    dmax = std::max({dmax, pv[i] - lo, hi - pv[i]});
  }
  EXPECT_LT(dmax, 1.95 / std::sqrt(20.0));
}

TEST(Sizes, AwkwardSizesDrawOnlyValidIndices) {
  for (int64_t n : {1, 2, 99, 4097}) {
    for (bool repl : {true, false}) {
      const std::vector<float> s = lognormal_scores(n, 2.0);
      const int64_t draws = repl ? 1000 : std::min<int64_t>(n, 50);
      const Drawn d = ref_sample(s, draws, options(9, repl));
      ASSERT_EQ(d.status.code, Error::success);
      std::set<int64_t> seen;
      for (int64_t i : d.indices) {
        ASSERT_GE(i, 0);
        ASSERT_LT(i, n);
        if (!repl) {
          EXPECT_TRUE(seen.insert(i).second) << "duplicate without replacement";
        }
      }
    }
  }
}

// k = 1: (1/B) sum_j w_j f(i_j) estimates (1/N) sum_i f(i). Checked at 5
// standard errors of the estimate (alpha about 6e-7) over 400000 draws.
TEST(Weights, UnbiasedWithReplacement) {
  const std::vector<float> s = zipf_scores(3000);
  const int64_t draws = 400000;
  const Drawn d = ref_sample(s, draws, options(77));
  auto f = [](int64_t i) { return std::sin(0.01 * static_cast<double>(i)) + 1.5; };
  double truth = 0.0;
  for (int64_t i = 0; i < 3000; ++i) truth += f(i) / 3000.0;
  double mean = 0.0, sq = 0.0;
  for (int64_t j = 0; j < draws; ++j) {
    const double x = d.weights[j] * f(d.indices[j]);
    mean += x;
    sq += x * x;
  }
  mean /= draws;
  const double se = std::sqrt((sq / draws - mean * mean) / draws);
  EXPECT_LT(std::fabs(mean - truth), 5.0 * se) << mean << " vs " << truth;
}

// Horvitz-Thompson: (1/N) sum_{i in S} f(i) / pi_i is unbiased; 2000 batches
// of B = 64 out of 1000, checked at 5 standard errors.
TEST(Weights, UnbiasedWithoutReplacement) {
  const std::vector<float> s = lognormal_scores(1000, 1.0);
  auto f = [](int64_t i) { return std::cos(0.003 * static_cast<double>(i)) + 2.0; };
  double truth = 0.0;
  for (int64_t i = 0; i < 1000; ++i) truth += f(i) / 1000.0;
  const int batches = 2000, b = 64;
  double mean = 0.0, sq = 0.0;
  for (int r = 0; r < batches; ++r) {
    cuis::SampleOptions o = options(1234, false);
    o.rng.offset = static_cast<uint64_t>(r) * 1000;
    const Drawn d = ref_sample(s, b, o);
    ASSERT_EQ(d.status.code, Error::success);
    double est = 0.0;
    for (int j = 0; j < b; ++j) est += d.weights[j] * f(d.indices[j]) / b;
    mean += est;
    sq += est * est;
  }
  mean /= batches;
  const double se = std::sqrt((sq / batches - mean * mean) / batches);
  EXPECT_LT(std::fabs(mean - truth), 5.0 * se) << mean << " vs " << truth;
}

// B = 1 without replacement is one draw proportional to t.
TEST(GoodnessOfFit, WithoutReplacementSingleDraw) {
  const std::vector<float> s = zipf_scores(300);
  std::vector<uint64_t> counts(300);
  const int trials = 60000;
  for (int r = 0; r < trials; ++r) {
    cuis::SampleOptions o = options(99, false);
    o.rng.offset = static_cast<uint64_t>(r) * 300;
    const Drawn d = ref_sample(s, 1, o);
    ++counts[d.indices[0]];
  }
  const ChiSquare c = chi_square(counts, requested_probabilities(s, options(0)), trials);
  EXPECT_GT(c.p_value, ALPHA) << c.statistic;
}

TEST(Weights, BiasedRescalingAndLimits) {
  const std::vector<float> s = lognormal_scores(4000, 1.5);
  for (bool repl : {true, false}) {
    const Drawn u = ref_sample(s, 256, options(3, repl, Weighting::unbiased));
    const Drawn b1 = ref_sample(s, 256, options(3, repl, Weighting::biased, 1.0f));
    const Drawn b0 = ref_sample(s, 256, options(3, repl, Weighting::biased, 0.0f));
    const Drawn bh = ref_sample(s, 256, options(3, repl, Weighting::biased, 0.5f));
    const Drawn none = ref_sample(s, 256, options(3, repl, Weighting::none));
    ASSERT_EQ(u.indices, bh.indices);  // weighting never changes the draws
    for (int j = 0; j < 256; ++j) {
      EXPECT_NEAR(b1.weights[j], u.weights[j], 1e-6 * u.weights[j]);  // k = 1 is unbiased
      EXPECT_NEAR(b0.weights[j], b0.weights[0], 1e-6 * b0.weights[0]);  // k = 0: one constant
      EXPECT_EQ(none.weights[j], 1.0f);
    }
    // sum_batch w_biased s = sum_batch w_unbiased s, with s = t (without) or p (with replacement).
    const std::vector<double> p = repl ? exact_probabilities(s, options(0)) : requested_probabilities(s, options(0));
    double lhs = 0.0, rhs = 0.0;
    for (int j = 0; j < 256; ++j) {
      lhs += bh.weights[j] * p[bh.indices[j]];
      rhs += u.weights[j] * p[u.indices[j]];
    }
    EXPECT_NEAR(lhs / rhs, 1.0, 1e-5) << (repl ? "with" : "without");
  }
}

TEST(Reproducibility, SeedsAndOffsets) {
  const std::vector<float> s = zipf_scores(10000);
  for (bool repl : {true, false}) {
    const int64_t b = 500;
    const Drawn a = ref_sample(s, b, options(10, repl));
    EXPECT_EQ(a.indices, ref_sample(s, b, options(10, repl)).indices);
    EXPECT_NE(a.indices, ref_sample(s, b, options(11, repl)).indices);
    cuis::SampleOptions shifted = options(10, repl);
    shifted.rng.offset = cuis::counters_consumed(10000, b, shifted);
    EXPECT_NE(a.indices, ref_sample(s, b, shifted).indices);
  }
  // Counter-based: draw j of offset 1 is draw j + 1 of offset 0.
  cuis::SampleOptions o = options(10);
  const Drawn a = ref_sample(s, 100, o);
  o.rng.offset = 1;
  const Drawn b = ref_sample(s, 99, o);
  EXPECT_TRUE(std::equal(b.indices.begin(), b.indices.end(), a.indices.begin() + 1));
}

TEST(CandidateSet, MapsPositionsAndUsesItsSize) {
  const std::vector<float> s = lognormal_scores(700, 1.0);
  std::vector<int64_t> ids(700);
  for (int64_t i = 0; i < 700; ++i) ids[i] = 1000000 + 3 * i;
  for (bool repl : {true, false}) {
    const Drawn plain = ref_sample(s, 200, options(4, repl));
    const Drawn mapped = ref_sample(s, 200, options(4, repl), &ids);
    for (int j = 0; j < 200; ++j) EXPECT_EQ(mapped.indices[j], ids[plain.indices[j]]);
    EXPECT_EQ(mapped.weights, plain.weights);
  }
}

void expect_bad_score(std::vector<float> s, int64_t at, float v, Error code) {
  s[at] = v;
  for (bool repl : {true, false}) {
    const Drawn d = ref_sample(s, 5, options(1, repl));
    EXPECT_EQ(d.error, Error::success);
    EXPECT_EQ(d.status.code, code);
    EXPECT_EQ(d.status.index, at);
    if (std::isnan(v)) {
      EXPECT_TRUE(std::isnan(d.status.value));
    } else {
      EXPECT_EQ(d.status.value, v);
    }
    for (int j = 0; j < 5; ++j) {
      EXPECT_EQ(d.indices[j], -1);
      EXPECT_EQ(d.weights[j], 0.0f);
    }
  }
}

TEST(BadInput, Scores) {
  const std::vector<float> s = uniform_scores(5000);
  expect_bad_score(s, 4321, std::nanf(""), Error::nan_score);
  expect_bad_score(s, 7, HUGE_VALF, Error::inf_score);
  expect_bad_score(s, 2048, -HUGE_VALF, Error::inf_score);
  expect_bad_score(s, 4999, -1e-20f, Error::negative_score);
  // The lowest bad index is reported.
  std::vector<float> two = s;
  two[3000] = -1.0f;
  expect_bad_score(two, 100, std::nanf(""), Error::nan_score);

  const Drawn zeros = ref_sample(std::vector<float>(100, 0.0f), 3, options(1));
  EXPECT_EQ(zeros.status.code, Error::zero_total);
  EXPECT_EQ(zeros.indices[0], -1);
  const Drawn few = ref_sample(many_zeros_scores(100), 60, options(1, false));
  EXPECT_EQ(few.status.code, Error::not_enough_positive);
  EXPECT_EQ(few.indices[59], -1);
  cuis::SampleOptions o = options(1);
  o.adaptive_smooth = 1.0f;
  o.mean_loss = std::nanf("");
  EXPECT_EQ(ref_sample(s, 3, o).status.code, Error::invalid_mean_loss);
  o.mean_loss = -1.0f;
  EXPECT_EQ(ref_sample(s, 3, o).status.code, Error::invalid_mean_loss);
}

TEST(BadInput, Arguments) {
  const std::vector<float> s = uniform_scores(10);
  EXPECT_EQ(ref_sample(std::vector<float>{}, 3, options(1)).error, Error::empty_input);
  EXPECT_EQ(ref_sample(s, 0, options(1)).error, Error::empty_input);
  EXPECT_EQ(ref_sample(s, 11, options(1, false)).error, Error::too_many_draws);
  EXPECT_EQ(ref_sample(s, 11, options(1, true)).error, Error::success);
  EXPECT_EQ(ref_sample(s, 3, options(1, true, Weighting::biased, 1.5f)).error, Error::invalid_k);
  EXPECT_EQ(ref_sample(s, 3, options(1, true, Weighting::biased, std::nanf(""))).error, Error::invalid_k);
  EXPECT_EQ(ref_sample(s, 3, options(1, true, Weighting::biased, -3.0f)).error, Error::success);
  cuis::SampleOptions o = options(1);
  o.power = 1.5f;
  EXPECT_EQ(ref_sample(s, 3, o).error, Error::invalid_power);
  o.power = -0.1f;
  EXPECT_EQ(ref_sample(s, 3, o).error, Error::invalid_power);
  o = options(1);
  o.smooth = -1.0f;
  EXPECT_EQ(ref_sample(s, 3, o).error, Error::invalid_smoothing);
  o.smooth = HUGE_VALF;
  EXPECT_EQ(ref_sample(s, 3, o).error, Error::invalid_smoothing);
  EXPECT_FALSE(cuis::last_error_message().empty());
  cuis::SampleArgs a;
  a.n = 10;
  a.num_draws = 3;
  EXPECT_EQ(cuis::ref::sample(a, options(1)), Error::null_pointer);
}

// Uniform indices: in range, counter-based, and uniform (chi-square over 1000
// bins, 500000 draws, alpha 1e-3 / 10 as above).
TEST(UniformIndices, InRangeReproducibleUniform) {
  const int64_t n = 1000, count = 500000;
  std::vector<int64_t> a(count), b(count - 1);
  ASSERT_EQ(cuis::ref::uniform_indices(a.data(), count, n, cuis::RngState{5, 0}), Error::success);
  ASSERT_EQ(cuis::ref::uniform_indices(b.data(), count - 1, n, cuis::RngState{5, 1}), Error::success);
  EXPECT_TRUE(std::equal(b.begin(), b.end(), a.begin() + 1));
  std::vector<uint64_t> counts(n);
  ASSERT_EQ(count_into(a, counts), 0u);
  const ChiSquare c = chi_square(counts, std::vector<double>(n, 1.0 / n), count);
  EXPECT_GT(c.p_value, ALPHA) << c.statistic;
  EXPECT_EQ(cuis::ref::uniform_indices(a.data(), 0, n, cuis::RngState{}), Error::empty_input);
  EXPECT_EQ(cuis::ref::uniform_indices(nullptr, 3, n, cuis::RngState{}), Error::null_pointer);
}

TEST(Status, DescribeNamesTheProblem) {
  cuis::DeviceStatus st{Error::nan_score, 0, 17, std::nanf(""), 0.0f, 0};
  EXPECT_NE(cuis::describe(st).find("17"), std::string::npos);
  EXPECT_NE(cuis::describe(st).find("NaN"), std::string::npos);
  st.code = Error::success;
  EXPECT_EQ(cuis::describe(st), "ok");
}

}  // namespace
