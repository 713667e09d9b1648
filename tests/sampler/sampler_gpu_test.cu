// The CUDA sampler against the CPU reference: identical indices and weights,
// interval edges through injected draws, launch-configuration independence,
// goodness of fit, bad input reported on device, CUDA-graph capture, and an
// input beyond 2^31 items. Skips (with a message) where no GPU is present.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

#include "cuis/sampler/distribution.h"
#include "cuis/device_buffer.h"
#include "cuis/sampler/reference.h"
#include "cuis/sampler.h"
#include "sample_helpers.h"
#include "sampler/sampler_internal.h"
#include "score_sets.h"
#include "common/gpu_fixture.h"
#include "common/stats.h"

namespace {

using cuis::DeviceBuffer;
using cuis::Error;
using cuis::u128;
using cuis::Weighting;
using namespace cuis_test;

class SamplerGpu : public Gpu {
 protected:
  // cuis::sample() into host vectors. `shift` offsets the scores by that many
  // floats inside a larger buffer (to test unaligned input).
  Drawn gpu_sample(const std::vector<float>& scores, int64_t draws, const cuis::SampleOptions& o,
                   const std::vector<int64_t>* ids = nullptr, int shift = 0) {
    Drawn out;
    std::vector<float> padded(shift, 0.0f);
    padded.insert(padded.end(), scores.begin(), scores.end());
    DeviceBuffer<float> d_scores = upload(padded);
    DeviceBuffer<int64_t> d_ids;
    if (ids) d_ids = upload(*ids);
    DeviceBuffer<int64_t> d_idx;
    DeviceBuffer<float> d_w;
    DeviceBuffer<cuis::DeviceStatus> d_status;
    EXPECT_EQ(d_idx.resize(draws), Error::success);
    EXPECT_EQ(d_w.resize(draws), Error::success);
    EXPECT_EQ(d_status.resize(1), Error::success);
    size_t bytes = 0;
    const int64_t n = static_cast<int64_t>(scores.size());
    out.error = cuis::sample_workspace_size(n, draws, o, &bytes);
    if (out.error != Error::success) return out;
    DeviceBuffer<char> ws;
    EXPECT_EQ(ws.resize(bytes), Error::success);
    // Outputs start as garbage, so that an output the call fails to write shows.
    EXPECT_EQ(cudaMemset(d_idx.data(), 0xab, d_idx.bytes()), cudaSuccess);
    EXPECT_EQ(cudaMemset(d_w.data(), 0xab, d_w.bytes()), cudaSuccess);
    EXPECT_EQ(cudaMemset(d_status.data(), 0xab, d_status.bytes()), cudaSuccess);
    cuis::SampleArgs a{d_scores.data() + shift, n, ids ? d_ids.data() : nullptr, draws, d_idx.data(), d_w.data(),
                       d_status.data()};
    out.error = cuis::sample(a, o, ws.data(), bytes, stream);
    if (out.error != Error::success) return out;
    EXPECT_EQ(cuis::read_status(d_status.data(), stream, &out.status), Error::success);
    out.indices.resize(draws);
    out.weights.resize(draws);
    EXPECT_EQ(cudaMemcpy(out.indices.data(), d_idx.data(), draws * 8, cudaMemcpyDeviceToHost), cudaSuccess);
    EXPECT_EQ(cudaMemcpy(out.weights.data(), d_w.data(), draws * 4, cudaMemcpyDeviceToHost), cudaSuccess);
    return out;
  }

