// Sampling over n <= TILE items: the whole call (validation, keys or
// quantisation, sort or prefix, draws, weights, status, rescaling, RNG
// advance) in one block and one launch, instead of the general path's
// memset | tile_sums | scan | draw | finish | scale (with replacement) or
// memset | keys | sort | select | finish | scale (without).
// With replacement (single_tile_kernel) the distribution is the same one: with one tile Q = M_0 = S_0 and the tile draw is certain
// (r1 is not needed); the item is the first i whose inclusive prefix of q
// exceeds r2, which is what draw.cuh's chunk-then-pair search finds. The
// status and the rescaling use finish.cuh's functions, so every output bit
// equals the general path's (and the CPU reference's).
#pragma once

#include <cub/block/block_radix_sort.cuh>
#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>
#include <cuda/functional>

#include "common.cuh"
#include "finish.cuh"

namespace cuis {
namespace kernels {

constexpr int SINGLE_THREADS = detail::REDUCE_THREADS;  // the rescaling's fixed order needs exactly these
constexpr int SINGLE_ITEMS = detail::TILE / SINGLE_THREADS;
static_assert(SINGLE_ITEMS == 2, "each thread owns items 2t and 2t+1");

struct SingleTileParams {
  const float* scores;
  int64_t n;  // <= TILE
  const int64_t* candidate_ids;
  int64_t num_draws;
  TransformArgs transform;
  Weighting weighting;
  float k;
  RngState* advance;  // offset += counters consumed at the end, when not null
  int64_t* indices;
  float* weights;  // may be null
  double* terms;   // biased only: [3][num_draws]
  DeviceStatus* status;
};

// The end of a single-block call, by all SINGLE_THREADS threads: the biased
// rescaling (finish.cuh's order) when weights were drawn, the status, and the
// RNG advance by `consumed` counters. `scratch`: 2 * SINGLE_THREADS doubles of
// shared memory the kernel no longer needs (overwritten after a barrier).
__device__ __forceinline__ void single_block_finish(const SingleTileParams& p, const DeviceStatus& status,
                                                    bool rejected, uint64_t consumed, double* scratch) {
  const bool rescale = p.weighting == Weighting::biased && p.weights != nullptr && !rejected;
  if (rescale) {
    __syncthreads();  // every term is written, and nothing reads the scratch memory's old contents
    __shared__ double s_scale;
    const double scale = rescale_factor(p.terms, p.num_draws, scratch);
    if (threadIdx.x == 0) s_scale = scale;
    __syncthreads();
    for (int64_t j = threadIdx.x; j < p.num_draws; j += SINGLE_THREADS)
      p.weights[j] = detail::weight_to_float(detail::dmul(p.terms[j], s_scale));
  }
  if (threadIdx.x == 0) {
    *p.status = status;
    if (p.advance) p.advance->offset += consumed;
  }
}

// The call's status from the block's validation (every thread's Validation),
// shared with every thread. CUB's reductions are valid in thread 0, which
// computes the status; `tmp` is free again on return.
template <class ReduceU>
__device__ __forceinline__ DeviceStatus validated_status(const Validation& val, typename ReduceU::TempStorage& tmp,
                                                         const SingleTileParams& p, bool replacement) {
  const unsigned long long bad = ReduceU(tmp).Reduce(val.bad_enc, ::cuda::maximum<>{});
  __syncthreads();
  const unsigned long long positive = ReduceU(tmp).Sum(val.positive);
  return block_status(bad, positive, p.scores, p.transform, replacement, p.num_draws);
}

template <class Draws>
__global__ void __launch_bounds__(SINGLE_THREADS) single_tile_kernel(SingleTileParams p, Draws draws) {
  using ReduceD = cub::BlockReduce<double, SINGLE_THREADS>;
  using ReduceU = cub::BlockReduce<unsigned long long, SINGLE_THREADS>;
  using ScanU = cub::BlockScan<unsigned long long, SINGLE_THREADS>;
  __shared__ union {
    typename ReduceD::TempStorage d;
    typename ReduceU::TempStorage u;
    typename ScanU::TempStorage s;
  } tmp;
  __shared__ unsigned long long s_incl[detail::TILE];  // inclusive prefix of q
  __shared__ double s_tmax;

  // Everything read from device state is read before the first barrier, so
  // that thread 0 may advance the RNG offset at the end.
  const detail::TransformParams tp = load_transform(p.transform);
  const RngState st = load_rng(draws.rng);

  // Transform and validate the thread's two items.
  const int64_t first = static_cast<int64_t>(threadIdx.x) * SINGLE_ITEMS;
  double t[SINGLE_ITEMS];
  double tmax = 0.0;
  Validation val;
#pragma unroll
  for (int k = 0; k < SINGLE_ITEMS; ++k) {
    const int64_t i = first + k;
    t[k] = 0.0;
    if (i < p.n) {
      const float s = p.scores[i];
      t[k] = detail::transform_score(s, tp);
      val.see(s, t[k], i);
    }
    tmax = fmax(tmax, t[k]);
  }
  tmax = ReduceD(tmp.d).Reduce(tmax, ::cuda::maximum<>{});
  if (threadIdx.x == 0) s_tmax = tmax;
  __syncthreads();
  const DeviceStatus status = validated_status<ReduceU>(val, tmp.u, p, true);
  const bool rejected = status.code != Error::success;

  // Quantise against the tile's exponent; the prefix over all TILE slots
  // (items past n are 0 and never chosen).
  const int e = detail::tile_exponent(s_tmax);
  const unsigned long long q0 = detail::quantize(t[0], e), q1 = detail::quantize(t[1], e);
  unsigned long long before = 0;
  ScanU(tmp.s).ExclusiveSum(q0 + q1, before);
  s_incl[first] = before + q0;
  s_incl[first + 1] = before + q0 + q1;
  __syncthreads();
  const uint64_t total = s_incl[detail::TILE - 1];  // S_0 = M_0 = Q
  for (int64_t j = threadIdx.x; j < p.num_draws; j += SINGLE_THREADS) {
    if (rejected) {
      p.indices[j] = -1;
      if (p.weights) p.weights[j] = 0.0f;
      continue;
    }
    const uint64_t r = draws.r2(j, total, st);
    int lo = 0, hi = detail::TILE - 1;  // s_incl[TILE - 1] = total > r
    while (lo < hi) {
      const int mid = (lo + hi) / 2;
      if (s_incl[mid] > r) hi = mid;
      else lo = mid + 1;
    }
    const uint64_t q = s_incl[lo] - (lo > 0 ? s_incl[lo - 1] : 0ull);
    p.indices[j] = p.candidate_ids ? p.candidate_ids[lo] : lo;
    if (p.weights)
      write_weight(p.weights, p.terms, p.num_draws, j, detail::weight_with_replacement(total, total, total, q, p.n),
                   p.weighting, p.k);
  }

  static_assert(sizeof(s_incl) >= 2 * SINGLE_THREADS * sizeof(double), "the prefix is the rescaling's scratch");
  single_block_finish(p, status, rejected, static_cast<uint64_t>(p.num_draws), reinterpret_cast<double*>(s_incl));
}

// Without replacement over n <= TILE items (Efraimidis-Spirakis, as
// without_replacement.cuh): the keys of the block's 2048 slots (slots past n
// get all-ones bits, above every real key including +inf), a stable block
// radix sort of (key bits, index) pairs, which orders exactly as the general
// path's CUB sort; the B smallest are the sample and the (B+1)-th key is tau.
__global__ void __launch_bounds__(SINGLE_THREADS) single_tile_without_kernel(SingleTileParams p, RngArgs rng) {
  using Sort = cub::BlockRadixSort<unsigned long long, SINGLE_THREADS, SINGLE_ITEMS, int>;
  using ReduceU = cub::BlockReduce<unsigned long long, SINGLE_THREADS>;
  static_assert(sizeof(typename Sort::TempStorage) <= 46 * 1024, "static shared memory is 48 KB");
  static_assert(sizeof(typename Sort::TempStorage) >= 2 * SINGLE_THREADS * sizeof(double),
                "the sort's storage is the rescaling's scratch");
  __shared__ union {
    typename Sort::TempStorage sort;
    typename ReduceU::TempStorage u;
  } tmp;
  __shared__ double s_tau;

  const detail::TransformParams tp = load_transform(p.transform);
  const RngState st = load_rng(rng);

  unsigned long long keys[SINGLE_ITEMS];
  int items[SINGLE_ITEMS];
  Validation val;
#pragma unroll
  for (int k = 0; k < SINGLE_ITEMS; ++k) {
    const int64_t i = static_cast<int64_t>(threadIdx.x) * SINGLE_ITEMS + k;
    items[k] = static_cast<int>(i);
    keys[k] = ~0ull;
    if (i < p.n) {
      const float s = p.scores[i];
      const double t = detail::transform_score(s, tp);
      val.see(s, t, i);
      keys[k] = detail::exponential_key_bits(detail::random128(st.seed, st.offset + i, detail::STREAM_KEY), t);
    }
  }
  if (threadIdx.x == 0) s_tau = HUGE_VAL;  // B = n: every positive item is taken
  const DeviceStatus status = validated_status<ReduceU>(val, tmp.u, p, false);
  const bool rejected = status.code != Error::success;

  Sort(tmp.sort).Sort(keys, items);  // blocked: this thread holds ranks 2t and 2t+1
#pragma unroll
  for (int k = 0; k < SINGLE_ITEMS; ++k)
    if (static_cast<int64_t>(threadIdx.x) * SINGLE_ITEMS + k == p.num_draws && p.num_draws < p.n)
      s_tau = detail::key_from_bits(keys[k]);
  __syncthreads();

#pragma unroll
  for (int k = 0; k < SINGLE_ITEMS; ++k) {
    const int64_t j = static_cast<int64_t>(threadIdx.x) * SINGLE_ITEMS + k;
    if (j >= p.num_draws) continue;
    if (rejected) {
      p.indices[j] = -1;
      if (p.weights) p.weights[j] = 0.0f;
      continue;
    }
    const int64_t item = items[k];
    p.indices[j] = p.candidate_ids ? p.candidate_ids[item] : item;
    if (p.weights) {
      const double t = detail::transform_score(p.scores[item], tp);
      write_weight(p.weights, p.terms, p.num_draws, j, detail::weight_without_replacement(t, s_tau, p.num_draws, p.n),
                   p.weighting, p.k);
    }
  }
  single_block_finish(p, status, rejected, static_cast<uint64_t>(p.n), reinterpret_cast<double*>(&tmp.sort));
}

}  // namespace kernels
}  // namespace cuis
