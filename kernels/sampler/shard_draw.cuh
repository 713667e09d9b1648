// Step 2 of sharded sampling, the draws, and step 3. shard_draw_kernel: one
// warp per output slot; a filled slot resolves its draw inside this shard as
// draw.cuh does (tile by the 32-ary search, chunk and item by warp scans) at
// Philox counter offset + r b + slot (stratified) or offset + j (global, j the
// slot's global draw), weighted by detail::shard_weight; slots past the count
// get -1 / 0. shard_finish_kernel writes the status, the count, this rank's
// rescaling terms (the fixed-order sums times c_r) and advances the RNG.
// shard_rescale: the factor from the gathered terms, then the final weights.
#pragma once

#include "common.cuh"
#include "cuis/sampler/shard_plan.h"
#include "draw.cuh"
#include "fixed_sum.cuh"
#include "shard_record.cuh"
#include "shard_setup.cuh"

namespace cuis {
namespace kernels {

struct ShardDrawParams {
  bool stratified;
  int32_t rank, ranks;
  int64_t num_samples;  // N
  int64_t num_draws;    // b
  int64_t capacity;
  const float* scores;
  int64_t n;
  const int64_t* global_ids;
  int64_t shard_offset;
  int64_t tiles;  // this shard's distribution, from shard_record
  const uint64_t* tile_sum;
  const int* tile_exp;
  const uint64_t* chunk_sum;
  const u128* prefix;
  const ShardRecord* mine;  // the smoothing the tile pass used
  float power;
  const ShardState* state;
  const int64_t* draw_of_slot;  // global mode
  Weighting weighting;
  float k;
  int64_t* indices;
  float* weights;  // may be null
  double* work;    // biased: [capacity] raw biased weights, kept for shard_rescale
  double* term_u;  // biased: [capacity] unbiased * score
  double* term_b;  // biased: [capacity] raw biased * score
};

// Slot j's index and weight: 1, the unbiased weight, or (biased) the raw
// biased weight, kept with the two rescaling terms.
__device__ __forceinline__ void write_shard_draw(const ShardDrawParams& p, int64_t j, int64_t item,
                                                 const detail::DrawWeight& w) {
  p.indices[j] = shard_global_id(p.global_ids, p.shard_offset, item);
  if (!p.weights) return;
  if (p.weighting == Weighting::none) {
    p.weights[j] = 1.0f;
  } else if (p.weighting == Weighting::unbiased) {
    p.weights[j] = detail::weight_to_float(w.unbiased);
  } else {
    const double raw = detail::biased_weight(w.unbiased, p.k);
    p.work[j] = raw;
    p.weights[j] = detail::weight_to_float(raw);
    p.term_u[j] = detail::dmul(w.unbiased, w.score);
    p.term_b[j] = detail::dmul(raw, w.score);
  }
}

__global__ void __launch_bounds__(DRAW_THREADS) shard_draw_kernel(ShardDrawParams p) {
  const int lane = threadIdx.x & 31;
  const int64_t warp = (static_cast<int64_t>(blockIdx.x) * DRAW_THREADS + threadIdx.x) >> 5;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (DRAW_THREADS / 32);
  const ShardState& s = *p.state;
  const int64_t count = s.status.code == Error::success ? s.count : 0;
  const uint64_t seed = s.seed;
  const uint64_t base =
      p.stratified ? s.offset + static_cast<uint64_t>(p.rank) * static_cast<uint64_t>(p.num_draws) : s.offset;
  const detail::TransformParams tp{static_cast<double>(p.power), p.mine->smoothing};
  const u128 total = p.tiles > 0 ? p.prefix[p.tiles - 1] : u128{0};
  const ShardMode mode = p.stratified ? ShardMode::stratified : ShardMode::global;

  for (int64_t j = warp; j < p.capacity; j += warps) {
    if (j >= count || p.n == 0) {  // (n == 0 with a count only from records not gathered from these calls)
      if (lane == 0) {
        p.indices[j] = -1;
        if (p.weights) p.weights[j] = 0.0f;
      }
      continue;
    }
    const uint64_t c = base + static_cast<uint64_t>(p.stratified ? j : p.draw_of_slot[j]);
    if (total == 0) {  // stratified, a shard without mass: uniform
      if (lane == 0)
        write_shard_draw(p, j, detail::uniform_index(seed, c, p.n),
                         detail::zero_shard_weight(p.n, p.num_samples, p.ranks));
      continue;
    }
    // Tile.
    const u128 r1 = detail::mulhi128(detail::random128(seed, c, detail::STREAM_TILE), total);
    const int64_t tile = warp_upper_bound(p.prefix, p.tiles, r1);
    const uint64_t tile_sum = p.tile_sum[tile];
    const int e = p.tile_exp[tile];
    const uint64_t r = detail::mulhi128_64(detail::random128(seed, c, detail::STREAM_ITEM), tile_sum);
    const WarpItem found = warp_find_item(p.scores, p.n, p.chunk_sum, tile, e, r, tp);
    if (lane == found.owner) {
      const int64_t item = found.item;
      const uint64_t q = found.q;
      const u128 before = tile > 0 ? p.prefix[tile - 1] : u128{0};
      const uint64_t mass = static_cast<uint64_t>(p.prefix[tile] - before);
      write_shard_draw(p, j, item,
                       detail::shard_weight(mode, total, mass, tile_sum, q, p.num_samples, p.ranks, s.inverse_share));
    }
  }
}

struct ShardFinishParams {
  const ShardState* state;
  bool sum_terms;  // biased weighting with weights requested
  const double* term_u;
  const double* term_b;
  ShardTerms* terms;  // may be null (not biased)
  DeviceStatus* status;
  int64_t* count;
  RngState* rng;  // advanced by `consumed` when not null
  uint64_t consumed;
};

// One block of REDUCE_THREADS threads (the fixed order of the sums).
__global__ void __launch_bounds__(detail::REDUCE_THREADS) shard_finish_kernel(ShardFinishParams p) {
  __shared__ double scratch[2 * detail::REDUCE_THREADS];
  const ShardState& s = *p.state;
  const bool ok = s.status.code == Error::success;
  ShardTerms t{0.0, 0.0};
  if (p.sum_terms && ok) {
    const TwoSums sums = fixed_order_sums(p.term_u, p.term_b, s.count, scratch);
    t = ShardTerms{detail::dmul(sums.u, s.share), detail::dmul(sums.b, s.share)};
  }
  if (threadIdx.x == 0) {
    if (p.terms) *p.terms = t;
    *p.status = s.status;
    *p.count = ok ? s.count : 0;
    if (p.rng) p.rng->offset += p.consumed;
  }
}

// shard_rescale, one thread: the factor from the R gathered terms.
__global__ void shard_factor_kernel(const ShardTerms* all_terms, int32_t ranks, const DeviceStatus* status,
                                    ShardState* state) {
  if (status->code == Error::success) state->scale = detail::shard_scale(all_terms, ranks);
}

constexpr int SHARD_SCALE_THREADS = 256;

struct ShardScaleParams {
  const DeviceStatus* status;  // shard_sample's outputs
  const int64_t* count;
  const ShardState* state;
  const double* work;
  float* weights;
};

__global__ void __launch_bounds__(SHARD_SCALE_THREADS) shard_scale_kernel(ShardScaleParams p) {
  if (p.status->code != Error::success) return;  // the draws left 0
  const double scale = p.state->scale;
  const int64_t count = *p.count;
  for (int64_t j = static_cast<int64_t>(blockIdx.x) * SHARD_SCALE_THREADS + threadIdx.x; j < count;
       j += static_cast<int64_t>(gridDim.x) * SHARD_SCALE_THREADS)
    p.weights[j] = detail::weight_to_float(detail::dmul(p.work[j], scale));
}

}  // namespace kernels
}  // namespace cuis
