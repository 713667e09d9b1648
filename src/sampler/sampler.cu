// Host launchers of the sampler: argument checks, the workspace layout, and
// the launch sequence of each mode (all stream-ordered, none synchronising).
//   with replacement:    memset header | tile_sums | CUB scan of tile masses | draw | finish [| scale]
//                        or, for n <= TILE, the single_tile kernel alone
//   (without replacement for n <= TILE: the single_tile_without kernel alone)
//   without replacement: memset header | keys | CUB radix sort | select | finish [| scale]
#include <algorithm>
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>
#include <string>

#include "core/cuda_check.h"

// 64-bit num_items in DeviceScan and DeviceRadixSort (n > 2^31) needs CCCL >= 2.8.
static_assert(CUB_VERSION >= 200800, "cuis needs CCCL (CUB) 2.8 or newer");
#include "cuis/sampler.h"
#include "kernels/sampler/draw.cuh"
#include "kernels/sampler/finish.cuh"
#include "kernels/sampler/single_tile.cuh"
#include "kernels/sampler/tile_mass.cuh"
#include "kernels/sampler/tile_sums.cuh"
#include "kernels/sampler/without_replacement.cuh"
#include "core/launch.h"
#include "sampler/size_limits.h"
#include "sampler/sampler_internal.h"
#include "sampler/tile_pass.h"
#include "sampler/workspace.h"

