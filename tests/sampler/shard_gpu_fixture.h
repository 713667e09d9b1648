// The sharded GPU tests' fixture: R ranks simulated in one process on one
// GPU, each with its own shard, workspace, outputs (and device RNG state and
// mean loss); the all-gathers are device-to-device copies on the test's
// stream. The same step on the CPU reference, and the comparison of every
// rank's record, indices, weights, count, status and terms bit for bit.
#pragma once

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "cuis/sampler/shard_reference.h"
#include "cuis/sharded.h"
#include "sampler_gpu_fixture.h"

namespace cuis_test {

// One step's inputs: shard r holds shards[r] (global indices offset_r + i, or
// a fixed permutation of [0, N) with_ids).
struct ShardCase {
  cuis::ShardMode mode = cuis::ShardMode::stratified;
  std::vector<std::vector<float>> shards;
  bool with_ids = false;
  int64_t b = 300;
  int64_t capacity = 0;
  int64_t num_samples_delta = 0;  // every rank's N off by this (a size mismatch)
  cuis::SampleOptions opts;       // host forms: rng, mean_loss
  std::vector<uint64_t> seeds;    // per-rank seeds (empty: opts.rng.seed)
  bool device_rng = false, device_mean_loss = false;
  bool weights = true;

  int ranks() const { return static_cast<int>(shards.size()); }
  int64_t offset(int r) const {
    int64_t o = 0;
    for (int q = 0; q < r; ++q) o += static_cast<int64_t>(shards[q].size());
    return o;
  }
  int64_t total() const { return offset(ranks()); }
  cuis::ShardInfo info(int r) const { return {mode, r, ranks(), total() + num_samples_delta, capacity}; }
  int64_t cap(int r) const { return cuis::shard_capacity(info(r), b); }
  cuis::SampleOptions options(int r) const {
    cuis::SampleOptions o = opts;
    if (!seeds.empty()) o.rng.seed = seeds[r];
    return o;
  }
  // Shard r's global ids with_ids: a shuffled permutation of [0, N), cut in shards.
  std::vector<int64_t> ids(int r) const {
    std::vector<int64_t> all(static_cast<size_t>(total()));
    std::iota(all.begin(), all.end(), int64_t{0});
    std::shuffle(all.begin(), all.end(), std::mt19937_64(4242));
    return std::vector<int64_t>(all.begin() + offset(r), all.begin() + offset(r + 1));
  }
};

struct RankResult {
  cuis::Error error = cuis::Error::success;  // the first error of this rank's calls
  cuis::ShardRecord record{};
  std::vector<int64_t> indices;
  std::vector<float> weights;
  int64_t count = -2;
  cuis::DeviceStatus status = unwritten_status();
  cuis::ShardTerms terms{-2.0, -2.0};
  cuis::RngState rng{};  // device_rng: the state after the step
};

inline void keep_first(cuis::Error* first, cuis::Error e) {
  if (*first == cuis::Error::success) *first = e;
}

// The step on the CPU reference.
inline std::vector<RankResult> ref_step(const ShardCase& c) {
  const int R = c.ranks();
  std::vector<RankResult> out(R);
  std::vector<std::vector<int64_t>> ids(R);
  std::vector<cuis::ShardArgs> args(R);
  std::vector<cuis::ShardRecord> records(R);
  std::vector<cuis::ShardTerms> terms(R, cuis::ShardTerms{-2.0, -2.0});
  std::vector<std::vector<double>> work(R);
  for (int r = 0; r < R; ++r) {
    RankResult& x = out[r];
    x.indices.assign(c.cap(r), -2);
    x.weights.assign(c.cap(r), -2.0f);
    if (c.with_ids) ids[r] = c.ids(r);
    args[r] = cuis::ShardArgs{c.shards[r].empty() ? nullptr : c.shards[r].data(),
                              static_cast<int64_t>(c.shards[r].size()),
                              c.with_ids ? ids[r].data() : nullptr,
                              c.offset(r),
                              c.b,
                              x.indices.data(),
                              c.weights ? x.weights.data() : nullptr,
                              &x.count,
                              &x.status};
    work[r].assign(cuis::ref::shard_work_doubles(c.info(r), c.b), 0.0);
    keep_first(&x.error, cuis::ref::shard_record(args[r], c.info(r), c.options(r), &records[r]));
    x.record = records[r];
  }
  for (int r = 0; r < R; ++r)
    keep_first(&out[r].error,
               cuis::ref::shard_sample(args[r], c.info(r), c.options(r), records.data(), &terms[r], work[r].data()));
  if (c.opts.weighting == cuis::Weighting::biased)
    for (int r = 0; r < R; ++r)
      keep_first(&out[r].error,
                 cuis::ref::shard_rescale(args[r], c.info(r), c.options(r), terms.data(), work[r].data()));
  for (int r = 0; r < R; ++r) out[r].terms = terms[r];
  return out;
}

// One simulated rank's device side.
struct GpuRank {
  cuis::ShardInfo info;
  cuis::SampleOptions opts;
  cuis::ShardArgs args;
  cuis::DeviceBuffer<float> scores, weights, mean_loss;
  cuis::DeviceBuffer<int64_t> ids, indices, count;
  cuis::DeviceBuffer<cuis::DeviceStatus> status;
  cuis::DeviceBuffer<cuis::ShardRecord> record;
  cuis::DeviceBuffer<cuis::ShardTerms> terms;
  cuis::DeviceBuffer<cuis::RngState> rng;
  cuis::DeviceBuffer<char> ws;
  size_t ws_bytes = 0;
};

struct GpuWorld {
  std::vector<GpuRank> ranks;
  cuis::DeviceBuffer<cuis::ShardRecord> records;  // the gathered records
  cuis::DeviceBuffer<cuis::ShardTerms> terms;     // the gathered terms
  bool biased = false;
};

class ShardGpu : public SamplerGpu {
 protected:
  // Uploads the shards and allocates every rank's outputs and workspace.
  cuis::Error make_world(const ShardCase& c, GpuWorld* w) {
    const int R = c.ranks();
    w->ranks = std::vector<GpuRank>(R);
    w->biased = c.opts.weighting == cuis::Weighting::biased;
    cuis::Error e = cuis::Error::success;
    keep_first(&e, w->records.resize(R));
    keep_first(&e, w->terms.resize(R));
    for (int r = 0; r < R; ++r) {
      GpuRank& k = w->ranks[r];
      const int64_t n = static_cast<int64_t>(c.shards[r].size()), cap = c.cap(r);
      k.info = c.info(r);
      k.opts = c.options(r);
      if (n > 0) k.scores = upload(c.shards[r]);
      if (c.with_ids && n > 0) k.ids = upload(c.ids(r));
      keep_first(&e, k.indices.resize(cap));
      if (c.weights) keep_first(&e, k.weights.resize(cap));
      keep_first(&e, k.count.resize(1));
      keep_first(&e, k.status.resize(1));
      keep_first(&e, k.record.resize(1));
      keep_first(&e, k.terms.resize(1));
      if (c.device_rng) {
        k.rng = upload(std::vector<cuis::RngState>{k.opts.rng});
        k.opts.d_rng = k.rng.data();
      }
      if (c.device_mean_loss) {
        k.mean_loss = upload(std::vector<float>{k.opts.mean_loss});
        k.opts.d_mean_loss = k.mean_loss.data();
      }
      k.args = cuis::ShardArgs{
          k.scores.data(), n, k.ids.data(), c.offset(r), c.b, k.indices.data(), k.weights.data(), k.count.data(),
          k.status.data()};
      keep_first(&e, cuis::shard_workspace_size(k.info, n, c.b, k.opts, &k.ws_bytes));
      if (e == cuis::Error::success) keep_first(&e, k.ws.resize(k.ws_bytes));
    }
    return e;
  }

