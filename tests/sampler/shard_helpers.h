// Sharded sampling on the CPU reference with R ranks simulated in one
// process: each rank's record, the "all-gather" (a vector in rank order), each
// rank's draws and, for biased weights, the gathered terms and the rescaling.
#pragma once

#include <cstdint>
#include <vector>

#include "cuis/sampler/shard_reference.h"

namespace cuis_test {

struct Shard {
  std::vector<float> scores;
  int64_t offset = 0;            // global index of score 0 (when ids is empty)
  std::vector<int64_t> ids;      // global index of each score (optional)
};

struct RankOut {
  cuis::Error error = cuis::Error::success;
  cuis::ShardRecord record{};
  cuis::ShardTerms terms{};
  cuis::DeviceStatus status{};
  int64_t count = -2;
  std::vector<int64_t> indices;
  std::vector<float> weights;
};

// Contiguous shards of the given sizes over one global score vector.
inline std::vector<Shard> split(const std::vector<float>& all, const std::vector<int64_t>& sizes) {
  std::vector<Shard> shards;
  int64_t at = 0;
  for (int64_t n : sizes) {
    Shard s;
    s.scores.assign(all.begin() + at, all.begin() + at + n);
    s.offset = at;
    shards.push_back(s);
    at += n;
  }
  return shards;
}

// Strided shards (DistributedSampler's split): rank r holds r, r + R, r + 2R, ...
inline std::vector<Shard> split_strided(const std::vector<float>& all, int ranks) {
  std::vector<Shard> shards(ranks);
  for (size_t i = 0; i < all.size(); ++i) {
    shards[i % ranks].scores.push_back(all[i]);
    shards[i % ranks].ids.push_back(static_cast<int64_t>(i));
  }
  return shards;
}

inline cuis::ShardArgs shard_args(const Shard& s, int64_t b, RankOut& out) {
  cuis::ShardArgs a;
  a.scores = s.scores.empty() ? nullptr : s.scores.data();
  a.n = static_cast<int64_t>(s.scores.size());
  a.global_ids = s.ids.empty() ? nullptr : s.ids.data();
  a.shard_offset = s.offset;
  a.num_draws = b;
  a.indices = out.indices.data();
  a.weights = out.weights.data();
  a.count = &out.count;
  a.status = &out.status;
  return a;
}

// One step on every rank. opts_of(r) lets a test give a rank other options
// (a different seed, a NaN mean loss, ...); by default every rank uses opts.
template <class OptsOf>
std::vector<RankOut> ref_shard_step(const std::vector<Shard>& shards, const cuis::ShardInfo& info_all, int64_t b,
                                    OptsOf opts_of) {
  const int R = static_cast<int>(shards.size());
  std::vector<RankOut> out(R);
  std::vector<cuis::ShardRecord> records(R);
  for (int r = 0; r < R; ++r) {
    cuis::ShardInfo info = info_all;
    info.rank = r;
    info.ranks = R;
    const int64_t cap = cuis::shard_capacity(info, b);
    out[r].indices.assign(cap, -2);
    out[r].weights.assign(cap, -2.0f);
    out[r].error = cuis::ref::shard_record(shard_args(shards[r], b, out[r]), info, opts_of(r), &out[r].record);
    records[r] = out[r].record;
  }
  std::vector<std::vector<double>> work(R);
  std::vector<cuis::ShardTerms> terms(R);
  for (int r = 0; r < R; ++r) {
    if (out[r].error != cuis::Error::success) continue;
    cuis::ShardInfo info = info_all;
    info.rank = r;
    info.ranks = R;
    work[r].assign(cuis::ref::shard_work_doubles(info, b), 0.0);
    out[r].error = cuis::ref::shard_sample(shard_args(shards[r], b, out[r]), info, opts_of(r), records.data(),
                                           &out[r].terms, work[r].data());
    terms[r] = out[r].terms;
  }
  for (int r = 0; r < R; ++r) {
    if (out[r].error != cuis::Error::success || opts_of(r).weighting != cuis::Weighting::biased) continue;
    cuis::ShardInfo info = info_all;
    info.rank = r;
    info.ranks = R;
    out[r].error = cuis::ref::shard_rescale(shard_args(shards[r], b, out[r]), info, opts_of(r), terms.data(),
                                            work[r].data());
  }
  return out;
}

inline std::vector<RankOut> ref_shard_step(const std::vector<Shard>& shards, const cuis::ShardInfo& info, int64_t b,
                                           const cuis::SampleOptions& opts) {
  return ref_shard_step(shards, info, b, [&](int) { return opts; });
}

}  // namespace cuis_test