namespace cuis {
namespace detail {
namespace {

using kernels::MassIterator;
using kernels::Sum128;
using kernels::TileMassOp;
using kernels::WorkHeader;

struct Layout {
  WorkHeader* header = nullptr;
  // with replacement
  uint64_t* tile_sum = nullptr;
  int* tile_exp = nullptr;
  uint64_t* chunk_sum = nullptr;
  u128* prefix = nullptr;
  // without replacement
  uint64_t* keys[2] = {nullptr, nullptr};
  int64_t* values[2] = {nullptr, nullptr};
  // either
  void* cub_temp = nullptr;
  size_t cub_temp_bytes = 0;
  double* terms = nullptr;
  size_t total = 0;
};

Error make_layout(void* base, int64_t n, int64_t num_draws, const SampleOptions& o, Layout* out) {
  Layout l;
  Carver c{static_cast<char*>(base)};
  l.header = c.take<WorkHeader>(1);
  const int64_t tiles = (n + TILE - 1) / TILE;
  if (o.replacement) {
    l.tile_sum = c.take<uint64_t>(tiles);
    l.tile_exp = c.take<int>(tiles);
    l.chunk_sum = c.take<uint64_t>(static_cast<size_t>(tiles) * CHUNKS_PER_TILE);
    l.prefix = c.take<u128>(tiles);
    const MassIterator in(thrust::counting_iterator<int64_t>(0), TileMassOp{nullptr, nullptr, nullptr});
    CUIS_CUDA_TRY(cub::DeviceScan::InclusiveScan(nullptr, l.cub_temp_bytes, in, static_cast<u128*>(nullptr),
                                                 Sum128{}, tiles));
  } else {
    for (int b = 0; b < 2; ++b) {
      l.keys[b] = c.take<uint64_t>(n);
      l.values[b] = c.take<int64_t>(n);
    }
    cub::DoubleBuffer<uint64_t> keys(nullptr, nullptr);
    cub::DoubleBuffer<int64_t> values(nullptr, nullptr);
    CUIS_CUDA_TRY(cub::DeviceRadixSort::SortPairs(nullptr, l.cub_temp_bytes, keys, values, n));
  }
  l.cub_temp = c.take<char>(l.cub_temp_bytes);
  if (o.weighting == Weighting::biased) l.terms = c.take<double>(3 * static_cast<size_t>(num_draws));
  l.total = c.used;
  *out = l;
  return Error::success;
}

kernels::TransformArgs transform_args(const SampleOptions& o) {
  return {o.power, o.smooth, o.adaptive_smooth, o.mean_loss, o.d_mean_loss};
}

Error check_args(const SampleArgs& a, const SampleOptions& o, void* ws, size_t ws_bytes, Layout* layout) {
  if (const Error e = validate_sizes(a.n, a.num_draws, o); e != Error::success) return e;
  if (!a.scores || !a.indices || !a.status || !ws)
    return set_error(Error::null_pointer, "scores, indices, status and workspace must not be null");
  if (!aligned(a.scores, alignof(float)) || !aligned(a.indices, alignof(int64_t)) ||
      !aligned(a.weights, alignof(float)) || !aligned(a.status, alignof(DeviceStatus)) ||
      !aligned(a.candidate_ids, alignof(int64_t)) || !aligned(ws, ALIGN))
    return set_error(Error::misaligned_pointer, "a pointer is misaligned (workspace needs 256 bytes)");
  if (const Error e = make_layout(ws, a.n, a.num_draws, o, layout); e != Error::success) return e;
  if (ws_bytes < layout->total)
    return set_error(Error::workspace_too_small, "workspace has " + std::to_string(ws_bytes) + " bytes, needs " +
                                                     std::to_string(layout->total));
  return Error::success;
}

// finish (and scale, when rescaling) for either mode.
Error launch_finish(const SampleArgs& a, const SampleOptions& o, const Layout& l, cudaStream_t stream) {
  const bool rescale = o.weighting == Weighting::biased && a.weights != nullptr;
  kernels::FinishParams fp{a.scores, a.num_draws, o.replacement, rescale, l.terms, l.header, transform_args(o),
                           o.d_rng && o.advance_rng ? o.d_rng : nullptr, counters_consumed(a.n, a.num_draws, o),
                           a.status};
  kernels::finish_kernel<<<1, REDUCE_THREADS, 0, stream>>>(fp);
  CUIS_LAUNCH_CHECK(stream);
  if (rescale) {
    unsigned grid = 0;
    if (const Error e = grid_size((a.num_draws + kernels::SCALE_THREADS - 1) / kernels::SCALE_THREADS, 4, &grid);
        e != Error::success)
      return e;
    kernels::scale_kernel<<<grid, kernels::SCALE_THREADS, 0, stream>>>(
        kernels::ScaleParams{a.num_draws, l.terms, l.header, a.status, a.weights});
    CUIS_LAUNCH_CHECK(stream);
  }
  return Error::success;
}

template <class Draws>
Error run_with_replacement(const SampleArgs& a, const SampleOptions& o, const Layout& l, Draws draws,
                           cudaStream_t stream) {
  const int64_t tiles = (a.n + TILE - 1) / TILE;
  const kernels::TransformArgs tr = transform_args(o);
  if (tiles == 1 && a.num_draws <= SINGLE_TILE_MAX_DRAWS && single_tile_path()) {
    const kernels::SingleTileParams sp{a.scores, a.n,      a.candidate_ids, a.num_draws,
                                       tr,       o.weighting, o.k,
                                       o.d_rng && o.advance_rng ? o.d_rng : nullptr,
                                       a.indices, a.weights, l.terms, a.status};
    kernels::single_tile_kernel<<<1, kernels::SINGLE_THREADS, 0, stream>>>(sp, draws);
    CUIS_LAUNCH_CHECK(stream);
    return Error::success;
  }
  CUIS_CUDA_TRY(cudaMemsetAsync(l.header, 0, sizeof(WorkHeader), stream));
  CUIS_TRY(launch_tile_pass(TilePass{a.scores, a.n, tiles, tr, l.tile_sum, l.tile_exp, l.chunk_sum, l.header,
                                     l.prefix, l.cub_temp, l.cub_temp_bytes},
                            stream));

  unsigned grid = 0;
  const int64_t draw_blocks = (a.num_draws + kernels::DRAW_THREADS / 32 - 1) / (kernels::DRAW_THREADS / 32);
  if (const Error e = grid_size(draw_blocks, 8, &grid); e != Error::success) return e;
  const kernels::DrawParams dp{a.scores,   a.n,          a.candidate_ids, a.num_draws, tiles,
                               l.tile_sum, l.tile_exp,   l.chunk_sum,     l.prefix,    l.header,
                               tr,         o.weighting,  o.k,             a.indices,   a.weights,
                               l.terms};
  kernels::draw_kernel<<<grid, kernels::DRAW_THREADS, 0, stream>>>(dp, draws);
  CUIS_LAUNCH_CHECK(stream);
  return launch_finish(a, o, l, stream);
}

Error run_without_replacement(const SampleArgs& a, const SampleOptions& o, const Layout& l, cudaStream_t stream) {
  const kernels::TransformArgs tr = transform_args(o);
  if (a.n <= TILE && single_tile_path()) {
    const kernels::SingleTileParams sp{a.scores, a.n,      a.candidate_ids, a.num_draws,
                                       tr,       o.weighting, o.k,
                                       o.d_rng && o.advance_rng ? o.d_rng : nullptr,
                                       a.indices, a.weights, l.terms, a.status};
    kernels::single_tile_without_kernel<<<1, kernels::SINGLE_THREADS, 0, stream>>>(sp, kernels::RngArgs{o.rng, o.d_rng});
    CUIS_LAUNCH_CHECK(stream);
    return Error::success;
  }
  CUIS_CUDA_TRY(cudaMemsetAsync(l.header, 0, sizeof(WorkHeader), stream));
  unsigned grid = 0;
  if (const Error e = grid_size((a.n + kernels::KEY_THREADS - 1) / kernels::KEY_THREADS, 8, &grid);
      e != Error::success)
    return e;
  kernels::keys_kernel<<<grid, kernels::KEY_THREADS, 0, stream>>>(
      kernels::KeyParams{a.scores, a.n, tr, kernels::RngArgs{o.rng, o.d_rng}, l.keys[0], l.values[0], l.header});
  CUIS_LAUNCH_CHECK(stream);

  // DoubleBuffer: CUB ping-pongs between our two buffers instead of keeping
  // copies in its temporary storage; which one ends up current is decided on
  // the host from n alone, so this stays capturable.
  size_t temp_bytes = l.cub_temp_bytes;
  cub::DoubleBuffer<uint64_t> keys(l.keys[0], l.keys[1]);
  cub::DoubleBuffer<int64_t> values(l.values[0], l.values[1]);
  CUIS_CUDA_TRY(cub::DeviceRadixSort::SortPairs(l.cub_temp, temp_bytes, keys, values, a.n, 0, 64, stream));

  if (const Error e = grid_size((a.num_draws + kernels::KEY_THREADS - 1) / kernels::KEY_THREADS, 8, &grid);
      e != Error::success)
    return e;
  kernels::select_kernel<<<grid, kernels::KEY_THREADS, 0, stream>>>(
      kernels::SelectParams{a.scores, a.n, a.candidate_ids, a.num_draws, keys.Current(), values.Current(), l.header, tr,
                            o.weighting, o.k, a.indices, a.weights, l.terms});
  CUIS_LAUNCH_CHECK(stream);
  return launch_finish(a, o, l, stream);
}

}  // namespace

Error launch_tile_pass(const TilePass& t, cudaStream_t stream) {
  unsigned grid = 0;
  CUIS_TRY(grid_size(t.tiles, 8, &grid));
  const kernels::TileSumParams tp{t.scores, t.n, t.tiles, t.transform, t.tile_sum, t.tile_exp, t.chunk_sum, t.header};
  if (aligned(t.scores, 16)) {
    kernels::tile_sums_kernel<true><<<grid, kernels::TILE_THREADS, 0, stream>>>(tp);
  } else {
    kernels::tile_sums_kernel<false><<<grid, kernels::TILE_THREADS, 0, stream>>>(tp);
  }
  CUIS_LAUNCH_CHECK(stream);
  size_t temp_bytes = t.cub_temp_bytes;
  const MassIterator in(thrust::counting_iterator<int64_t>(0), TileMassOp{t.tile_sum, t.tile_exp, t.header});
  CUIS_CUDA_TRY(cub::DeviceScan::InclusiveScan(t.cub_temp, temp_bytes, in, t.prefix, Sum128{}, t.tiles, stream));
  return Error::success;
}

Error sample_injected(const SampleArgs& a, const SampleOptions& o, const u128* d_r1, const uint64_t* d_r2,
                      void* ws, size_t ws_bytes, cudaStream_t stream) {
  if (!o.replacement) return set_error(Error::invalid_argument, "injected draws exist only with replacement");
  Layout l;
  if (const Error e = check_args(a, o, ws, ws_bytes, &l); e != Error::success) return e;
  if (!d_r1 || !d_r2) return set_error(Error::null_pointer, "injected draws must not be null");
  return run_with_replacement(a, o, l, kernels::InjectedDraws{{o.rng, o.d_rng}, d_r1, d_r2}, stream);
}

}  // namespace detail

Error sample_workspace_size(int64_t n, int64_t num_draws, const SampleOptions& o, size_t* bytes) {
  CUIS_TRY(detail::require_device("sample_workspace_size"));
  if (!bytes) return detail::set_error(Error::null_pointer, "bytes must not be null");
  if (const Error e = detail::validate_sizes(n, num_draws, o); e != Error::success) return e;
  detail::Layout l;
  if (const Error e = detail::make_layout(nullptr, n, num_draws, o, &l); e != Error::success) return e;
  *bytes = l.total;
  return detail::set_error(Error::success, "");
}

Error sample(const SampleArgs& a, const SampleOptions& o, void* ws, size_t ws_bytes, cudaStream_t stream) {
  CUIS_TRY(detail::require_device("sample"));
  detail::Layout l;
  if (const Error e = detail::check_args(a, o, ws, ws_bytes, &l); e != Error::success) return e;
  const Error e = o.replacement
                      ? detail::run_with_replacement(a, o, l, kernels::PhiloxDraws{{o.rng, o.d_rng}}, stream)
                      : detail::run_without_replacement(a, o, l, stream);
  return e == Error::success ? detail::set_error(Error::success, "") : e;
}

namespace kernels {
__global__ void uniform_indices_kernel(int64_t* out, int64_t count, int64_t n, RngArgs rng) {
  const RngState st = load_rng(rng);
  for (int64_t j = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; j < count;
       j += static_cast<int64_t>(gridDim.x) * blockDim.x)
    out[j] = detail::uniform_index(st.seed, st.offset + static_cast<uint64_t>(j), n);
}
__global__ void advance_rng_kernel(RngState* rng, uint64_t by) { rng->offset += by; }
}  // namespace kernels

Error uniform_indices(int64_t* d_out, int64_t count, int64_t n, RngState rng, RngState* d_rng, bool advance,
                      cudaStream_t stream) {
  CUIS_TRY(detail::require_device("uniform_indices"));
  if (!d_out) return detail::set_error(Error::null_pointer, "uniform_indices: out must not be null");
  if (count <= 0 || n <= 0) return detail::set_error(Error::empty_input, "uniform_indices: count and n must be positive");
  unsigned grid = 0;
  if (const Error e = detail::grid_size((count + 255) / 256, 8, &grid); e != Error::success) return e;
  kernels::uniform_indices_kernel<<<grid, 256, 0, stream>>>(d_out, count, n, kernels::RngArgs{rng, d_rng});
  CUIS_LAUNCH_CHECK(stream);
  if (d_rng && advance) {
    kernels::advance_rng_kernel<<<1, 1, 0, stream>>>(d_rng, static_cast<uint64_t>(count));
    CUIS_LAUNCH_CHECK(stream);
  }
  return detail::set_error(Error::success, "");
}

Error read_status(const DeviceStatus* d_status, cudaStream_t stream, DeviceStatus* out) {
  CUIS_TRY(detail::require_device("read_status"));
  if (!d_status || !out) return detail::set_error(Error::null_pointer, "status pointers must not be null");
  CUIS_CUDA_TRY(cudaMemcpyAsync(out, d_status, sizeof(DeviceStatus), cudaMemcpyDeviceToHost, stream));
  CUIS_CUDA_TRY(cudaStreamSynchronize(stream));
  return detail::set_error(Error::success, "");
}

}  // namespace cuis
