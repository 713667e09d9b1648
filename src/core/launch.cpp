// Launch sizing: enough blocks to fill the device, no more than the work needs.
#include "core/launch.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <atomic>

#include "core/cuda_check.h"

namespace cuis {
namespace detail {

namespace {
std::atomic<unsigned> g_max_grid_blocks{0};
std::atomic<bool> g_single_tile{true};
}  // namespace

void set_max_grid_blocks(unsigned blocks) { g_max_grid_blocks.store(blocks, std::memory_order_relaxed); }
void set_single_tile_path(bool enabled) { g_single_tile.store(enabled, std::memory_order_relaxed); }
bool single_tile_path() { return g_single_tile.load(std::memory_order_relaxed); }

Error grid_size(int64_t work_blocks, int blocks_per_sm, unsigned* out) {
  int device = 0, sms = 0;
  CUIS_CUDA_TRY(cudaGetDevice(&device));
  CUIS_CUDA_TRY(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  const unsigned forced = g_max_grid_blocks.load(std::memory_order_relaxed);
  const int64_t cap = forced ? forced : static_cast<int64_t>(sms) * blocks_per_sm;
  *out = static_cast<unsigned>(std::max<int64_t>(1, std::min(work_blocks, cap)));
  return Error::success;
}

}  // namespace detail
}  // namespace cuis
