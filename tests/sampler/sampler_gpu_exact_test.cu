// The CUDA sampler against the CPU reference, bit for bit: across sizes, score
// sets, weightings and transforms, large and unaligned inputs, candidate ids,
// every interval edge through injected draws, any launch configuration, the
// uniform candidate draws, and an input beyond 2^31 items.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

#include "common/gpu_fixture.h"
#include "common/stats.h"
#include "cuis/device_buffer.h"
#include "cuis/sampler.h"
#include "cuis/sampler/distribution.h"
#include "cuis/sampler/reference.h"
#include "sample_helpers.h"
#include "sampler/sampler_internal.h"
#include "sampler_gpu_fixture.h"
#include "score_sets.h"

namespace {

using cuis::DeviceBuffer;
using cuis::Error;
using cuis::u128;
using cuis::Weighting;
using namespace cuis_test;

TEST_F(SamplerGpu, SameAsReferenceAcrossSizesAndOptions) {
  for (int64_t n : {int64_t{1}, int64_t{2}, int64_t{99}, int64_t{1000}, int64_t{2048}, int64_t{4096}, int64_t{4097},
                    (int64_t{1} << 20) + 3}) {
    for (const ScoreSet& set : gof_sets(n)) {
      if (std::all_of(set.scores.begin(), set.scores.end(), [](float x) { return x == 0.0f; })) continue;
      const std::string what = set.name + " n=" + std::to_string(n);
      expect_same_as_reference(set.scores, 3000, options(21), what + " with");
      expect_same_as_reference(set.scores, std::min<int64_t>(n, 700), options(22, false), what + " without");
    }
  }
}

TEST_F(SamplerGpu, SameAsReferenceForEveryWeightingAndTransform) {
  const std::vector<float> s = lognormal_scores(50000, 2.0);
  for (bool repl : {true, false}) {
    for (Weighting w : {Weighting::none, Weighting::unbiased, Weighting::biased}) {
      for (float k : {1.0f, 0.5f, 0.0f, -2.0f}) {
        cuis::SampleOptions o = options(5, repl, w, k);
        o.power = 0.7f;
        o.smooth = 0.001f;
        o.adaptive_smooth = 0.25f;
        o.mean_loss = 0.3f;
        expect_same_as_reference(s, 4096, o, "weighting " + std::to_string(static_cast<int>(w)));
      }
    }
  }
}

TEST_F(SamplerGpu, SameAsReferenceLargeAndUnaligned) {
  const int64_t n = (int64_t{1} << 24) + 1;
  expect_same_as_reference(half_two_one_scores(n), 100000, options(31), "2^24+1 #43115");
  expect_same_as_reference(zipf_scores(100003), 5000, options(32), "unaligned by 1 float", nullptr, 1);
  expect_same_as_reference(std::vector<float>(5000, 1e-45f), 5000, options(35), "subnormal");
  expect_same_as_reference(std::vector<float>(5000, 3e38f), 5000, options(36), "near FLT_MAX");
  std::vector<int64_t> ids(100003);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int64_t>(7 * i + 3);
  expect_same_as_reference(zipf_scores(100003), 5000, options(33), "candidate ids", &ids);
  expect_same_as_reference(zipf_scores(100003), 5000, options(34, false), "candidate ids without", &ids);
  expect_same_as_reference(zipf_scores(100003), 5000, options(37, true, Weighting::biased, 0.3f), "ids biased", &ids);
  expect_same_as_reference(zipf_scores(100003), 5000, options(38, false, Weighting::biased, 0.3f), "ids biased without",
                           &ids);
}

// Every interval edge, injected: r1 = P_j - 1 and P_{j-1}; r2 = C_i - 1 and C_{i-1};
// over several tiles (the general path) and one tile (the single-launch path).
TEST_F(SamplerGpu, InjectedDrawsAtEveryIntervalEdge) {
  for (int64_t n : {9000, 2000})
    for (const ScoreSet& set : gof_sets(n)) {
      const cuis::SampleOptions o = options(1);
      const cuis::ref::Distribution d = cuis::ref::build_distribution(set.scores.data(), n, o);
      std::vector<u128> r1;
      std::vector<uint64_t> r2;
      std::vector<int64_t> want;
      for (size_t j = 0; j < d.prefix.size(); ++j) {
        if (d.mass[j] == 0) continue;
        const u128 before = j ? d.prefix[j - 1] : 0;
        uint64_t c = 0;
        for (int64_t i = j * cuis::detail::TILE; i < std::min<int64_t>(n, (j + 1) * cuis::detail::TILE); ++i) {
          if (d.q[i] == 0) continue;
          for (u128 r : {before, d.prefix[j] - 1}) {
            r1.push_back(r);
            r2.push_back(c);
            want.push_back(i);
            r1.push_back(r);
            r2.push_back(c + d.q[i] - 1);
            want.push_back(i);
          }
          c += d.q[i];
        }
      }
      const int64_t draws = static_cast<int64_t>(want.size());
      DeviceBuffer<float> d_s = upload(set.scores);
      DeviceBuffer<u128> d_r1 = upload(r1);
      DeviceBuffer<uint64_t> d_r2 = upload(r2);
      DeviceBuffer<int64_t> d_idx;
      DeviceBuffer<cuis::DeviceStatus> d_st;
      CUIS_OK(d_idx.resize(draws));
      CUIS_OK(d_st.resize(1));
      size_t bytes = 0;
      CUIS_OK(cuis::sample_workspace_size(n, draws, o, &bytes));
      DeviceBuffer<char> ws;
      CUIS_OK(ws.resize(bytes));
      poison(d_idx, POISON_AB);
      poison(d_st, POISON_AB);
      cuis::SampleArgs a{d_s.data(), n, nullptr, draws, d_idx.data(), nullptr, d_st.data()};
      CUIS_OK(cuis::detail::sample_injected(a, o, d_r1.data(), d_r2.data(), ws.data(), bytes, stream));
      cuis::DeviceStatus st = unwritten_status();
      CUIS_OK(cuis::read_status(d_st.data(), stream, &st));
      const cuis::DeviceStatus want_st = cuis::ref::check_scores(set.scores.data(), n, draws, o);
      ASSERT_EQ(want_st.code, Error::success) << set.name << " n=" << n;
      ASSERT_EQ(st.code, Error::success) << set.name << " n=" << n << ": " << cuis::describe(st);
      EXPECT_EQ(st.positive_count, want_st.positive_count) << set.name << " n=" << n;
      std::vector<int64_t> got(draws);
      CUDA_OK(cudaMemcpy(got.data(), d_idx.data(), draws * 8, cudaMemcpyDeviceToHost));
      EXPECT_EQ(got, want) << set.name << " n=" << n;
    }
}

// The grid size must not change a single bit of the output: every capped grid
// (and the automatic one) gives the CPU reference's indices, weights and status.
TEST_F(SamplerGpu, IndependentOfLaunchConfiguration) {
  struct GridCap {  // restores the automatic grid even when an assertion returns early
    explicit GridCap(unsigned blocks) { cuis::detail::set_max_grid_blocks(blocks); }
    ~GridCap() { cuis::detail::set_max_grid_blocks(0); }
  };
  const std::vector<float> s = extreme_range_scores(300000);
  for (bool repl : {true, false}) {
    const cuis::SampleOptions o = options(8, repl, Weighting::biased, 0.5f);
    for (unsigned cap : {0u, 1u, 3u, 1000u}) {
      const GridCap guard(cap);
      expect_same_as_reference(s, 20000, o, "grid cap " + std::to_string(cap) + (repl ? " with" : " without"));
    }
  }
}

TEST_F(SamplerGpu, UniformIndicesMatchReference) {
  const int64_t n = 12345, count = 100003;
  DeviceBuffer<int64_t> d;
  CUIS_OK(d.resize(count));
  DeviceBuffer<cuis::RngState> rng = upload(std::vector<cuis::RngState>{{7, 40}});
  poison(d, POISON_AB);
  CUIS_OK(cuis::uniform_indices(d.data(), count, n, cuis::RngState{7, 40}, nullptr, false, stream));
  std::vector<int64_t> want(count, -2);
  CUIS_OK(cuis::ref::uniform_indices(want.data(), count, n, cuis::RngState{7, 40}));
  EXPECT_EQ(download(d.data(), count), want);
  poison(d, POISON_AB);  // else the first call's output would pass for the second's
  CUIS_OK(cuis::uniform_indices(d.data(), count, n, cuis::RngState{}, rng.data(), true, stream));
  EXPECT_EQ(download(d.data(), count), want);  // read from device memory
  EXPECT_EQ(download(rng.data(), 1)[0].offset, 40u + count);
}

// n = 2^31 + 5000 with zeros except six items past 2^31: every draw lands on
// them, in proportion (chi-square, alpha 1e-3, 60000 draws).
TEST_F(SamplerGpu, BeyondTwoToThe31) {
  const int64_t n = (int64_t{1} << 31) + 5000;
  size_t free_b = 0, total_b = 0;
  CUDA_OK(cudaMemGetInfo(&free_b, &total_b));
  if (free_b < static_cast<size_t>(n) * 6) GTEST_SKIP() << "needs about " << n * 6 / (1 << 30) << " GiB free";
  DeviceBuffer<float> d_s;
  CUIS_OK(d_s.resize(n));
  CUDA_OK(cudaMemset(d_s.data(), 0, n * 4));
  const int64_t at[] = {
      (int64_t{1} << 31), (int64_t{1} << 31) + 1, (int64_t{1} << 31) + 2047, (int64_t{1} << 31) + 2048, n - 2, n - 1};
  const float w[] = {1, 2, 3, 4, 5, 6};
  for (int i = 0; i < 6; ++i) CUDA_OK(cudaMemcpy(d_s.data() + at[i], &w[i], 4, cudaMemcpyHostToDevice));
  const int64_t b = 60000;
  DeviceBuffer<int64_t> d_idx;
  DeviceBuffer<float> d_w;
  DeviceBuffer<cuis::DeviceStatus> d_st;
  CUIS_OK(d_idx.resize(b));
  CUIS_OK(d_w.resize(b));
  CUIS_OK(d_st.resize(1));
  const cuis::SampleOptions o = options(3);
  size_t bytes = 0;
  CUIS_OK(cuis::sample_workspace_size(n, b, o, &bytes));
  DeviceBuffer<char> ws;
  CUIS_OK(ws.resize(bytes));
  poison(d_idx, POISON_AB);
  poison(d_w, POISON_NAN);
  poison(d_st, POISON_AB);
  cuis::SampleArgs a{d_s.data(), n, nullptr, b, d_idx.data(), d_w.data(), d_st.data()};
  CUIS_OK(cuis::sample(a, o, ws.data(), bytes, stream));
  cuis::DeviceStatus st = unwritten_status();
  CUIS_OK(cuis::read_status(d_st.data(), stream, &st));
  ASSERT_EQ(st.code, Error::success) << cuis::describe(st);
  EXPECT_EQ(st.positive_count, 6u);
  std::vector<int64_t> idx(b);
  std::vector<float> wt(b);
  CUDA_OK(cudaMemcpy(idx.data(), d_idx.data(), b * 8, cudaMemcpyDeviceToHost));
  CUDA_OK(cudaMemcpy(wt.data(), d_w.data(), b * 4, cudaMemcpyDeviceToHost));
  std::vector<uint64_t> counts(6);
  for (int64_t j = 0; j < b; ++j) {
    const auto it = std::find(std::begin(at), std::end(at), idx[j]);
    ASSERT_NE(it, std::end(at)) << idx[j];
    const int k = static_cast<int>(it - std::begin(at));
    ++counts[k];
    EXPECT_NEAR(wt[j], 21.0 / (w[k] * static_cast<double>(n)), 1e-6 * wt[j]);
  }
  std::vector<double> p(6);
  for (int k = 0; k < 6; ++k) p[k] = w[k] / 21.0;
  EXPECT_GT(chi_square(counts, p, b).p_value, 1e-3);
}

}  // namespace
