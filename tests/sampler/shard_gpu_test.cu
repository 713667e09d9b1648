// The CUDA path of sharded sampling (cuis/sharded.h) against the CPU
// reference, bit for bit: R = 1..4 ranks simulated on one GPU with uneven
// shards (one over a tile, one of 70000 scores), both modes, every weighting,
// global ids or offsets, device-resident RNG state and mean loss, any grid,
// 1500 ranks; bad scores, an empty and a zero-mass shard, disagreeing ranks,
// a capacity overflow; R = 1 against cuis::sample(); a captured step
// replayed; argument errors.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/launch.h"
#include "cuis/sampler/shard_plan.h"
#include "score_sets.h"
#include "shard_gpu_fixture.h"

namespace {

using cuis::Error;
using cuis::ShardMode;
using cuis::Weighting;
using namespace cuis_test;

const char* mode_name(ShardMode m) { return m == ShardMode::global ? "global" : "stratified"; }
const char* weighting_name(Weighting w) {
  return w == Weighting::none ? "none" : w == Weighting::unbiased ? "unbiased" : "biased";
}

// Uneven shards: one over a tile, one of 70000 scores, small ones; one shard
// of extreme range (its tile exponents far above the others').
std::vector<std::vector<float>> uneven_shards(int ranks) {
  switch (ranks) {
    case 1:
      return {lognormal_scores(70000, 1.0, 101)};
    case 2:
      return {zipf_scores(2049), extreme_range_scores(700, 302)};
    case 3:
      return {lognormal_scores(5000, 1.0, 103), zipf_scores(70000), spike_scores(3, 1)};
    default:
      return {many_zeros_scores(1000, 404), lognormal_scores(2048, 1.0, 105), spike_scores(70000, 35000),
              zipf_scores(17)};
  }
}

ShardCase make_case(int ranks, ShardMode mode, Weighting w, uint64_t seed = 5) {
  ShardCase c;
  c.mode = mode;
  c.shards = uneven_shards(ranks);
  c.opts = options(seed, true, w, 0.5f);
  c.opts.power = 0.5f;
  c.opts.smooth = 1e-3f;
  return c;
}

std::string name(const ShardCase& c, const std::string& extra = "") {
  return std::string(mode_name(c.mode)) + " R=" + std::to_string(c.ranks()) + " " + weighting_name(c.opts.weighting) +
         (c.with_ids ? " ids" : "") + extra;
}

TEST_F(ShardGpu, MatchesReferenceEveryModeAndWeighting) {
  for (int R = 1; R <= 4; ++R)
    for (ShardMode mode : {ShardMode::stratified, ShardMode::global})
      for (Weighting w : {Weighting::none, Weighting::unbiased, Weighting::biased})
        for (bool ids : {false, true}) {
          ShardCase c = make_case(R, mode, w, 10 + R);
          c.with_ids = ids;
          c.opts.rng.offset = 1000 * R;
          expect_step_matches(gpu_step(c), ref_step(c), name(c));
        }
}

// More than REDUCE_THREADS terms per rank (the fixed-order sums' strided
// partials), no weights (terms 0), and a capacity above the draws (padding).
TEST_F(ShardGpu, ManyDrawsNoWeightsAndPadding) {
  for (ShardMode mode : {ShardMode::stratified, ShardMode::global}) {
    ShardCase c = make_case(3, mode, Weighting::biased);
    c.b = 1500;
    expect_step_matches(gpu_step(c), ref_step(c), name(c, " b=1500"));
    c.weights = false;
    expect_step_matches(gpu_step(c), ref_step(c), name(c, " no weights"));
    c.weights = true;
    c.b = 200;
    c.capacity = mode == ShardMode::global ? 1000 : 250;
    expect_step_matches(gpu_step(c), ref_step(c), name(c, " padded"));
  }
}

// Any grid gives the same draws (every kernel is grid-stride or one block).
TEST_F(ShardGpu, IndependentOfLaunchConfiguration) {
  for (unsigned blocks : {1u, 3u})
    for (ShardMode mode : {ShardMode::stratified, ShardMode::global}) {
      ShardCase c = make_case(3, mode, Weighting::biased);
      c.b = 1500;
      cuis::detail::set_max_grid_blocks(blocks);
      const std::vector<RankResult> got = gpu_step(c);
      cuis::detail::set_max_grid_blocks(0);
      expect_step_matches(got, ref_step(c), name(c, " grid " + std::to_string(blocks)));
    }
}

// More ranks than the placement stages in shared memory (the shard prefix
// read from global memory), small shards, some empty.
TEST_F(ShardGpu, ManyRanks) {
  for (ShardMode mode : {ShardMode::stratified, ShardMode::global}) {
    ShardCase c;
    c.mode = mode;
    c.b = 2;
    c.opts = options(8, true, Weighting::unbiased);
    for (int r = 0; r < 1500; ++r) c.shards.push_back(lognormal_scores(r % 5, 1.0, 500 + r));
    expect_step_matches(gpu_step(c), ref_step(c), name(c));
  }
}

// The RNG state and the (adaptive smoothing's) mean loss read on device; the
// offset advanced by R b, or left alone without advance_rng.
TEST_F(ShardGpu, DeviceRngAndMeanLoss) {
  for (ShardMode mode : {ShardMode::stratified, ShardMode::global})
    for (bool advance : {true, false}) {
      ShardCase c = make_case(4, mode, Weighting::biased, 21);
      c.opts.rng.offset = 777;
      c.opts.adaptive_smooth = 0.3f;
      c.opts.mean_loss = 0.7f;
      c.opts.advance_rng = advance;
      c.device_rng = c.device_mean_loss = true;
      const std::vector<RankResult> got = gpu_step(c);
      expect_step_matches(got, ref_step(c), name(c, " device state"));
      const uint64_t want = 777 + (advance ? cuis::shard_counters_consumed(c.info(0), c.b) : 0);
      for (const RankResult& x : got) EXPECT_EQ(x.rng.offset, want) << name(c);
    }
}

// A bad score on one rank: every rank reports it (the first bad rank, its
// lowest bad score's global index) and draws nothing.
TEST_F(ShardGpu, BadScoreReportedOnEveryRank) {
  for (ShardMode mode : {ShardMode::stratified, ShardMode::global})
    for (bool ids : {false, true}) {
      ShardCase c = make_case(3, mode, Weighting::biased);
      c.with_ids = ids;
      c.device_rng = true;  // advanced by R b even though the step fails (the ranks stay in step)
      c.shards[1][3000] = std::nanf("");
      c.shards[1][65000] = -1.0f;
      c.shards[2][1] = HUGE_VALF;  // a later rank: not the one reported
      const std::vector<RankResult> got = gpu_step(c);
      expect_step_matches(got, ref_step(c), name(c, " NaN score"));
      const int64_t at = ids ? c.ids(1)[3000] : c.offset(1) + 3000;
      for (const RankResult& x : got) {
        EXPECT_EQ(x.status.code, Error::nan_score) << name(c);
        EXPECT_EQ(x.status.rank, 1) << name(c);
        EXPECT_EQ(x.status.index, at) << name(c);
        EXPECT_EQ(x.count, 0) << name(c);
        EXPECT_EQ(x.rng.offset, c.opts.rng.offset + 3 * static_cast<uint64_t>(c.b)) << name(c);
        for (int64_t i : x.indices) ASSERT_EQ(i, -1) << name(c);
        for (float v : x.weights) ASSERT_EQ(v, 0.0f) << name(c);
      }
    }
  // An invalid mean loss (read on device) is every rank's record's error.
  ShardCase c = make_case(2, ShardMode::global, Weighting::unbiased);
  c.opts.adaptive_smooth = 0.5f;
  c.opts.mean_loss = -1.0f;
  c.device_mean_loss = true;
  const std::vector<RankResult> got = gpu_step(c);
  expect_step_matches(got, ref_step(c), name(c, " invalid mean loss"));
  for (const RankResult& x : got) EXPECT_EQ(x.status.code, Error::invalid_mean_loss);
}

// An empty shard (no scores, null pointer) and a shard of zeros: stratified,
// the empty one draws nothing and the zero one uniformly; global, neither
// gets a draw.
TEST_F(ShardGpu, EmptyAndZeroMassShards) {
  for (ShardMode mode : {ShardMode::stratified, ShardMode::global})
    for (Weighting w : {Weighting::none, Weighting::unbiased, Weighting::biased}) {
      ShardCase c = make_case(4, mode, w);
      c.opts.smooth = 0.0f;  // zeros stay zero
      c.shards[1].clear();
      c.shards[3] = std::vector<float>(3000, 0.0f);
      c.with_ids = w == Weighting::biased;
      const std::vector<RankResult> got = gpu_step(c);
      expect_step_matches(got, ref_step(c), name(c, " empty and zero shards"));
      EXPECT_EQ(got[1].count, 0);
      EXPECT_EQ(got[3].count, mode == ShardMode::stratified ? c.b : 0);
      EXPECT_EQ(got[3].status.code, Error::success);
    }
  // Every shard without mass: a zero total, on every rank.
  ShardCase c = make_case(2, ShardMode::stratified, Weighting::unbiased);
  c.shards = {std::vector<float>(100, 0.0f), {}};
  c.opts.smooth = 0.0f;
  const std::vector<RankResult> got = gpu_step(c);
  expect_step_matches(got, ref_step(c), "all zero");
  for (const RankResult& x : got) EXPECT_EQ(x.status.code, Error::zero_total);
}

// Ranks that disagree (a seed, the sizes) fail the step alike on every rank.
TEST_F(ShardGpu, MismatchedRanks) {
  for (ShardMode mode : {ShardMode::stratified, ShardMode::global}) {
    ShardCase c = make_case(3, mode, Weighting::unbiased);
    c.seeds = {5, 5, 6};
    std::vector<RankResult> got = gpu_step(c);
    expect_step_matches(got, ref_step(c), name(c, " seed mismatch"));
    for (const RankResult& x : got) {
      EXPECT_EQ(x.status.code, Error::shard_mismatch);
      EXPECT_EQ(x.status.rank, 2);
      EXPECT_EQ(x.status.index, cuis::detail::MISMATCH_RNG);
    }
    c.seeds.clear();
    c.num_samples_delta = 1;
    got = gpu_step(c);
    expect_step_matches(got, ref_step(c), name(c, " size mismatch"));
    for (const RankResult& x : got) EXPECT_EQ(x.status.index, cuis::detail::MISMATCH_SIZES);
  }
}

// Global mode: more draws land on a rank than it has slots; every rank
// reports the first such rank and draws nothing. (Here rank 0 gets 548 of the
// 600 draws: 548 slots suffice, 547 do not.)
TEST_F(ShardGpu, CapacityOverflow) {
  for (int64_t capacity : {20, 300, 547, 548, 550}) {
    ShardCase c = make_case(3, ShardMode::global, Weighting::biased);
    c.b = 200;
    c.capacity = capacity;
    const std::vector<RankResult> want = ref_step(c);
    expect_step_matches(gpu_step(c), want, name(c, " capacity " + std::to_string(capacity)));
    for (const RankResult& x : want)
      EXPECT_EQ(x.status.code, capacity >= 548 ? Error::success : Error::capacity_exceeded) << capacity;
  }
}

// One rank: global mode is cuis::sample(), stratified too (counter offset + j).
TEST_F(ShardGpu, OneRankEqualsSample) {
  for (int64_t n : {70000, 1000})
    for (ShardMode mode : {ShardMode::stratified, ShardMode::global})
      for (Weighting w : {Weighting::none, Weighting::unbiased, Weighting::biased}) {
        ShardCase c = make_case(1, mode, w, 99);
        c.shards = {lognormal_scores(n, 1.5, 31)};
        c.b = 2500;
        const std::vector<RankResult> got = gpu_step(c);
        const Drawn one = gpu_sample(c.shards[0], c.b, c.opts);
        const std::string what = name(c, " n=" + std::to_string(n));
        ASSERT_EQ(one.error, Error::success) << what;
        ASSERT_EQ(got[0].error, Error::success) << what;
        EXPECT_EQ(got[0].count, c.b) << what;
        EXPECT_EQ(got[0].indices, one.indices) << what;
        EXPECT_EQ(bits(got[0].weights), bits(one.weights)) << what;
      }
}

// The whole step captured once and replayed twice: each replay reads the
// device RNG state and mean loss afresh and equals the reference at offsets
// 0 and R b.
TEST_F(ShardGpu, CapturedStepReplaysWithAdvancingOffset) {
  for (ShardMode mode : {ShardMode::stratified, ShardMode::global}) {
    ShardCase c = make_case(3, mode, Weighting::biased, 77);
    c.opts.adaptive_smooth = 0.1f;
    c.opts.mean_loss = 0.5f;
    c.device_rng = c.device_mean_loss = true;
    GpuWorld w;
    CUIS_OK(make_world(c, &w));
    CUIS_OK(enqueue_step(w));  // loads the modules before capture
    CUDA_OK(cudaStreamSynchronize(stream));
    for (GpuRank& k : w.ranks)
      CUDA_OK(cudaMemcpy(k.rng.data(), &c.opts.rng, sizeof c.opts.rng, cudaMemcpyHostToDevice));
    cudaGraph_t graph;
    CUDA_OK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
    const Error captured = enqueue_step(w);
    CUDA_OK(cudaStreamEndCapture(stream, &graph));  // ends the capture even when a call failed
    CUIS_OK(captured);
    cudaGraphExec_t exec;
    CUDA_OK(cudaGraphInstantiate(&exec, graph, 0));
    const uint64_t consumed = cuis::shard_counters_consumed(c.info(0), c.b);
    for (int replay = 0; replay < 2; ++replay) {
      const float mean = replay ? 0.9f : 0.5f;
      for (GpuRank& k : w.ranks)
        CUDA_OK(cudaMemcpyAsync(k.mean_loss.data(), &mean, sizeof mean, cudaMemcpyHostToDevice, stream));
      poison_world(w);  // else replay 0 could pass on the warm-up's outputs
      CUDA_OK(cudaGraphLaunch(exec, stream));
      const std::vector<RankResult> got = read_world(w);
      ShardCase at = c;
      at.opts.mean_loss = mean;
      at.opts.rng.offset = replay * consumed;
      expect_step_matches(got, ref_step(at), name(c, " replay " + std::to_string(replay)));
      for (const RankResult& x : got) EXPECT_EQ(x.rng.offset, (replay + 1) * consumed);
    }
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(graph);
  }
}

// Argument errors are returned at once and launch nothing.
TEST_F(ShardGpu, ArgumentErrorsLaunchNothing) {
  ShardCase c = make_case(2, ShardMode::global, Weighting::biased);
  GpuWorld w;
  CUIS_OK(make_world(c, &w));
  poison_world(w);
  GpuRank& k = w.ranks[0];
  const cuis::ShardRecord* all = w.records.data();
  EXPECT_EQ(cuis::shard_record(k.args, k.info, k.opts, k.record.data(), k.ws.data(), k.ws_bytes - 1, stream),
            Error::workspace_too_small);
  EXPECT_EQ(cuis::shard_record(k.args, k.info, k.opts, k.record.data(), k.ws.data() + 8, k.ws_bytes - 8, stream),
            Error::misaligned_pointer);
  EXPECT_EQ(cuis::shard_record(k.args, k.info, k.opts, nullptr, k.ws.data(), k.ws_bytes, stream), Error::null_pointer);
  EXPECT_EQ(cuis::shard_sample(k.args, k.info, k.opts, all, nullptr, k.ws.data(), k.ws_bytes, stream),
            Error::null_pointer);  // biased without terms
  cuis::ShardArgs a = k.args;
  a.count = nullptr;
  EXPECT_EQ(cuis::shard_sample(a, k.info, k.opts, all, k.terms.data(), k.ws.data(), k.ws_bytes, stream),
            Error::null_pointer);
  cuis::ShardInfo bad = k.info;
  bad.rank = 2;
  EXPECT_EQ(cuis::shard_sample(k.args, bad, k.opts, all, k.terms.data(), k.ws.data(), k.ws_bytes, stream),
            Error::invalid_argument);
  bad = k.info;
  bad.mode = ShardMode::stratified;
  bad.capacity = c.b - 1;
  EXPECT_EQ(cuis::shard_sample(k.args, bad, k.opts, all, k.terms.data(), k.ws.data(), k.ws_bytes, stream),
            Error::invalid_argument);
  cuis::SampleOptions o = k.opts;
  o.weighting = Weighting::unbiased;
  EXPECT_EQ(cuis::shard_rescale(k.args, k.info, o, w.terms.data(), k.ws.data(), k.ws_bytes, stream),
            Error::invalid_argument);
  o.replacement = false;
  size_t bytes = 0;
  EXPECT_EQ(cuis::shard_workspace_size(k.info, k.args.n, c.b, o, &bytes), Error::invalid_argument);
  EXPECT_EQ(cuis::shard_workspace_size(k.info, k.args.n, c.b, k.opts, nullptr), Error::null_pointer);
  const std::vector<RankResult> got = read_world(w);
  int64_t garbage = 0;
  std::memset(static_cast<void*>(&garbage), POISON_AB, sizeof garbage);
  EXPECT_EQ(got[0].count, garbage);
  EXPECT_EQ(got[0].indices, std::vector<int64_t>(got[0].indices.size(), garbage));
}

}  // namespace