  void expect_same_as_reference(const std::vector<float>& s, int64_t draws, const cuis::SampleOptions& o,
                                const std::string& what, const std::vector<int64_t>* ids = nullptr, int shift = 0) {
    const Drawn want = ref_sample(s, draws, o, ids);
    const Drawn got = gpu_sample(s, draws, o, ids, shift);
    ASSERT_EQ(got.error, Error::success) << what << ": " << cuis::last_error_message();
    EXPECT_EQ(got.status.code, want.status.code) << what;
    EXPECT_EQ(got.status.index, want.status.index) << what;
    EXPECT_EQ(got.status.positive_count, want.status.positive_count) << what;
    EXPECT_EQ(got.indices, want.indices) << what;
    EXPECT_EQ(got.weights, want.weights) << what;  // bit-identical: shared arithmetic, fixed order
  }

};

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
    cuis::SampleArgs a{d_s.data(), n, nullptr, draws, d_idx.data(), nullptr, d_st.data()};
    CUIS_OK(cuis::detail::sample_injected(a, o, d_r1.data(), d_r2.data(), ws.data(), bytes, stream));
    std::vector<int64_t> got(draws);
    CUDA_OK(cudaMemcpy(got.data(), d_idx.data(), draws * 8, cudaMemcpyDeviceToHost));
    EXPECT_EQ(got, want) << set.name << " n=" << n;
  }
}

// Turns the single-launch path off for its lifetime (restored on any exit).
struct GeneralPathOnly {
  GeneralPathOnly() { cuis::detail::set_single_tile_path(false); }
  ~GeneralPathOnly() { cuis::detail::set_single_tile_path(true); }
};

// For n <= TILE the single-launch path gives every bit the general path gives,
// with and without replacement: indices, weights, status and the device RNG
// offset, for every weighting and transform, candidate ids, bad scores, the
// largest batch it takes, and B = n without replacement.
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
        cases.push_back({lognormal_scores(n, 3.0), draws, o,
                         "lognormal n=" + std::to_string(n) + (repl ? " with" : " without")});
      }
  cases.push_back({many_zeros_scores(2048), cuis::detail::SINGLE_TILE_MAX_DRAWS, options(62, true, Weighting::biased, 0.5f),
                   "many zeros, largest batch"});
  // Without replacement: every item (tau = +inf), all but one, and more draws than positive scores.
  cases.push_back({zipf_scores(2048), 2048, options(67, false, Weighting::biased, 0.5f), "without, B = n"});
  cases.push_back({zipf_scores(2048), 2047, options(68, false, Weighting::unbiased), "without, B = n - 1"});
  cases.push_back({many_zeros_scores(2048), 2000, options(69, false), "without, too few positive"});
  std::vector<float> half_zero = zipf_scores(1000);
  std::fill(half_zero.begin() + 500, half_zero.end(), 0.0f);
  cases.push_back({half_zero, 500, options(71, false, Weighting::biased, 0.5f), "without, B = positive < n (tau = inf)"});
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
      Drawn general;
      {
        GeneralPathOnly off;
        general = gpu_sample(c.scores, c.draws, c.o, with);
      }
      const Drawn single = gpu_sample(c.scores, c.draws, c.o, with);
      const std::string what = c.what + (with ? " ids" : "");
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
    const cuis::SampleArgs a{d_s.data(), 1024, nullptr, 300, d_idx.data(), nullptr, d_st.data()};
    CUIS_OK(cuis::sample(a, o, ws.data(), bytes, stream));
    std::vector<unsigned char> after_ws(bytes);
    CUDA_OK(cudaMemcpy(after_ws.data(), ws.data(), bytes, cudaMemcpyDeviceToHost));
    EXPECT_EQ(std::all_of(after_ws.begin(), after_ws.end(), [](unsigned char x) { return x == 0xab; }), single)
        << repl;
    cuis::RngState after{};
    CUDA_OK(cudaMemcpy(&after, d_rng.data(), sizeof after, cudaMemcpyDeviceToHost));
    EXPECT_EQ(after.offset, 10u + cuis::counters_consumed(1024, 300, o)) << single << repl;
  }
}

