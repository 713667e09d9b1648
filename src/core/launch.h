// Internal: launch sizing shared by every host launcher.
#pragma once

#include <cstdint>

#include "cuis/error.h"

namespace cuis {
namespace detail {

// Blocks for a grid-stride kernel: min(work_blocks, SMs * blocks_per_sm), or
// the test override of set_max_grid_blocks().
Error grid_size(int64_t work_blocks, int blocks_per_sm, unsigned* out);

// Caps the grid of every grid-stride kernel at `blocks` (0: automatic), so
// tests can show that results do not depend on the launch configuration.
void set_max_grid_blocks(unsigned blocks);

// Sampling over at most TILE items takes the single-launch path (one block),
// with replacement for at most this many draws (beyond them the general
// path's grid is faster). Tests turn the path off (default on) to
// compare the two bit for bit.
constexpr int64_t SINGLE_TILE_MAX_DRAWS = 16384;
void set_single_tile_path(bool enabled);
bool single_tile_path();

}  // namespace detail
}  // namespace cuis