  // The step: every rank's record, the gather, every rank's draws, and for
  // biased weighting the terms' gather and every rank's rescaling.
  cuis::Error enqueue_step(GpuWorld& w) {
    cuis::Error e = cuis::Error::success;
    const int R = static_cast<int>(w.ranks.size());
    for (GpuRank& k : w.ranks)
      keep_first(&e, cuis::shard_record(k.args, k.info, k.opts, k.record.data(), k.ws.data(), k.ws_bytes, stream));
    for (int r = 0; r < R; ++r)
      keep_first(&e, cuda_error(cudaMemcpyAsync(w.records.data() + r, w.ranks[r].record.data(),
                                                sizeof(cuis::ShardRecord), cudaMemcpyDeviceToDevice, stream)));
    for (GpuRank& k : w.ranks)
      keep_first(&e, cuis::shard_sample(k.args, k.info, k.opts, w.records.data(), k.terms.data(), k.ws.data(),
                                        k.ws_bytes, stream));
    if (!w.biased) return e;
    for (int r = 0; r < R; ++r)
      keep_first(&e, cuda_error(cudaMemcpyAsync(w.terms.data() + r, w.ranks[r].terms.data(), sizeof(cuis::ShardTerms),
                                                cudaMemcpyDeviceToDevice, stream)));
    for (GpuRank& k : w.ranks)
      keep_first(&e, cuis::shard_rescale(k.args, k.info, k.opts, w.terms.data(), k.ws.data(), k.ws_bytes, stream));
    return e;
  }

