// Sharded sampling on the CPU reference, R ranks simulated in one process:
// R = 1 against the one-GPU sampler, the global distribution (chi-square),
// the stratified estimate's unbiasedness, the weights, and every fault every
// rank must see alike.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "common/stats.h"
#include "cuis/core/philox.h"
#include "cuis/sampler/shard_plan.h"
#include "sample_helpers.h"
#include "score_sets.h"
#include "shard_helpers.h"

namespace {

using cuis::Error;
using cuis::ShardInfo;
using cuis::ShardMode;
using cuis::Weighting;
using namespace cuis_test;

ShardInfo info_for(ShardMode mode, int64_t num_samples, int64_t capacity = 0) {
  ShardInfo i;
  i.mode = mode;
  i.num_samples = num_samples;
  i.capacity = capacity;
  return i;
}

std::vector<float> varied_scores(int64_t n) {
  std::vector<float> v = zipf_scores(n, 0.8);
  for (int64_t i = 0; i < n; i += 7) v[i] *= 40.0f;  // not monotone in the index
  return v;
}

int64_t total_of(const std::vector<int64_t>& sizes) { return std::accumulate(sizes.begin(), sizes.end(), int64_t{0}); }

// R = 1: both modes are the one-GPU sampler, bit for bit, for every weighting.
TEST(ShardReference, OneRankEqualsSample) {
  for (int64_t n : {1, 100, 5000, 70000}) {
    const std::vector<float> s = varied_scores(n);
    for (ShardMode mode : {ShardMode::stratified, ShardMode::global}) {
      for (Weighting w : {Weighting::none, Weighting::unbiased, Weighting::biased}) {
        for (bool with_ids : {false, true}) {
          cuis::SampleOptions o = options(1234 + n, true, w, 0.5f);
          o.rng.offset = 99;
          o.smooth = 0.01f;
          std::vector<Shard> shards = split(s, {n});
          std::vector<int64_t> ids;
          if (with_ids) {
            for (int64_t i = 0; i < n; ++i) ids.push_back(3 * i + 1);
            shards[0].ids = ids;
          }
          const int64_t b = 300;
          const Drawn one = ref_sample(s, b, o, with_ids ? &ids : nullptr);
          const std::vector<RankOut> out = ref_shard_step(shards, info_for(mode, n), b, o);
          ASSERT_EQ(out[0].error, Error::success);
          ASSERT_EQ(out[0].status.code, Error::success);
          ASSERT_EQ(out[0].count, b);
          EXPECT_EQ(out[0].indices, one.indices) << "n " << n << " mode " << static_cast<int>(mode);
          EXPECT_EQ(out[0].weights, one.weights) << "n " << n << " weighting " << static_cast<int>(w);
        }
      }
    }
  }
}

// The union of all ranks' draws in global mode against t_i / T, R = 2, 3, 4
// with uneven (and, for R = 3, strided) shards. One family-wise alpha of 1e-3
// over the three cases; 4 * 10^5 draws each.
TEST(ShardReference, GlobalDrawsFollowTheGlobalDistribution) {
  const double alpha = 1e-3 / 3;
  const std::vector<float> all = varied_scores(5000);
  const std::vector<std::vector<Shard>> cases = {split(all, {4100, 900}), split_strided(all, 3),
                                                 split(all, {100, 2900, 7, 1993})};
  std::vector<double> p(all.size());
  const double total = std::accumulate(all.begin(), all.end(), 0.0);
  for (size_t i = 0; i < all.size(); ++i) p[i] = all[i] / total;
  for (const std::vector<Shard>& shards : cases) {
    const int R = static_cast<int>(shards.size());
    const int64_t b = 400, draws = 400000, steps = draws / (R * b);
    std::vector<uint64_t> counts(all.size(), 0);
    cuis::SampleOptions o = options(77);
    for (int64_t step = 0; step < steps; ++step) {
      const std::vector<RankOut> out = ref_shard_step(shards, info_for(ShardMode::global, 5000), b, o);
      int64_t landed = 0;
      for (const RankOut& r : out) {
        ASSERT_EQ(r.status.code, Error::success);
        for (int64_t j = 0; j < r.count; ++j) ++counts[r.indices[j]];
        landed += r.count;
      }
      ASSERT_EQ(landed, R * b);
      o.rng.offset += cuis::shard_counters_consumed(ShardInfo{ShardMode::global, 0, R, 5000, 0}, b);
    }
    const ChiSquare c = chi_square(counts, p, static_cast<uint64_t>(steps * R * b));
    EXPECT_GT(c.p_value, alpha) << "R " << R << " chi2 " << c.statistic << " bins " << c.bins;
  }
}

// Each rank's own draws land in its own shard; padding follows the count.
TEST(ShardReference, GlobalDrawsStayInTheirShardAndPad) {
  const std::vector<float> all = varied_scores(3000);
  const std::vector<Shard> shards = split_strided(all, 4);
  const std::vector<RankOut> out = ref_shard_step(shards, info_for(ShardMode::global, 3000), 64, options(5));
  for (int r = 0; r < 4; ++r) {
    ASSERT_EQ(out[r].status.code, Error::success);
    ASSERT_EQ(out[r].indices.size(), 4u * 64u);  // default capacity R b
    for (int64_t j = 0; j < 4 * 64; ++j) {
      if (j < out[r].count) {
        EXPECT_EQ(out[r].indices[j] % 4, r);
        EXPECT_GT(out[r].weights[j], 0.0f);
      } else {
        EXPECT_EQ(out[r].indices[j], -1);
        EXPECT_EQ(out[r].weights[j], 0.0f);
      }
    }
  }
}

// Weighted means over all ranks' draws estimate the plain dataset mean of a
// function unrelated to the scores: DDP's estimate (1/R) sum_r (1/b) sum_j w f.
// Bound: |mean - truth| < 5 standard errors (two-sided alpha below 1e-6), over
// 400 steps of R b = 4 * 64 draws, for R = 4 uneven shards, both modes.
TEST(ShardReference, UnbiasedWeightsEstimateTheDatasetMean) {
  const std::vector<int64_t> sizes = {300, 2500, 40, 1160};
  const int64_t N = total_of(sizes);
  const std::vector<float> all = varied_scores(N);
  std::vector<double> f(N);
  for (int64_t i = 0; i < N; ++i) f[i] = 2.0 + std::sin(0.37 * static_cast<double>(i)) + (i % 3 == 0 ? 3.0 : 0.0);
  const double truth = std::accumulate(f.begin(), f.end(), 0.0) / static_cast<double>(N);
  for (ShardMode mode : {ShardMode::stratified, ShardMode::global}) {
    cuis::SampleOptions o = options(2024);
    o.smooth = 0.001f;
    const int64_t b = 64, steps = 400;
    std::vector<double> est;
    for (int64_t step = 0; step < steps; ++step) {
      const std::vector<RankOut> out = ref_shard_step(split(all, sizes), info_for(mode, N), b, o);
      double sum = 0.0;
      for (const RankOut& r : out) {
        ASSERT_EQ(r.status.code, Error::success);
        for (int64_t j = 0; j < r.count; ++j) sum += r.weights[j] * f[r.indices[j]] / static_cast<double>(b);
      }
      est.push_back(sum / static_cast<double>(sizes.size()));
      o.rng.offset += static_cast<uint64_t>(sizes.size()) * b;
    }
    const double mean = std::accumulate(est.begin(), est.end(), 0.0) / steps;
    double var = 0.0;
    for (double e : est) var += (e - mean) * (e - mean);
    const double se = std::sqrt(var / (steps - 1) / steps);
    EXPECT_LT(std::fabs(mean - truth), 5.0 * se)
        << "mode " << static_cast<int>(mode) << " mean " << mean << " truth " << truth << " se " << se;
    EXPECT_LT(se, 0.02 * truth) << "the test would not see a biased estimate";
  }
}

// The weights as documented: stratified R W_r / (N t_i), global 1 / (N p_i).
TEST(ShardReference, WeightsFollowTheirDefinitions) {
  const std::vector<int64_t> sizes = {700, 3000, 1300};
  const int64_t N = total_of(sizes);
  const int R = 3;
  const std::vector<float> all = varied_scores(N);
  const double T = std::accumulate(all.begin(), all.end(), 0.0);
  std::vector<double> W(R, 0.0);
  int64_t at = 0;
  for (int r = 0; r < R; ++r)
    for (int64_t i = 0; i < sizes[r]; ++i) W[r] += all[at++];
  for (ShardMode mode : {ShardMode::stratified, ShardMode::global}) {
    const std::vector<RankOut> out = ref_shard_step(split(all, sizes), info_for(mode, N), 200, options(3));
    for (int r = 0; r < R; ++r) {
      for (int64_t j = 0; j < out[r].count; ++j) {
        const double t = all[out[r].indices[j]];
        const double want = mode == ShardMode::stratified ? R * W[r] / (N * t) : T / (N * t);
        EXPECT_NEAR(out[r].weights[j] / want, 1.0, 1e-6) << "rank " << r << " draw " << j;
      }
    }
  }
}

// Biased weights are rescaled over the global batch: the score-weighted sum
// over all ranks' draws keeps its unbiased value.
TEST(ShardReference, BiasedRescalingSpansTheGlobalBatch) {
  const std::vector<int64_t> sizes = {900, 100, 2000};
  const int64_t N = total_of(sizes);
  const std::vector<float> all = varied_scores(N);
  const double T = std::accumulate(all.begin(), all.end(), 0.0);
  for (ShardMode mode : {ShardMode::stratified, ShardMode::global}) {
    const std::vector<RankOut> unb = ref_shard_step(split(all, sizes), info_for(mode, N), 128, options(8));
    const std::vector<RankOut> bia =
        ref_shard_step(split(all, sizes), info_for(mode, N), 128, options(8, true, Weighting::biased, 0.3f));
    double su = 0.0, sb = 0.0, spread = 0.0;
    for (size_t r = 0; r < sizes.size(); ++r) {
      ASSERT_EQ(bia[r].indices, unb[r].indices);
      for (int64_t j = 0; j < bia[r].count; ++j) {
        const double p = all[bia[r].indices[j]] / T;
        su += unb[r].weights[j] * p;
        sb += bia[r].weights[j] * p;
        spread += std::fabs(bia[r].weights[j] - unb[r].weights[j]);
      }
    }
    EXPECT_NEAR(sb / su, 1.0, 1e-5) << "mode " << static_cast<int>(mode);
    EXPECT_GT(spread, 1.0) << "k = 0.3 must change the weights";
  }
}

// Stratified: a shard whose transformed scores are all zero is drawn
// uniformly with weight R n_r / N (its samples still have gradients); in
// global mode it gets no draws.
TEST(ShardReference, ZeroMassShard) {
  const std::vector<float> all = [] {
    std::vector<float> v(150, 0.0f);
    for (int i = 50; i < 150; ++i) v[i] = 0.5f + static_cast<float>(i % 5);
    return v;
  }();
  const cuis::SampleOptions o = options(41);
  const std::vector<RankOut> st = ref_shard_step(split(all, {50, 100}), info_for(ShardMode::stratified, 150), 32, o);
  ASSERT_EQ(st[0].status.code, Error::success);
  ASSERT_EQ(st[0].count, 32);
  for (int64_t j = 0; j < 32; ++j) {
    EXPECT_EQ(st[0].indices[j], cuis::detail::uniform_index(41, static_cast<uint64_t>(j), 50));
    EXPECT_EQ(st[0].weights[j], static_cast<float>(2.0 * 50.0 / 150.0));
  }
  for (int64_t j = 0; j < 32; ++j) EXPECT_GE(st[1].indices[j], 50);
  const std::vector<RankOut> gl = ref_shard_step(split(all, {50, 100}), info_for(ShardMode::global, 150), 32, o);
  EXPECT_EQ(gl[0].count, 0);
  EXPECT_EQ(gl[1].count, 64);
}

// Stratified: an empty shard draws nothing (its share of the gradient is
// zero), the others draw as usual with N the sum of the others.
TEST(ShardReference, EmptyShard) {
  const std::vector<float> all = varied_scores(400);
  for (ShardMode mode : {ShardMode::stratified, ShardMode::global}) {
    const std::vector<RankOut> out = ref_shard_step(split(all, {150, 0, 250}), info_for(mode, 400), 16, options(6));
    for (const RankOut& r : out) EXPECT_EQ(r.status.code, Error::success);
    EXPECT_EQ(out[1].count, 0);
    for (int64_t x : out[1].indices) EXPECT_EQ(x, -1);
    for (float w : out[1].weights) EXPECT_EQ(w, 0.0f);
    EXPECT_EQ(out[0].count + out[2].count, mode == ShardMode::stratified ? 32 : 48);
  }
}

void expect_everywhere(const std::vector<RankOut>& out, Error code, int rank, int64_t index) {
  for (size_t r = 0; r < out.size(); ++r) {
    ASSERT_EQ(out[r].error, Error::success) << "rank " << r;
    EXPECT_EQ(out[r].status.code, code) << "rank " << r << ": " << cuis::describe(out[r].status);
    EXPECT_EQ(out[r].status.rank, rank) << "rank " << r;
    EXPECT_EQ(out[r].status.index, index) << "rank " << r;
    EXPECT_EQ(out[r].count, 0) << "rank " << r;
    for (int64_t x : out[r].indices) EXPECT_EQ(x, -1);
    for (float w : out[r].weights) EXPECT_EQ(w, 0.0f);
  }
}

// A bad score on one rank: every rank gets the same status, naming the rank
// and the sample's global index.
TEST(ShardReference, BadScoreReachesEveryRank) {
  for (float bad : {NAN, INFINITY, -1.0f}) {
    for (ShardMode mode : {ShardMode::stratified, ShardMode::global}) {
      std::vector<float> all = varied_scores(600);
      all[350] = bad;  // rank 2 of {200, 100, 300}, its position 50
      const std::vector<RankOut> out = ref_shard_step(split(all, {200, 100, 300}), info_for(mode, 600), 8, options(9));
      const Error want = std::isnan(bad)   ? Error::nan_score
                         : std::isinf(bad) ? Error::inf_score
                                           : Error::negative_score;
      expect_everywhere(out, want, 2, 350);
      EXPECT_NE(cuis::describe(out[0].status).find("350"), std::string::npos);
    }
  }
}

// Ranks that disagree are refused on every rank; describe() says on what.
TEST(ShardReference, RanksThatDisagreeAreRefused) {
  const std::vector<float> all = varied_scores(600);
  const std::vector<Shard> shards = split(all, {200, 100, 300});
  const ShardInfo info = info_for(ShardMode::global, 600);
  const auto with = [&](auto change) {
    return ref_shard_step(shards, info, 8, [&](int r) {
      cuis::SampleOptions o = options(10, true, Weighting::biased, 0.5f);
      o.adaptive_smooth = 0.1f;
      o.mean_loss = 2.0f;
      if (r == 1) change(o);
      return o;
    });
  };
  expect_everywhere(with([](cuis::SampleOptions& o) { o.rng.seed = 11; }), Error::shard_mismatch, 1,
                    cuis::detail::MISMATCH_RNG);
  expect_everywhere(with([](cuis::SampleOptions& o) { o.rng.offset = 1; }), Error::shard_mismatch, 1,
                    cuis::detail::MISMATCH_RNG);
  expect_everywhere(with([](cuis::SampleOptions& o) { o.k = 0.25f; }), Error::shard_mismatch, 1,
                    cuis::detail::MISMATCH_OPTIONS);
  expect_everywhere(with([](cuis::SampleOptions& o) { o.mean_loss = 2.5f; }), Error::shard_mismatch, 1,
                    cuis::detail::MISMATCH_SMOOTHING);
  // Shards that do not add up to N.
  expect_everywhere(ref_shard_step(shards, info_for(ShardMode::global, 601), 8, options(10)), Error::shard_mismatch, 0,
                    cuis::detail::MISMATCH_SIZES);
  // Records gathered out of rank order.
  const std::vector<RankOut> ok = ref_shard_step(shards, info, 8, options(10));
  EXPECT_EQ(ok[0].status.code, Error::success);
  std::vector<cuis::ShardRecord> recs = {ok[2].record, ok[1].record, ok[0].record};
  const cuis::DeviceStatus st = cuis::detail::records_status(recs.data(), 3, 600);
  EXPECT_EQ(st.code, Error::shard_mismatch);
  EXPECT_EQ(st.index, cuis::detail::MISMATCH_RANK_ORDER);
  EXPECT_NE(cuis::describe(st).find("rank order"), std::string::npos);
  // A record no shard_record writes (a wrong buffer passed as the gathered
  // records): each field out of range is refused before any arithmetic on it
  // (the records' fuzz target found an exponent that overflowed int).
  for (int field = 0; field < 5; ++field) {
    recs = {ok[0].record, ok[1].record, ok[2].record};
    cuis::ShardRecord& x = recs[1];
    if (field == 0) x.max_exp = -2147483647;
    if (field == 1) x.max_exp = 5000;
    if (field == 2) x.n = -1;
    if (field == 3) x.total_hi = uint64_t{1} << 40;  // 100 scores: one tile, a mass below 2^64
    if (field == 4) x.code = 12345;
    const cuis::DeviceStatus bad = cuis::detail::records_status(recs.data(), 3, 600);
    EXPECT_EQ(bad.code, Error::shard_mismatch) << field;
    EXPECT_EQ(bad.rank, 1) << field;
    EXPECT_EQ(bad.index, cuis::detail::MISMATCH_RECORD) << field;
    EXPECT_NE(cuis::describe(bad).find("no shard_record writes"), std::string::npos) << cuis::describe(bad);
  }
  recs = {ok[0].record, ok[1].record, ok[2].record};
  EXPECT_EQ(cuis::detail::records_status(recs.data(), 3, 600).code, Error::success);
}

TEST(ShardReference, ZeroTotalAndBadMeanLoss) {
  const std::vector<float> zeros(300, 0.0f);
  for (ShardMode mode : {ShardMode::stratified, ShardMode::global})
    expect_everywhere(ref_shard_step(split(zeros, {100, 200}), info_for(mode, 300), 4, options(1)), Error::zero_total,
                      0, -1);
  cuis::SampleOptions o = options(1);
  o.adaptive_smooth = 1.0f;
  o.mean_loss = NAN;
  expect_everywhere(ref_shard_step(split(varied_scores(300), {100, 200}), info_for(ShardMode::global, 300), 4, o),
                    Error::invalid_mean_loss, 0, -1);
}

// Global mode: more draws than a rank's capacity is reported on every rank.
TEST(ShardReference, CapacityOverflow) {
  const std::vector<float> all = varied_scores(1000);
  const std::vector<RankOut> out =
      ref_shard_step(split(all, {500, 500}), info_for(ShardMode::global, 1000, /*capacity=*/20), 16, options(12));
  int over = -1;
  for (const RankOut& r : out) {
    ASSERT_EQ(r.status.code, Error::capacity_exceeded);
    if (over < 0) over = r.status.rank;
    EXPECT_EQ(r.status.rank, over);
    EXPECT_GT(r.status.index, 20);
    EXPECT_EQ(r.count, 0);
  }
  // The same step fits in the default capacity R b.
  const std::vector<RankOut> fits =
      ref_shard_step(split(all, {500, 500}), info_for(ShardMode::global, 1000), 16, options(12));
  EXPECT_EQ(fits[over].count, out[0].status.index);
}

TEST(ShardReference, ArgumentErrors) {
  const cuis::SampleOptions o = options(1);
  ShardInfo i = info_for(ShardMode::stratified, 10);
  EXPECT_EQ(cuis::validate_shard(i, 10, 4, o), Error::success);
  EXPECT_EQ(cuis::validate_shard(i, 11, 4, o), Error::invalid_argument);  // n > N
  EXPECT_EQ(cuis::validate_shard(i, 5, 0, o), Error::empty_input);
  EXPECT_EQ(cuis::validate_shard(info_for(ShardMode::stratified, 0), 0, 4, o), Error::empty_input);
  i.rank = 1;
  EXPECT_EQ(cuis::validate_shard(i, 5, 4, o), Error::invalid_argument);  // rank >= ranks
  EXPECT_NE(cuis::last_error_message().find("rank 1"), std::string::npos);
  i.rank = 0;
  i.ranks = 0;
  EXPECT_EQ(cuis::validate_shard(i, 5, 4, o), Error::invalid_argument);
  i.ranks = 1;
  i.capacity = 3;
  EXPECT_EQ(cuis::validate_shard(i, 5, 4, o), Error::invalid_argument);  // capacity < b, stratified
  EXPECT_EQ(cuis::validate_shard(info_for(ShardMode::global, 10, 3), 5, 4, o), Error::success);
  EXPECT_EQ(cuis::validate_shard(info_for(ShardMode::stratified, 10), 5, 4, options(1, false)),
            Error::invalid_argument);  // without replacement
  cuis::SampleOptions bad_k = options(1, true, Weighting::biased, 2.0f);
  EXPECT_EQ(cuis::validate_shard(info_for(ShardMode::global, 10), 5, 4, bad_k), Error::invalid_k);

  // Null outputs, biased without terms, rescale for another weighting.
  RankOut out;
  out.indices.assign(4, 0);
  out.weights.assign(4, 0.0f);
  Shard s;
  s.scores.assign(10, 1.0f);
  cuis::ShardArgs a = shard_args(s, 4, out);
  cuis::ShardRecord rec{};
  ASSERT_EQ(cuis::ref::shard_record(a, info_for(ShardMode::stratified, 10), o, &rec), Error::success);
  EXPECT_EQ(cuis::ref::shard_record(a, info_for(ShardMode::stratified, 10), o, nullptr), Error::null_pointer);
  a.count = nullptr;
  EXPECT_EQ(cuis::ref::shard_sample(a, info_for(ShardMode::stratified, 10), o, &rec, nullptr, nullptr),
            Error::null_pointer);
  a.count = &out.count;
  EXPECT_EQ(cuis::ref::shard_sample(a, info_for(ShardMode::stratified, 10), options(1, true, Weighting::biased, 0.5f),
                                    &rec, nullptr, nullptr),
            Error::null_pointer);
  cuis::ShardTerms t{1.0, 1.0};
  double work[4] = {};
  EXPECT_EQ(cuis::ref::shard_rescale(a, info_for(ShardMode::stratified, 10), o, &t, work), Error::invalid_argument);
}

}  // namespace
