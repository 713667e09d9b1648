// Pass 1 of sampling with replacement: one streaming read of the scores.
// Each block takes whole tiles of detail::TILE items; per tile it finds the
// exponent E_j of its largest transformed score, quantises every item against
// it, and writes the tile sum S_j and CHUNKS_PER_TILE chunk sums. It also
// validates every score and folds the global max exponent, the lowest bad
// index and the positive count into the workspace header (one atomic per
// block and field, over a grid-stride loop).
#pragma once

#include <cub/block/block_reduce.cuh>
#include <cuda/functional>

#include "common.cuh"

namespace cuis {
namespace kernels {

constexpr int TILE_THREADS = 256;
constexpr int TILE_ITEMS_PER_THREAD = detail::TILE / TILE_THREADS;  // 8: contiguous items
constexpr int THREADS_PER_CHUNK = detail::CHUNK / TILE_ITEMS_PER_THREAD;  // 8 lanes share a chunk
static_assert(TILE_ITEMS_PER_THREAD == 8, "loads are two float4 per thread");

struct TileSumParams {
  const float* scores;
  int64_t n;
  int64_t tiles;
  TransformArgs transform;
  uint64_t* tile_sum;   // [tiles]
  int* tile_exp;        // [tiles]
  uint64_t* chunk_sum;  // [tiles * CHUNKS_PER_TILE]
  WorkHeader* header;
};

// Eight consecutive scores from `first`; zeros past n. VEC: 16-byte aligned.
template <bool VEC>
__device__ __forceinline__ void load8(const float* p, int64_t first, int64_t n, float (&v)[8]) {
  if (VEC && first + 8 <= n) {
    const float4 a = __ldg(reinterpret_cast<const float4*>(p + first));
    const float4 b = __ldg(reinterpret_cast<const float4*>(p + first + 4));
    v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
  } else {
#pragma unroll
    for (int k = 0; k < 8; ++k) v[k] = first + k < n ? p[first + k] : 0.0f;
  }
}

template <bool VEC>
__global__ void __launch_bounds__(TILE_THREADS) tile_sums_kernel(TileSumParams p) {
  using ReduceD = cub::BlockReduce<double, TILE_THREADS>;
  using ReduceU = cub::BlockReduce<unsigned long long, TILE_THREADS>;
  __shared__ union {
    typename ReduceD::TempStorage d;
    typename ReduceU::TempStorage u;
  } tmp;
  __shared__ double s_tmax;

  const detail::TransformParams tp = load_transform(p.transform);
  Validation val;
  int block_max_exp = detail::EXP_NONE;

  for (int64_t tile = blockIdx.x; tile < p.tiles; tile += gridDim.x) {
    const int64_t first = tile * detail::TILE + static_cast<int64_t>(threadIdx.x) * TILE_ITEMS_PER_THREAD;
    float s[8];
    load8<VEC>(p.scores, first, p.n, s);
    double t[8];
    double tmax = 0.0;
#pragma unroll
    for (int k = 0; k < 8; ++k) {
      t[k] = first + k < p.n ? detail::transform_score(s[k], tp) : 0.0;
      if (first + k < p.n) val.see(s[k], t[k], first + k);
      tmax = fmax(tmax, t[k]);
    }
    tmax = ReduceD(tmp.d).Reduce(tmax, ::cuda::maximum<>{});
    if (threadIdx.x == 0) s_tmax = tmax;
    __syncthreads();
    const int e = detail::tile_exponent(s_tmax);

    uint64_t sum = 0;
#pragma unroll
    for (int k = 0; k < 8; ++k) sum += detail::quantize(t[k], e);
    // The 8 threads of a chunk are consecutive lanes of one warp.
#pragma unroll
    for (int d = 1; d < THREADS_PER_CHUNK; d <<= 1)
      sum += __shfl_xor_sync(0xffffffffu, static_cast<unsigned long long>(sum), d);
    if ((threadIdx.x % THREADS_PER_CHUNK) == 0)
      p.chunk_sum[tile * detail::CHUNKS_PER_TILE + threadIdx.x / THREADS_PER_CHUNK] = sum;
    // Each chunk sum was added by all 8 of its threads; count it once.
    const unsigned long long mine = (threadIdx.x % THREADS_PER_CHUNK) == 0 ? sum : 0;
    const unsigned long long tile_total = ReduceU(tmp.u).Sum(mine);
    if (threadIdx.x == 0) {
      p.tile_sum[tile] = tile_total;
      p.tile_exp[tile] = e;
    }
    block_max_exp = max(block_max_exp, e);
    __syncthreads();  // tmp and s_tmax are reused by the next tile
  }

  // One atomic per block and field.
  const unsigned long long bad = ReduceU(tmp.u).Reduce(val.bad_enc, ::cuda::maximum<>{});
  __syncthreads();
  const unsigned long long positive = ReduceU(tmp.u).Sum(val.positive);
  if (threadIdx.x == 0) {
    if (bad != BAD_NONE) atomicMax(&p.header->bad_enc, bad);
    if (positive) atomicAdd(&p.header->positive_count, positive);
    if (block_max_exp != detail::EXP_NONE) atomicMax(&p.header->max_exp_enc, block_max_exp + EXP_BIAS);
  }
}

}  // namespace kernels
}  // namespace cuis
