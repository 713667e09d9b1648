// The CUDA sampler's contract beyond exactness: goodness of fit over a
// million draws, bad scores reported on device, argument errors that launch
// nothing, CUDA-graph capture with a device-resident RNG offset, optional
// weights.
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

// One million draws over 2^20 items (Zipf 1.1): chi-square at alpha 1e-3.
TEST_F(SamplerGpu, GoodnessOfFitOneMillionDraws) {
  const int64_t n = int64_t{1} << 20, draws = 1000000;
  const std::vector<float> s = zipf_scores(n);
  const Drawn d = gpu_sample(s, draws, options(55));
  ASSERT_EQ(d.error, Error::success) << cuis::last_error_message();
  ASSERT_EQ(d.status.code, Error::success) << cuis::describe(d.status);
  ASSERT_EQ(d.indices.size(), static_cast<size_t>(draws));
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
  ASSERT_EQ(d.error, Error::success) << cuis::last_error_message();
  EXPECT_EQ(d.status.code, Error::invalid_mean_loss);
  EXPECT_EQ(d.indices[0], -1);
  expect_same_as_reference(s, 10, o, "NaN mean loss");
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
  poison(d_idx, POISON_AB);
  poison(d_st, POISON_AB);
  cuis::SampleArgs a{d_s.data(), 100, nullptr, 3, d_idx.data(), nullptr, d_st.data()};
  EXPECT_EQ(cuis::sample(a, options(1), ws.data(), bytes - 1, stream), Error::workspace_too_small);
  EXPECT_EQ(cuis::sample(a, options(1), ws.data() + 8, bytes - 8, stream), Error::misaligned_pointer);
  a.scores = nullptr;
  EXPECT_EQ(cuis::sample(a, options(1), ws.data(), bytes, stream), Error::null_pointer);
  // Nothing launched: the outputs still hold the garbage they started with.
  CUDA_OK(cudaStreamSynchronize(stream));
  const std::vector<int64_t> idx = download(d_idx.data(), 3);
  const cuis::DeviceStatus st = download(d_st.data(), 1)[0];
  const cuis::DeviceStatus garbage = unwritten_status();
  int64_t garbage_index = 0;
  std::memset(static_cast<void*>(&garbage_index), POISON_AB, sizeof garbage_index);
  EXPECT_EQ(idx, std::vector<int64_t>(3, garbage_index));
  EXPECT_EQ(std::memcmp(&st, &garbage, sizeof st), 0);
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
        // Garbage again before each replay: else the warm-up call's output
        // (the same draws as replay 0) would pass for a replay that wrote nothing.
        poison(d_idx, POISON_AB);
        poison(d_w, POISON_AB);
        poison(d_st, POISON_AB);
        CUDA_OK(cudaGraphLaunch(exec, stream));
        CUDA_OK(cudaStreamSynchronize(stream));
        cuis::DeviceStatus status = unwritten_status();
        CUIS_OK(cuis::read_status(d_st.data(), stream, &status));
        ASSERT_EQ(status.code, Error::success) << "replay " << replay << ": " << cuis::describe(status);
        std::vector<int64_t> idx(b);
        std::vector<float> w(b);
        CUDA_OK(cudaMemcpy(idx.data(), d_idx.data(), b * 8, cudaMemcpyDeviceToHost));
        CUDA_OK(cudaMemcpy(w.data(), d_w.data(), b * 4, cudaMemcpyDeviceToHost));
        cuis::SampleOptions ro = options(77, repl, Weighting::biased, 0.5f);
        ro.adaptive_smooth = 0.1f;
        ro.mean_loss = mean;
        ro.rng.offset = replay * cuis::counters_consumed(n, b, o);
        const Drawn want = ref_sample(s, b, ro);
        ASSERT_EQ(want.error, Error::success);
        ASSERT_EQ(want.status.code, Error::success);
        EXPECT_EQ(status.positive_count, want.status.positive_count) << "replay " << replay;
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
    poison(d_idx, POISON_AB);  // d_idx is reused: else the previous call's draws would stay
    poison(d_st, POISON_AB);
    cuis::SampleArgs a{d_s.data(), n, nullptr, b, d_idx.data(), nullptr, d_st.data()};
    CUIS_OK(cuis::sample(a, o, ws.data(), bytes, stream));
    CUDA_OK(cudaStreamSynchronize(stream));
    cuis::DeviceStatus status = unwritten_status();
    CUIS_OK(cuis::read_status(d_st.data(), stream, &status));
    ASSERT_EQ(status.code, Error::success) << cuis::describe(status) << " repl " << repl;
    cuis::RngState st{};
    CUDA_OK(cudaMemcpy(&st, d_rng.data(), sizeof st, cudaMemcpyDeviceToHost));
    EXPECT_EQ(st.seed, 9u);
    EXPECT_EQ(st.offset, 123u);
    std::vector<int64_t> idx(b);
    CUDA_OK(cudaMemcpy(idx.data(), d_idx.data(), b * 8, cudaMemcpyDeviceToHost));
    cuis::SampleOptions ro = options(9, repl, Weighting::biased, 0.5f);
    ro.rng.offset = 123;
    const Drawn want = ref_sample(s, b, ro);
    ASSERT_EQ(want.error, Error::success);
    EXPECT_EQ(idx, want.indices);
  }
}

}  // namespace
