// Host launchers of sharded sampling (cuis/sharded.h): argument checks, the
// workspace layout, and the launch sequence of each call (stream-ordered, no
// host sync, no allocation, capturable; every branch on host-known values).
//   shard_record:             memset header [| tile_sums | CUB scan of tile masses] | record
//   shard_sample, stratified: setup | draw | finish
//   shard_sample, global:     memset counts | setup | place | CUB scan of flags | capacity | scatter | draw | finish
//   shard_rescale:            factor | scale
// The workspace keeps this shard's tiles (and its record) from shard_record
// to shard_sample, and the raw biased weights from shard_sample to
// shard_rescale.
#include <algorithm>
#include <cub/device/device_scan.cuh>
#include <string>

#include "core/cuda_check.h"
#include "core/launch.h"
#include "cuis/sharded.h"
#include "kernels/sampler/shard_draw.cuh"
#include "kernels/sampler/shard_record.cuh"
#include "kernels/sampler/shard_setup.cuh"
#include "kernels/sampler/tile_mass.cuh"
#include "kernels/sampler/tile_sums.cuh"
#include "sampler/shard_internal.h"
#include "sampler/tile_pass.h"
#include "sampler/workspace.h"

namespace cuis {
namespace detail {
namespace {

using kernels::ShardState;
using kernels::WorkHeader;

struct ShardLayout {
  // this shard's distribution (shard_record), as sampler.cu lays it out
  WorkHeader* header = nullptr;
  int64_t tiles = 0;
  uint64_t* tile_sum = nullptr;
  int* tile_exp = nullptr;
  uint64_t* chunk_sum = nullptr;
  u128* prefix = nullptr;
  ShardRecord* mine = nullptr;
  // the step (shard_sample, shard_rescale)
  ShardState* state = nullptr;
  u128* shard_prefix = nullptr;          // [R]
  unsigned long long* landed = nullptr;  // global: [R]
  int32_t* placed = nullptr;             // global: [R b]
  int64_t* slot = nullptr;               // global: [R b]
  int64_t* draw_of_slot = nullptr;       // global: [capacity]
  double* work = nullptr;                // biased: [capacity] each
  double* term_u = nullptr;
  double* term_b = nullptr;
  void* cub_temp = nullptr;
  size_t cub_temp_bytes = 0;
  size_t total = 0;
};

Error make_layout(void* base, const ShardInfo& info, int64_t n, int64_t b, const SampleOptions& o, ShardLayout* out) {
  ShardLayout l;
  Carver c{static_cast<char*>(base)};
  const size_t ranks = static_cast<size_t>(info.ranks);
  const size_t cap = static_cast<size_t>(shard_capacity(info, b));
  l.header = c.take<WorkHeader>(1);
  l.tiles = (n + TILE - 1) / TILE;
  const size_t tiles = static_cast<size_t>(l.tiles);
  l.tile_sum = c.take<uint64_t>(tiles);
  l.tile_exp = c.take<int>(tiles);
  l.chunk_sum = c.take<uint64_t>(tiles * CHUNKS_PER_TILE);
  l.prefix = c.take<u128>(tiles);
  l.mine = c.take<ShardRecord>(1);
  l.state = c.take<ShardState>(1);
  l.shard_prefix = c.take<u128>(ranks);
  size_t temp = 0;
  if (l.tiles > 0) {
    const kernels::MassIterator in(thrust::counting_iterator<int64_t>(0),
                                   kernels::TileMassOp{nullptr, nullptr, nullptr});
    CUIS_CUDA_TRY(
        cub::DeviceScan::InclusiveScan(nullptr, temp, in, static_cast<u128*>(nullptr), kernels::Sum128{}, l.tiles));
  }
  if (info.mode == ShardMode::global) {
    const int64_t draws = static_cast<int64_t>(info.ranks) * b;
    l.landed = c.take<unsigned long long>(ranks);
    l.placed = c.take<int32_t>(static_cast<size_t>(draws));
    l.slot = c.take<int64_t>(static_cast<size_t>(draws));
    l.draw_of_slot = c.take<int64_t>(cap);
    const kernels::LandedHereIterator in(thrust::counting_iterator<int64_t>(0),
                                         kernels::LandedHereOp{nullptr, 0, nullptr});
    size_t scan = 0;
    CUIS_CUDA_TRY(cub::DeviceScan::InclusiveSum(nullptr, scan, in, static_cast<int64_t*>(nullptr), draws));
    temp = std::max(temp, scan);
  }
  l.cub_temp_bytes = temp;
  l.cub_temp = c.take<char>(temp);
  if (o.weighting == Weighting::biased) {
    l.work = c.take<double>(cap);
    l.term_u = c.take<double>(cap);
    l.term_b = c.take<double>(cap);
  }
  l.total = c.used;
  *out = l;
  return Error::success;
}

kernels::TransformArgs transform_args(const SampleOptions& o) {
  return {o.power, o.smooth, o.adaptive_smooth, o.mean_loss, o.d_mean_loss};
}

// The scores and ids (every call), the outputs (shard_sample, shard_rescale).
Error check_shard_args(const ShardArgs& a, bool outputs) {
  if (a.n > 0 && !a.scores) return set_error(Error::null_pointer, "scores must not be null when n > 0");
  if (outputs && (!a.indices || !a.count || !a.status))
    return set_error(Error::null_pointer, "indices, count and status must not be null");
  if (!aligned(a.scores, alignof(float)) || !aligned(a.global_ids, alignof(int64_t)) ||
      !aligned(a.indices, alignof(int64_t)) || !aligned(a.weights, alignof(float)) ||
      !aligned(a.count, alignof(int64_t)) || !aligned(a.status, alignof(DeviceStatus)))
    return set_error(Error::misaligned_pointer, "a shard argument pointer is misaligned");
  return Error::success;
}

Error check_workspace(const ShardArgs& a, const ShardInfo& info, const SampleOptions& o, void* ws, size_t ws_bytes,
                      ShardLayout* l) {
  if (!ws) return set_error(Error::null_pointer, "workspace must not be null");
  if (!aligned(ws, ALIGN)) return set_error(Error::misaligned_pointer, "the workspace needs 256-byte alignment");
  CUIS_TRY(make_layout(ws, info, a.n, a.num_draws, o, l));
  if (ws_bytes < l->total)
    return set_error(Error::workspace_too_small,
                     "workspace has " + std::to_string(ws_bytes) + " bytes, needs " + std::to_string(l->total));
  return Error::success;
}

// Warps over `slots` at DRAW_THREADS / 32 per block.
Error draw_grid(int64_t slots, unsigned* grid) {
  return grid_size((slots + kernels::DRAW_THREADS / 32 - 1) / (kernels::DRAW_THREADS / 32), 8, grid);
}

// Global mode: each of the R b draws placed in a shard, counted, checked
// against every rank's capacity, and this rank's compacted into slots.
Error place_draws(const ShardInfo& info, int64_t b, int64_t cap, const ShardLayout& l, cudaStream_t stream) {
  const int64_t draws = static_cast<int64_t>(info.ranks) * b;
  CUIS_CUDA_TRY(cudaMemsetAsync(l.landed, 0, sizeof(unsigned long long) * info.ranks, stream));
  unsigned grid = 0;
  CUIS_TRY(grid_size((draws + kernels::PLACE_THREADS - 1) / kernels::PLACE_THREADS, 8, &grid));
  const size_t smem = info.ranks <= kernels::PLACE_SHARED_RANKS ? sizeof(u128) * info.ranks : 0;
  kernels::shard_place_kernel<<<grid, kernels::PLACE_THREADS, smem, stream>>>(
      kernels::ShardPlaceParams{l.shard_prefix, info.ranks, draws, l.state, l.placed, l.landed});
  CUIS_LAUNCH_CHECK(stream);

  size_t temp_bytes = l.cub_temp_bytes;
  const kernels::LandedHereIterator in(thrust::counting_iterator<int64_t>(0),
                                       kernels::LandedHereOp{l.placed, info.rank, l.state});
  CUIS_CUDA_TRY(cub::DeviceScan::InclusiveSum(l.cub_temp, temp_bytes, in, l.slot, draws, stream));

  kernels::shard_capacity_kernel<<<1, kernels::CAPACITY_THREADS, 0, stream>>>(
      kernels::ShardCapacityParams{l.landed, info.ranks, info.rank, cap, l.state});
  CUIS_LAUNCH_CHECK(stream);

  CUIS_TRY(grid_size((draws + kernels::SCATTER_THREADS - 1) / kernels::SCATTER_THREADS, 8, &grid));
  kernels::shard_scatter_kernel<<<grid, kernels::SCATTER_THREADS, 0, stream>>>(
      kernels::ShardScatterParams{l.placed, l.slot, draws, info.rank, l.state, l.draw_of_slot});
  CUIS_LAUNCH_CHECK(stream);
  return Error::success;
}

}  // namespace
}  // namespace detail

Error shard_workspace_size(const ShardInfo& info, int64_t n, int64_t num_draws, const SampleOptions& o, size_t* bytes) {
  CUIS_TRY(detail::require_device("shard_workspace_size"));
  if (!bytes) return detail::set_error(Error::null_pointer, "bytes must not be null");
  CUIS_TRY(validate_shard(info, n, num_draws, o));
  detail::ShardLayout l;
  CUIS_TRY(detail::make_layout(nullptr, info, n, num_draws, o, &l));
  *bytes = l.total;
  return detail::set_error(Error::success, "");
}

Error shard_record(const ShardArgs& a, const ShardInfo& info, const SampleOptions& o, ShardRecord* d_record, void* ws,
                   size_t ws_bytes, cudaStream_t stream) {
  using namespace detail;
  CUIS_TRY(require_device("shard_record"));
  CUIS_TRY(validate_shard(info, a.n, a.num_draws, o));
  if (!d_record) return set_error(Error::null_pointer, "record must not be null");
  CUIS_TRY(check_shard_args(a, false));
  if (!aligned(d_record, alignof(ShardRecord))) return set_error(Error::misaligned_pointer, "record is misaligned");
  ShardLayout l;
  CUIS_TRY(check_workspace(a, info, o, ws, ws_bytes, &l));

  CUIS_CUDA_TRY(cudaMemsetAsync(l.header, 0, sizeof(WorkHeader), stream));
  const kernels::TransformArgs tr = transform_args(o);
  if (l.tiles > 0)
    CUIS_TRY(launch_tile_pass(TilePass{a.scores, a.n, l.tiles, tr, l.tile_sum, l.tile_exp, l.chunk_sum, l.header,
                                       l.prefix, l.cub_temp, l.cub_temp_bytes},
                              stream));
  kernels::shard_record_kernel<<<1, 1, 0, stream>>>(kernels::ShardRecordParams{
      a.scores, a.n, a.global_ids, a.shard_offset, l.tiles, l.prefix, l.header, tr, kernels::RngArgs{o.rng, o.d_rng},
      shard_options_hash(info, a.num_draws, o), info.rank, d_record, l.mine});
  CUIS_LAUNCH_CHECK(stream);
  return set_error(Error::success, "");
}

Error shard_sample(const ShardArgs& a, const ShardInfo& info, const SampleOptions& o, const ShardRecord* d_records,
                   ShardTerms* d_terms, void* ws, size_t ws_bytes, cudaStream_t stream) {
  using namespace detail;
  CUIS_TRY(require_device("shard_sample"));
  CUIS_TRY(validate_shard(info, a.n, a.num_draws, o));
  CUIS_TRY(check_shard_args(a, true));
  const bool biased = o.weighting == Weighting::biased;
  if (!d_records || (biased && !d_terms))
    return set_error(Error::null_pointer, "records (and, for biased weights, terms) must not be null");
  if (!aligned(d_records, alignof(ShardRecord)) || !aligned(d_terms, alignof(ShardTerms)))
    return set_error(Error::misaligned_pointer, "records or terms are misaligned");
  ShardLayout l;
  CUIS_TRY(check_workspace(a, info, o, ws, ws_bytes, &l));
  const bool stratified = info.mode == ShardMode::stratified;
  const int64_t b = a.num_draws, cap = shard_capacity(info, b);

  kernels::shard_setup_kernel<<<1, 1, 0, stream>>>(kernels::ShardSetupParams{
      d_records, info.ranks, info.rank, info.num_samples, stratified, a.n, b, l.shard_prefix, l.state});
  CUIS_LAUNCH_CHECK(stream);
  if (!stratified) CUIS_TRY(place_draws(info, b, cap, l, stream));

  unsigned grid = 0;
  CUIS_TRY(draw_grid(cap, &grid));
  const kernels::ShardDrawParams dp{
      stratified,     info.rank,   info.ranks, info.num_samples, b,           cap,      a.scores, a.n,     a.global_ids,
      a.shard_offset, l.tiles,     l.tile_sum, l.tile_exp,       l.chunk_sum, l.prefix, l.mine,   o.power, l.state,
      l.draw_of_slot, o.weighting, o.k,        a.indices,        a.weights,   l.work,   l.term_u, l.term_b};
  kernels::shard_draw_kernel<<<grid, kernels::DRAW_THREADS, 0, stream>>>(dp);
  CUIS_LAUNCH_CHECK(stream);

  const kernels::ShardFinishParams fp{l.state,
                                      biased && a.weights != nullptr,
                                      l.term_u,
                                      l.term_b,
                                      d_terms,
                                      a.status,
                                      a.count,
                                      o.d_rng && o.advance_rng ? o.d_rng : nullptr,
                                      shard_counters_consumed(info, b)};
  kernels::shard_finish_kernel<<<1, REDUCE_THREADS, 0, stream>>>(fp);
  CUIS_LAUNCH_CHECK(stream);
  return set_error(Error::success, "");
}

Error shard_rescale(const ShardArgs& a, const ShardInfo& info, const SampleOptions& o, const ShardTerms* d_all_terms,
                    void* ws, size_t ws_bytes, cudaStream_t stream) {
  using namespace detail;
  CUIS_TRY(require_device("shard_rescale"));
  CUIS_TRY(validate_shard(info, a.n, a.num_draws, o));
  if (o.weighting != Weighting::biased)
    return set_error(Error::invalid_argument, "shard_rescale is for biased weighting only");
  CUIS_TRY(check_shard_args(a, true));
  if (!d_all_terms) return set_error(Error::null_pointer, "terms must not be null");
  if (!aligned(d_all_terms, alignof(ShardTerms))) return set_error(Error::misaligned_pointer, "terms are misaligned");
  ShardLayout l;
  CUIS_TRY(check_workspace(a, info, o, ws, ws_bytes, &l));
  if (!a.weights) return set_error(Error::success, "");  // nothing to rescale

  kernels::shard_factor_kernel<<<1, 1, 0, stream>>>(d_all_terms, info.ranks, a.status, l.state);
  CUIS_LAUNCH_CHECK(stream);
  unsigned grid = 0;
  const int64_t cap = shard_capacity(info, a.num_draws);
  CUIS_TRY(grid_size((cap + kernels::SHARD_SCALE_THREADS - 1) / kernels::SHARD_SCALE_THREADS, 4, &grid));
  kernels::shard_scale_kernel<<<grid, kernels::SHARD_SCALE_THREADS, 0, stream>>>(
      kernels::ShardScaleParams{a.status, a.count, l.state, l.work, a.weights});
  CUIS_LAUNCH_CHECK(stream);
  return set_error(Error::success, "");
}

}  // namespace cuis
