// Step 1 of sharded sampling (cuis/sharded.h): this shard's record, from the
// one-GPU sampler's tile pass and scan of tile masses (tile_sums.cuh,
// tile_mass.cuh) over the shard's own scores. One thread, in the order of
// ref::shard_record: the mean loss first, then the lowest bad score, else the
// total Q_r and the largest tile exponent E_r.
#pragma once

#include "common.cuh"
#include "cuis/sharded.h"

namespace cuis {
namespace kernels {

struct ShardRecordParams {
  const float* scores;  // may be null when n == 0
  int64_t n;
  const int64_t* global_ids;  // may be null: shard_offset + position
  int64_t shard_offset;
  int64_t tiles;
  const u128* prefix;        // inclusive prefix of the tile masses (tiles > 0)
  const WorkHeader* header;  // what the tile pass found (zeroed when n == 0)
  TransformArgs transform;
  RngArgs rng;
  uint64_t options_hash;
  int32_t rank;
  ShardRecord* record;  // out: the caller's
  ShardRecord* mine;    // out: the workspace's copy, which shard_sample reads
};

// A score's global index: global_ids[i], else shard_offset + i.
__device__ __forceinline__ int64_t shard_global_id(const int64_t* ids, int64_t offset, int64_t i) {
  return ids ? ids[i] : offset + i;
}

__global__ void shard_record_kernel(ShardRecordParams p) {
  const RngState st = load_rng(p.rng);
  const float mean_loss = load_mean_loss(p.transform);
  ShardRecord r{};
  r.n = p.n;
  r.seed = st.seed;
  r.offset = st.offset;
  r.options_hash = p.options_hash;
  r.smoothing = detail::smoothing_constant(p.transform.smooth, p.transform.adaptive_smooth, mean_loss);
  r.bad_index = -1;
  r.max_exp = detail::EXP_NONE;
  r.code = static_cast<int32_t>(Error::success);
  r.rank = p.rank;
  if (mean_loss_invalid(p.transform, mean_loss)) {
    r.code = static_cast<int32_t>(Error::invalid_mean_loss);
    r.bad_value = mean_loss;
    r.smoothing = 0.0;  // not NaN, whose bits need not agree: the code reports it
  } else if (p.n > 0) {
    const unsigned long long bad = p.header->bad_enc;
    if (bad != BAD_NONE) {
      const int64_t i = static_cast<int64_t>(BAD_BASE - bad);
      const float v = p.scores[i];
      const Error code = isnan(v) ? Error::nan_score : isinf(v) ? Error::inf_score : Error::negative_score;
      r.code = static_cast<int32_t>(code);
      r.bad_index = shard_global_id(p.global_ids, p.shard_offset, i);
      r.bad_value = v;
    } else {
      const u128 total = p.prefix[p.tiles - 1];
      const int enc = p.header->max_exp_enc;
      r.total_lo = detail::lo64(total);
      r.total_hi = detail::hi64(total);
      r.max_exp = enc == 0 ? detail::EXP_NONE : enc - EXP_BIAS;
    }
  }
  *p.record = r;
  *p.mine = r;
}

}  // namespace kernels
}  // namespace cuis