// The grid size must not change a single bit of the output.
TEST_F(SamplerGpu, IndependentOfLaunchConfiguration) {
  const std::vector<float> s = extreme_range_scores(300000);
  for (bool repl : {true, false}) {
    const cuis::SampleOptions o = options(8, repl, Weighting::biased, 0.5f);
    const Drawn base = gpu_sample(s, 20000, o);
    for (unsigned cap : {1u, 3u, 1000u}) {
      cuis::detail::set_max_grid_blocks(cap);
      const Drawn other = gpu_sample(s, 20000, o);
      EXPECT_EQ(other.indices, base.indices) << cap;
      EXPECT_EQ(other.weights, base.weights) << cap;
    }
    cuis::detail::set_max_grid_blocks(0);
  }
}

// One million draws over 2^20 items (Zipf 1.1): chi-square at alpha 1e-3.
TEST_F(SamplerGpu, GoodnessOfFitOneMillionDraws) {
  const int64_t n = int64_t{1} << 20, draws = 1000000;
  const std::vector<float> s = zipf_scores(n);
  const Drawn d = gpu_sample(s, draws, options(55));
  ASSERT_EQ(d.status.code, Error::success);
  std::vector<uint64_t> counts(n);
  for (int64_t i : d.indices) {
    ASSERT_GE(i, 0);
    ASSERT_LT(i, n);
    ++counts[i];
  }
  const cuis::ref::Distribution dist = cuis::ref::build_distribution(s.data(), n, options(55));
  std::vector<double> p(n);
  for (int64_t i = 0; i < n; ++i) p[i] = dist.probability(i);
  const ChiSquare c = chi_square(counts, p, draws);
  EXPECT_GT(c.p_value, 1e-3) << c.statistic << " bins " << c.bins;
}

TEST_F(SamplerGpu, BadScoresReportedOnDevice) {
  std::vector<float> s = uniform_scores(70000);
  for (float v : {std::nanf(""), HUGE_VALF, -2.0f}) {
    for (bool repl : {true, false}) {
      std::vector<float> bad = s;
      bad[65432] = v;
      bad[69999] = -1.0f;
      const Drawn d = gpu_sample(bad, 100, options(1, repl));
      ASSERT_EQ(d.error, Error::success);
      EXPECT_NE(d.status.code, Error::success);
      EXPECT_EQ(d.status.index, 65432);
      for (int j = 0; j < 100; ++j) {
        EXPECT_EQ(d.indices[j], -1);
        EXPECT_EQ(d.weights[j], 0.0f);
      }
      expect_same_as_reference(bad, 100, options(1, repl), "bad score");
    }
  }
  expect_same_as_reference(std::vector<float>(5000, 0.0f), 10, options(1), "all zero");
  expect_same_as_reference(many_zeros_scores(1000), 900, options(1, false), "not enough positive");
  cuis::SampleOptions o = options(1);
  o.adaptive_smooth = 0.5f;
  o.mean_loss = std::nanf("");
  const Drawn d = gpu_sample(s, 10, o);
  EXPECT_EQ(d.status.code, Error::invalid_mean_loss);
  EXPECT_EQ(d.indices[0], -1);
}

TEST_F(SamplerGpu, ArgumentErrorsLaunchNothing) {
  const std::vector<float> s = uniform_scores(100);
  EXPECT_EQ(gpu_sample(s, 3, options(1, true, Weighting::biased, 2.0f)).error, Error::invalid_k);
  EXPECT_EQ(gpu_sample(s, 101, options(1, false)).error, Error::too_many_draws);
  size_t bytes = 0;
  CUIS_OK(cuis::sample_workspace_size(100, 3, options(1), &bytes));
  DeviceBuffer<char> ws;
  CUIS_OK(ws.resize(bytes));
  DeviceBuffer<float> d_s = upload(s);
  DeviceBuffer<int64_t> d_idx;
  DeviceBuffer<cuis::DeviceStatus> d_st;
  CUIS_OK(d_idx.resize(3));
  CUIS_OK(d_st.resize(1));
  cuis::SampleArgs a{d_s.data(), 100, nullptr, 3, d_idx.data(), nullptr, d_st.data()};
  EXPECT_EQ(cuis::sample(a, options(1), ws.data(), bytes - 1, stream), Error::workspace_too_small);
  EXPECT_EQ(cuis::sample(a, options(1), ws.data() + 8, bytes - 8, stream), Error::misaligned_pointer);
  a.scores = nullptr;
  EXPECT_EQ(cuis::sample(a, options(1), ws.data(), bytes, stream), Error::null_pointer);
}

