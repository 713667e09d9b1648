// Pass 3 of sampling with replacement: one warp per draw. The warp finds the
// draw's tile by a 32-ary search of the 128-bit tile prefix, its chunk by a
// warp scan of the tile's 32 chunk sums, and its item by re-reading and
// re-quantising the chunk's 64 scores: 512 bytes of random reads per draw
// beyond the binary search. Every comparison is on exact integers, so the
// result equals the CPU reference's for any grid size.
#pragma once

#include "common.cuh"
#include "cuis/sampler/kary_search.h"

namespace cuis {
namespace kernels {

constexpr int DRAW_THREADS = 256;

struct DrawParams {
  const float* scores;
  int64_t n;
  const int64_t* candidate_ids;
  int64_t num_draws;
  int64_t tiles;
  const uint64_t* tile_sum;
  const int* tile_exp;
  const uint64_t* chunk_sum;
  const u128* prefix;  // inclusive prefix of the tile masses M_j
  const WorkHeader* header;
  TransformArgs transform;
  Weighting weighting;
  float k;
  int64_t* indices;
  float* weights;       // may be null
  double* terms;        // biased only: [3][num_draws] = biased weight, unbiased*s, biased*s
};

// The random numbers of draw j: r1 in [0, Q) picks the tile, r2 in [0, S_j) the item.
struct PhiloxDraws {
  RngArgs rng;
  __device__ u128 r1(int64_t j, u128 total, const RngState& st) const {
    return detail::mulhi128(detail::random128(st.seed, st.offset + j, detail::STREAM_TILE), total);
  }
  __device__ uint64_t r2(int64_t j, uint64_t tile_sum, const RngState& st) const {
    return detail::mulhi128_64(detail::random128(st.seed, st.offset + j, detail::STREAM_ITEM), tile_sum);
  }
};

// Caller-chosen r1, r2 (tests inject draws at interval edges), clamped into
// range so that a bad injection cannot index out of bounds.
struct InjectedDraws {
  RngArgs rng;
  const u128* d_r1;
  const uint64_t* d_r2;
  __device__ u128 r1(int64_t j, u128 total, const RngState&) const { return d_r1[j] < total ? d_r1[j] : total - 1; }
  __device__ uint64_t r2(int64_t j, uint64_t tile_sum, const RngState&) const {
    return d_r2[j] < tile_sum ? d_r2[j] : tile_sum - 1;
  }
};

// First index in [0, count) with prefix[index] > r, given prefix[count-1] > r:
// the 32-ary search of detail::KarySearch, one ballot per step.
__device__ __forceinline__ int64_t warp_upper_bound(const u128* prefix, int64_t count, u128 r) {
  const int lane = threadIdx.x & 31;
  detail::KarySearch s(count);
  while (!s.narrowing_done()) s.narrow(__ballot_sync(0xffffffffu, prefix[s.probe(lane)] > r));
  return s.result(__ballot_sync(0xffffffffu, s.final_valid(lane) && prefix[s.final_probe(lane)] > r));
}

// A drawn item inside its tile: valid in the lane `owner` only.
struct WarpItem {
  int owner;     // the lane that holds the result
  int64_t item;  // index into the scores
  uint64_t q;    // its quantised score
};

// The item r (in [0, S_j)) selects inside tile `tile` (exponent e): its chunk
// by a warp scan of the tile's 32 chunk sums (lane c holds chunk c's), then
// the item by re-reading and re-quantising the chunk's 64 scores (lane l
// holds items 2l and 2l+1). Called by a whole warp.
__device__ __forceinline__ WarpItem warp_find_item(const float* scores, int64_t n, const uint64_t* chunk_sum,
                                                   int64_t tile, int e, uint64_t r, detail::TransformParams tp) {
  const int lane = threadIdx.x & 31;
  const uint64_t c = chunk_sum[tile * detail::CHUNKS_PER_TILE + lane];
  const uint64_t c_incl = warp_inclusive_sum(c);
  const int chunk = __ffs(__ballot_sync(0xffffffffu, c_incl > r)) - 1;
  r -= shfl_u64(c_incl - c, chunk);
  const int64_t first = tile * detail::TILE + static_cast<int64_t>(chunk) * detail::CHUNK + 2 * lane;
  const uint64_t q0 = first < n ? detail::quantize(detail::transform_score(scores[first], tp), e) : 0;
  const uint64_t q1 = first + 1 < n ? detail::quantize(detail::transform_score(scores[first + 1], tp), e) : 0;
  const uint64_t pair = q0 + q1;
  const uint64_t pair_incl = warp_inclusive_sum(pair);
  const int owner = __ffs(__ballot_sync(0xffffffffu, pair_incl > r)) - 1;
  const uint64_t within = r - (pair_incl - pair);
  return WarpItem{owner, within < q0 ? first : first + 1, within < q0 ? q0 : q1};
}

template <class Draws>
__global__ void __launch_bounds__(DRAW_THREADS) draw_kernel(DrawParams p, Draws draws) {
  const int lane = threadIdx.x & 31;
  const int64_t warp = (static_cast<int64_t>(blockIdx.x) * DRAW_THREADS + threadIdx.x) >> 5;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (DRAW_THREADS / 32);
  const bool rejected = input_rejected(p.header, p.transform);
  const RngState st = load_rng(draws.rng);
  const detail::TransformParams tp = load_transform(p.transform);
  const u128 total = p.prefix[p.tiles - 1];

  for (int64_t j = warp; j < p.num_draws; j += warps) {
    if (rejected) {
      if (lane == 0) {
        p.indices[j] = -1;
        if (p.weights) p.weights[j] = 0.0f;
      }
      continue;
    }
    // Tile.
    const u128 r1 = draws.r1(j, total, st);
    const int64_t tile = warp_upper_bound(p.prefix, p.tiles, r1);
    const uint64_t tile_sum = p.tile_sum[tile];
    const int e = p.tile_exp[tile];
    const uint64_t r = draws.r2(j, tile_sum, st);
    const WarpItem found = warp_find_item(p.scores, p.n, p.chunk_sum, tile, e, r, tp);
    if (lane == found.owner) {
      const int64_t item = found.item;
      const uint64_t q = found.q;
      p.indices[j] = p.candidate_ids ? p.candidate_ids[item] : item;
      if (p.weights) {
        const u128 before = tile > 0 ? p.prefix[tile - 1] : u128{0};
        const uint64_t mass = static_cast<uint64_t>(p.prefix[tile] - before);
        write_weight(p.weights, p.terms, p.num_draws, j, detail::weight_with_replacement(total, mass, tile_sum, q, p.n),
                     p.weighting, p.k);
      }
    }
  }
}

}  // namespace kernels
}  // namespace cuis
