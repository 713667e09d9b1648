// The single-launch path (n <= 2048) against the general path, every output
// bit, with and without replacement.
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

// Turns the single-launch path off for its lifetime (restored on any exit).
struct GeneralPathOnly {
  GeneralPathOnly() { cuis::detail::set_single_tile_path(false); }
  ~GeneralPathOnly() { cuis::detail::set_single_tile_path(true); }
};

// For n <= TILE the single-launch path gives every bit the general path gives,
// with and without replacement: indices, weights, status and the device RNG
// offset, for every weighting and transform, candidate ids, bad scores, the
// largest batch it takes, and B = n without replacement. Both equal the CPU
// reference too (so that two runs that both wrote nothing cannot pass).
TEST_F(SamplerGpu, SingleTilePathEqualsGeneralPath) {
  struct Case {
    std::vector<float> scores;
    int64_t draws;
    cuis::SampleOptions o;
    std::string what;
  };
  std::vector<Case> cases;
  for (bool repl : {true, false})
    for (int64_t n : {1, 7, 1000, 1024, 2047, 2048})
      for (Weighting w : {Weighting::none, Weighting::unbiased, Weighting::biased}) {
        cuis::SampleOptions o = options(61, repl, w, 0.5f);
        o.power = 0.7f;
        o.adaptive_smooth = 0.25f;
        o.mean_loss = 0.3f;
        const int64_t draws = repl ? 1000 : std::min<int64_t>(n, 700);
        cases.push_back(
            {lognormal_scores(n, 3.0), draws, o, "lognormal n=" + std::to_string(n) + (repl ? " with" : " without")});
      }
  cases.push_back({many_zeros_scores(2048), cuis::detail::SINGLE_TILE_MAX_DRAWS,
                   options(62, true, Weighting::biased, 0.5f), "many zeros, largest batch"});
  // Without replacement: every item (tau = +inf), all but one, and more draws than positive scores.
  cases.push_back({zipf_scores(2048), 2048, options(67, false, Weighting::biased, 0.5f), "without, B = n"});
  cases.push_back({zipf_scores(2048), 2047, options(68, false, Weighting::unbiased), "without, B = n - 1"});
  cases.push_back({many_zeros_scores(2048), 2000, options(69, false), "without, too few positive"});
  std::vector<float> half_zero = zipf_scores(1000);
  std::fill(half_zero.begin() + 500, half_zero.end(), 0.0f);
  cases.push_back(
      {half_zero, 500, options(71, false, Weighting::biased, 0.5f), "without, B = positive < n (tau = inf)"});
  cases.push_back({std::vector<float>(300, 0.0f), 10, options(72, false), "without, all zero"});
  cuis::SampleOptions bad_mean_biased = options(73, false, Weighting::biased, 0.5f);
  bad_mean_biased.adaptive_smooth = 1.0f;
  bad_mean_biased.mean_loss = -1.0f;
  cases.push_back({zipf_scores(500), 50, bad_mean_biased, "without, negative mean loss, biased weights"});
  bad_mean_biased.replacement = true;
  cases.push_back({zipf_scores(500), 50, bad_mean_biased, "with, negative mean loss, biased weights"});
  std::vector<float> bad_without = zipf_scores(900);
  bad_without[700] = INFINITY;
  cases.push_back({bad_without, 100, options(70, false), "without, Inf at 700"});
  std::vector<float> bad = zipf_scores(1500);
  bad[5] = NAN;
  bad[900] = -1.0f;
  cases.push_back({bad, 300, options(63), "NaN at 5"});
  cases.push_back({std::vector<float>(100, 0.0f), 10, options(64), "all zero"});
  cuis::SampleOptions bad_mean = options(65);
  bad_mean.adaptive_smooth = 1.0f;
  bad_mean.mean_loss = NAN;
  cases.push_back({zipf_scores(100), 10, bad_mean, "NaN mean loss"});
  for (const Case& c : cases) {
    std::vector<int64_t> ids(c.scores.size());
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int64_t>(5 * i + 1);
    const std::vector<int64_t>* id_sets[] = {nullptr, &ids};
    for (const std::vector<int64_t>* with : id_sets) {
      const std::string what = c.what + (with ? " ids" : "");
      const Drawn want = ref_sample(c.scores, c.draws, c.o, with);
      Drawn general;
      {
        GeneralPathOnly off;
        general = gpu_sample(c.scores, c.draws, c.o, with);
      }
      expect_matches_reference(general, want, what + " (general path)");
      const Drawn single = gpu_sample(c.scores, c.draws, c.o, with);
      expect_matches_reference(single, want, what + " (single-launch path)");
      ASSERT_EQ(general.error, Error::success) << what;
      ASSERT_EQ(single.error, Error::success) << what;
      EXPECT_EQ(single.status.code, general.status.code) << what;
      EXPECT_EQ(std::memcmp(&single.status, &general.status, sizeof single.status), 0) << what;  // every field
      EXPECT_EQ(single.indices, general.indices) << what;
      EXPECT_EQ(single.weights, general.weights) << what;
    }
  }
  // Which path ran shows in the workspace: the general path writes its
  // header there, the single-launch path (unweighted) leaves it alone. Both
  // advance the device RNG offset by the draws.
  const std::vector<float> s = zipf_scores(1024);
  DeviceBuffer<float> d_s = upload(s);
  for (bool repl : {true, false})
    for (bool single : {false, true}) {
      std::unique_ptr<GeneralPathOnly> off(single ? nullptr : new GeneralPathOnly);
      DeviceBuffer<cuis::RngState> d_rng = upload(std::vector<cuis::RngState>{{66, 10}});
      DeviceBuffer<int64_t> d_idx;
      DeviceBuffer<cuis::DeviceStatus> d_st;
      CUIS_OK(d_idx.resize(300));
      CUIS_OK(d_st.resize(1));
      cuis::SampleOptions o = options(66, repl);
      o.d_rng = d_rng.data();
      size_t bytes = 0;
      CUIS_OK(cuis::sample_workspace_size(1024, 300, o, &bytes));
      DeviceBuffer<char> ws;
      CUIS_OK(ws.resize(bytes));
      CUDA_OK(cudaMemset(ws.data(), 0xab, bytes));
      poison(d_idx, POISON_AB);
      poison(d_st, POISON_AB);
      const cuis::SampleArgs a{d_s.data(), 1024, nullptr, 300, d_idx.data(), nullptr, d_st.data()};
      CUIS_OK(cuis::sample(a, o, ws.data(), bytes, stream));
      cuis::DeviceStatus st = unwritten_status();
      CUIS_OK(cuis::read_status(d_st.data(), stream, &st));
      ASSERT_EQ(st.code, Error::success) << cuis::describe(st) << " single " << single << " repl " << repl;
      // The indices are the reference's at the device RNG state's offset (10).
      cuis::SampleOptions ro = options(66, repl);
      ro.rng.offset = 10;
      EXPECT_EQ(download(d_idx.data(), 300), ref_sample(s, 300, ro).indices) << single << repl;
      std::vector<unsigned char> after_ws(bytes);
      CUDA_OK(cudaMemcpy(after_ws.data(), ws.data(), bytes, cudaMemcpyDeviceToHost));
      EXPECT_EQ(std::all_of(after_ws.begin(), after_ws.end(), [](unsigned char x) { return x == 0xab; }), single)
          << repl;
      cuis::RngState after{};
      CUDA_OK(cudaMemcpy(&after, d_rng.data(), sizeof after, cudaMemcpyDeviceToHost));
      EXPECT_EQ(after.offset, 10u + cuis::counters_consumed(1024, 300, o)) << single << repl;
    }
}

}  // namespace
