// Internal: the with-replacement distribution's first two passes, shared by
// the one-GPU sampler (sampler.cu) and the sharded one (sharded.cu): the tile
// pass (tile_sums_kernel: per-tile exponents, quantised sums, chunk sums, the
// score check) and the CUB scan of the 128-bit tile masses into their prefix.
// CUDA translation units only.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/sampler/common.cuh"

namespace cuis {
namespace detail {

struct TilePass {
  const float* scores;
  int64_t n, tiles;  // tiles >= 1
  kernels::TransformArgs transform;
  uint64_t* tile_sum;
  int* tile_exp;
  uint64_t* chunk_sum;
  kernels::WorkHeader* header;  // zeroed by the caller, stream-ordered before
  u128* prefix;
  void* cub_temp;
  size_t cub_temp_bytes;
};

// Enqueues both passes on `stream` (no sync, no allocation).
Error launch_tile_pass(const TilePass& t, cudaStream_t stream);

}  // namespace detail
}  // namespace cuis