  // Garbage in every output (0xAB: -1 and 0 are legitimate outputs).
  void poison_world(const GpuWorld& w) {
    for (const GpuRank& k : w.ranks) {
      poison(k.indices, POISON_AB);
      if (k.weights.data()) poison(k.weights, POISON_AB);
      poison(k.count, POISON_AB);
      poison(k.status, POISON_AB);
      poison(k.record, POISON_AB);
      poison(k.terms, POISON_AB);
      poison(k.ws, POISON_AB);  // before shard_record, never between the calls: a missed write shows
    }
    poison(w.records, POISON_AB);
    poison(w.terms, POISON_AB);
  }

  std::vector<RankResult> read_world(const GpuWorld& w) {
    EXPECT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
    std::vector<RankResult> out(w.ranks.size());
    for (size_t r = 0; r < w.ranks.size(); ++r) {
      const GpuRank& k = w.ranks[r];
      RankResult& x = out[r];
      x.record = download(k.record.data(), 1)[0];
      x.indices = download(k.indices.data(), k.indices.size());
      if (k.weights.data()) x.weights = download(k.weights.data(), k.weights.size());
      x.count = download(k.count.data(), 1)[0];
      x.status = download(k.status.data(), 1)[0];
      x.terms = download(k.terms.data(), 1)[0];
      if (k.rng.data()) x.rng = download(k.rng.data(), 1)[0];
    }
    return out;
  }

  // The step on the GPU from garbage outputs.
  std::vector<RankResult> gpu_step(const ShardCase& c) {
    GpuWorld w;
    cuis::Error e = make_world(c, &w);
    if (e == cuis::Error::success) {
      poison_world(w);
      e = enqueue_step(w);
    }
    if (e != cuis::Error::success) {
      std::vector<RankResult> failed(c.ranks());
      for (RankResult& x : failed) x.error = e;
      return failed;
    }
    return read_world(w);
  }

  static cuis::Error cuda_error(cudaError_t e) {
    return e == cudaSuccess ? cuis::Error::success : cuis::Error::cuda_error;
  }

  template <class T>
  static bool same_bytes(const T& a, const T& b) {
    return std::memcmp(&a, &b, sizeof(T)) == 0;
  }
  static std::vector<uint32_t> bits(const std::vector<float>& v) {
    std::vector<uint32_t> out(v.size());
    if (!v.empty()) std::memcpy(out.data(), v.data(), v.size() * sizeof(float));
    return out;
  }

  // Every rank's outputs equal the reference's, bit for bit (without the
  // records when compare_records is false).
  static void expect_step_matches(const std::vector<RankResult>& got, const std::vector<RankResult>& want,
                                  const std::string& what, bool compare_records = true) {
    ASSERT_EQ(got.size(), want.size()) << what;
    for (size_t r = 0; r < got.size(); ++r) {
      const std::string at = what + ", rank " + std::to_string(r);
      ASSERT_EQ(want[r].error, cuis::Error::success) << at << " (CPU reference): " << cuis::last_error_message();
      ASSERT_EQ(got[r].error, cuis::Error::success) << at << ": " << cuis::last_error_message();
      if (compare_records) {
        const cuis::ShardRecord &g = got[r].record, &x = want[r].record;
        EXPECT_TRUE(same_bytes(g, x)) << at << ": record differs: code " << g.code << "/" << x.code << " total "
                                      << g.total_hi << ":" << g.total_lo << "/" << x.total_hi << ":" << x.total_lo
                                      << " max_exp " << g.max_exp << "/" << x.max_exp << " bad_index " << g.bad_index
                                      << "/" << x.bad_index << " offset " << g.offset << "/" << x.offset;
      }
      EXPECT_TRUE(same_bytes(got[r].status, want[r].status))
          << at << ": status " << cuis::describe(got[r].status) << " (rank " << got[r].status.rank << "), want "
          << cuis::describe(want[r].status) << " (rank " << want[r].status.rank << ")";
      EXPECT_EQ(got[r].count, want[r].count) << at;
      EXPECT_EQ(got[r].indices, want[r].indices) << at;
      if (!got[r].weights.empty()) EXPECT_EQ(bits(got[r].weights), bits(want[r].weights)) << at;
      EXPECT_TRUE(same_bytes(got[r].terms, want[r].terms))
          << at << ": terms " << got[r].terms.unbiased << ", " << got[r].terms.biased << " want "
          << want[r].terms.unbiased << ", " << want[r].terms.biased;
    }
  }
};

}  // namespace cuis_test
