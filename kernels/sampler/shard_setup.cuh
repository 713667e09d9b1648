// Step 2 of sharded sampling, before the draws: the step's state from the
// gathered records (status, shard prefix, shares, RNG state), and in global
// mode the placement of the R b draws: each draw's shard, the per-rank counts
// (the capacity check over every rank), and this rank's draws compacted into
// slots in global draw order by a scan of "landed here" flags.
//   setup | place | CUB scan of flags | capacity | scatter
#pragma once

#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/transform_iterator.h>

#include <climits>
#include <cub/block/block_reduce.cuh>
#include <cuda/functional>

#include "common.cuh"
#include "cuis/sampler/shard_plan.h"

namespace cuis {
namespace kernels {

// The step's state in the workspace, written by the setup kernel (and, in
// global mode, the capacity kernel); read by every later kernel of the step.
struct ShardState {
  DeviceStatus status;    // identical on every rank
  int64_t count;          // filled slots (0 unless status is success)
  uint64_t seed, offset;  // the RNG state every rank recorded
  double share;           // c_r = Ms_r / Qg: the rescaling sums' factor
  double inverse_share;   // Qg / Ms_r: global-mode weights
  double scale;           // shard_rescale's factor
};

struct ShardSetupParams {
  const ShardRecord* records;  // R, rank order
  int32_t ranks, rank;
  int64_t num_samples;
  bool stratified;
  int64_t n;           // this shard's scores
  int64_t num_draws;   // b
  u128* shard_prefix;  // out: R entries
  ShardState* state;   // out
};

// One thread: the shared definitions of shard_plan.h, as ref::shard_sample.
__global__ void shard_setup_kernel(ShardSetupParams p) {
  ShardState s{};
  s.status = detail::records_status(p.records, p.ranks, p.num_samples);
  if (s.status.code == Error::success) {
    detail::shard_prefix(p.records, p.ranks, p.shard_prefix);
    s.share = detail::shard_share(p.shard_prefix, p.ranks, p.rank);
    s.inverse_share = detail::shard_inverse_share(p.shard_prefix, p.ranks, p.rank);
    s.seed = p.records[p.rank].seed;
    s.offset = p.records[p.rank].offset;
    s.count = p.stratified && p.n > 0 ? p.num_draws : 0;
  }
  *p.state = s;
}

constexpr int PLACE_THREADS = 256;
constexpr int PLACE_SHARED_RANKS = 1024;  // up to this R the shard prefix is staged in shared memory

struct ShardPlaceParams {
  const u128* shard_prefix;  // R entries
  int32_t ranks;
  int64_t draws;  // R b
  const ShardState* state;
  int32_t* placed;             // out: [R b] each draw's shard
  unsigned long long* landed;  // out: [R] draws per shard (zeroed before)
};

// Grid-stride over the R b draws, a warp at a time (every lane takes the same
// trips, so the warp is whole at the match); one atomic per warp and shard.
// Dynamic shared memory: R u128 when R <= PLACE_SHARED_RANKS, else none.
__global__ void __launch_bounds__(PLACE_THREADS) shard_place_kernel(ShardPlaceParams p) {
  extern __shared__ u128 place_prefix[];
  if (p.state->status.code != Error::success) return;
  const bool staged = p.ranks <= PLACE_SHARED_RANKS;
  if (staged) {
    for (int r = threadIdx.x; r < p.ranks; r += PLACE_THREADS) place_prefix[r] = p.shard_prefix[r];
    __syncthreads();
  }
  const u128* prefix = staged ? place_prefix : p.shard_prefix;
  const uint64_t seed = p.state->seed, offset = p.state->offset;
  const int lane = threadIdx.x & 31;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * PLACE_THREADS;
  for (int64_t base = static_cast<int64_t>(blockIdx.x) * PLACE_THREADS + (threadIdx.x & ~31); base < p.draws;
       base += stride) {
    const int64_t j = base + lane;
    int s = -1;
    if (j < p.draws) {
      s = detail::place_draw(seed, offset + static_cast<uint64_t>(j), prefix, p.ranks);
      p.placed[j] = s;
    }
    const unsigned peers = __match_any_sync(0xffffffffu, s);
    if (s >= 0 && lane == __ffs(peers) - 1) atomicAdd(&p.landed[s], static_cast<unsigned long long>(__popc(peers)));
  }
}

// The scan's input: 1 where draw j landed on this rank (0 for all when the
// status failed, as `placed` was not written then).
struct LandedHereOp {
  const int32_t* placed;
  int32_t rank;
  const ShardState* state;
  __device__ int64_t operator()(int64_t j) const {
    return state->status.code == Error::success && placed[j] == rank ? 1 : 0;
  }
};

using LandedHereIterator = thrust::transform_iterator<LandedHereOp, thrust::counting_iterator<int64_t>, int64_t>;

constexpr int CAPACITY_THREADS = 1024;

struct ShardCapacityParams {
  const unsigned long long* landed;  // [R]
  int32_t ranks, rank;
  int64_t capacity;
  ShardState* state;
};

// One block: the first rank with more draws than slots (ref::shard_sample's
// loop over r) fails the step on every rank; else this rank's count.
__global__ void __launch_bounds__(CAPACITY_THREADS) shard_capacity_kernel(ShardCapacityParams p) {
  using Reduce = cub::BlockReduce<int, CAPACITY_THREADS>;
  __shared__ typename Reduce::TempStorage tmp;
  if (p.state->status.code != Error::success) return;
  int first = INT_MAX;
  for (int r = threadIdx.x; r < p.ranks; r += CAPACITY_THREADS) {
    if (p.landed[r] > static_cast<unsigned long long>(p.capacity)) {
      first = r;
      break;
    }
  }
  first = Reduce(tmp).Reduce(first, ::cuda::minimum<>{});
  if (threadIdx.x == 0) {
    if (first < p.ranks) {
      const int64_t landed = static_cast<int64_t>(p.landed[first]);
      const float slots = static_cast<float>(p.capacity);
      p.state->status = DeviceStatus{Error::capacity_exceeded, first, landed, slots, 0.0f, 0};
      p.state->count = 0;
    } else {
      p.state->count = static_cast<int64_t>(p.landed[p.rank]);
    }
  }
}

constexpr int SCATTER_THREADS = 256;

struct ShardScatterParams {
  const int32_t* placed;  // [R b]
  const int64_t* slot;    // [R b] inclusive scan of LandedHereOp
  int64_t draws;
  int32_t rank;
  const ShardState* state;
  int64_t* draw_of_slot;  // out: [capacity] the global draw j each slot resolves
};

__global__ void __launch_bounds__(SCATTER_THREADS) shard_scatter_kernel(ShardScatterParams p) {
  if (p.state->status.code != Error::success) return;  // capacity checked: every slot - 1 < capacity
  for (int64_t j = static_cast<int64_t>(blockIdx.x) * SCATTER_THREADS + threadIdx.x; j < p.draws;
       j += static_cast<int64_t>(gridDim.x) * SCATTER_THREADS)
    if (p.placed[j] == p.rank) p.draw_of_slot[p.slot[j] - 1] = j;
}

}  // namespace kernels
}  // namespace cuis
