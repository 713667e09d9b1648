// Internal entry points exposed to the tests (not installed).
#pragma once

#include "cuis/detail/hd.h"
#include "cuis/sampler.h"

namespace cuis {
namespace detail {

// cuis::sample() with replacement, but draw j uses the given r1[j] in [0, Q)
// and r2[j] in [0, S_j) instead of Philox: lets tests hit interval edges.
Error sample_injected(const SampleArgs& args, const SampleOptions& opts, const u128* d_r1, const uint64_t* d_r2,
                      void* d_workspace, size_t workspace_bytes, cudaStream_t stream);

// Caps the grid of every grid-stride kernel at `blocks` (0: automatic), so
// tests can show that the output does not depend on the launch configuration.
void set_max_grid_blocks(unsigned blocks);

}  // namespace detail
}  // namespace cuis