// Captured once, replayed twice: the device-resident RNG offset advances, so
// the replays equal the reference at offsets 0 and B; the mean loss is read
// from device memory at replay time.
TEST_F(SamplerGpu, CapturedGraphReplaysWithAdvancingOffset) {
  for (int64_t n : {100000, 1000})  // the general path, and the single-launch path
  for (bool repl : {true, false}) {
    const int64_t b = repl || n > 4096 ? 4096 : n / 2;
    const std::vector<float> s = lognormal_scores(n, 1.0);
    cuis::SampleOptions o = options(77, repl, Weighting::biased, 0.5f);
    o.adaptive_smooth = 0.1f;
    o.rng = cuis::RngState{77, 0};
    DeviceBuffer<float> d_s = upload(s);
    DeviceBuffer<cuis::RngState> d_rng = upload(std::vector<cuis::RngState>{{77, 0}});
    DeviceBuffer<float> d_mean = upload(std::vector<float>{0.5f});
    DeviceBuffer<int64_t> d_idx;
    DeviceBuffer<float> d_w;
    DeviceBuffer<cuis::DeviceStatus> d_st;
    CUIS_OK(d_idx.resize(b));
    CUIS_OK(d_w.resize(b));
    CUIS_OK(d_st.resize(1));
    o.d_rng = d_rng.data();
    o.d_mean_loss = d_mean.data();
    size_t bytes = 0;
    CUIS_OK(cuis::sample_workspace_size(n, b, o, &bytes));
    DeviceBuffer<char> ws;
    CUIS_OK(ws.resize(bytes));
    cuis::SampleArgs a{d_s.data(), n, nullptr, b, d_idx.data(), d_w.data(), d_st.data()};
    cudaGraph_t graph;
    CUIS_OK(cuis::sample(a, o, ws.data(), bytes, stream));  // loads the modules before capture
    CUDA_OK(cudaMemcpy(d_rng.data(), &o.rng, sizeof o.rng, cudaMemcpyHostToDevice));  // back to {77, 0}
    CUDA_OK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
    const Error captured = cuis::sample(a, o, ws.data(), bytes, stream);
    CUDA_OK(cudaStreamEndCapture(stream, &graph));  // ends the capture even when sample() failed
    CUIS_OK(captured);
    cudaGraphExec_t exec;
    CUDA_OK(cudaGraphInstantiate(&exec, graph, 0));
    for (int replay = 0; replay < 2; ++replay) {
      const float mean = replay ? 0.9f : 0.5f;
      CUDA_OK(cudaMemcpyAsync(d_mean.data(), &mean, 4, cudaMemcpyHostToDevice, stream));
      CUDA_OK(cudaGraphLaunch(exec, stream));
      CUDA_OK(cudaStreamSynchronize(stream));
      std::vector<int64_t> idx(b);
      std::vector<float> w(b);
      CUDA_OK(cudaMemcpy(idx.data(), d_idx.data(), b * 8, cudaMemcpyDeviceToHost));
      CUDA_OK(cudaMemcpy(w.data(), d_w.data(), b * 4, cudaMemcpyDeviceToHost));
      cuis::SampleOptions ro = options(77, repl, Weighting::biased, 0.5f);
      ro.adaptive_smooth = 0.1f;
      ro.mean_loss = mean;
      ro.rng.offset = replay * cuis::counters_consumed(n, b, o);
      const Drawn want = ref_sample(s, b, ro);
      EXPECT_EQ(idx, want.indices) << "replay " << replay;
      EXPECT_EQ(w, want.weights) << "replay " << replay;
    }
    cuis::RngState st{};
    CUDA_OK(cudaMemcpy(&st, d_rng.data(), sizeof st, cudaMemcpyDeviceToHost));
    EXPECT_EQ(st.offset, 2 * cuis::counters_consumed(n, b, o));
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(graph);
  }
}

// advance_rng = false leaves the device RNG state alone; weights = nullptr
// with biased weighting still draws the same indices.
TEST_F(SamplerGpu, RngNotAdvancedAndWeightsOptional) {
  const int64_t n = 5000, b = 300;
  const std::vector<float> s = zipf_scores(n);
  DeviceBuffer<float> d_s = upload(s);
  DeviceBuffer<cuis::RngState> d_rng = upload(std::vector<cuis::RngState>{{9, 123}});
  DeviceBuffer<int64_t> d_idx;
  DeviceBuffer<cuis::DeviceStatus> d_st;
  CUIS_OK(d_idx.resize(b));
  CUIS_OK(d_st.resize(1));
  for (bool repl : {true, false}) {
    cuis::SampleOptions o = options(0, repl, Weighting::biased, 0.5f);
    o.d_rng = d_rng.data();
    o.advance_rng = false;
    size_t bytes = 0;
    CUIS_OK(cuis::sample_workspace_size(n, b, o, &bytes));
    DeviceBuffer<char> ws;
    CUIS_OK(ws.resize(bytes));
    cuis::SampleArgs a{d_s.data(), n, nullptr, b, d_idx.data(), nullptr, d_st.data()};
    CUIS_OK(cuis::sample(a, o, ws.data(), bytes, stream));
    CUDA_OK(cudaStreamSynchronize(stream));
    cuis::RngState st{};
    CUDA_OK(cudaMemcpy(&st, d_rng.data(), sizeof st, cudaMemcpyDeviceToHost));
    EXPECT_EQ(st.seed, 9u);
    EXPECT_EQ(st.offset, 123u);
    std::vector<int64_t> idx(b);
    CUDA_OK(cudaMemcpy(idx.data(), d_idx.data(), b * 8, cudaMemcpyDeviceToHost));
    cuis::SampleOptions ro = options(9, repl, Weighting::biased, 0.5f);
    ro.rng.offset = 123;
    EXPECT_EQ(idx, ref_sample(s, b, ro).indices);
  }
}

TEST_F(SamplerGpu, UniformIndicesMatchReference) {
  const int64_t n = 12345, count = 100003;
  DeviceBuffer<int64_t> d;
  CUIS_OK(d.resize(count));
  DeviceBuffer<cuis::RngState> rng = upload(std::vector<cuis::RngState>{{7, 40}});
  CUIS_OK(cuis::uniform_indices(d.data(), count, n, cuis::RngState{7, 40}, nullptr, false, stream));
  std::vector<int64_t> want(count);
  CUIS_OK(cuis::ref::uniform_indices(want.data(), count, n, cuis::RngState{7, 40}));
  EXPECT_EQ(download(d.data(), count), want);
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
  const int64_t at[] = {(int64_t{1} << 31), (int64_t{1} << 31) + 1, (int64_t{1} << 31) + 2047,
                        (int64_t{1} << 31) + 2048, n - 2, n - 1};
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
  cuis::SampleArgs a{d_s.data(), n, nullptr, b, d_idx.data(), d_w.data(), d_st.data()};
  CUIS_OK(cuis::sample(a, o, ws.data(), bytes, stream));
  cuis::DeviceStatus st{};
  CUIS_OK(cuis::read_status(d_st.data(), stream, &st));
  ASSERT_EQ(st.code, Error::success);
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
