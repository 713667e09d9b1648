// Internal entry points exposed to the tests (not installed).
#pragma once

#include "cuis/core/hd.h"
#include "cuis/sampler.h"
#include "core/launch.h"

namespace cuis {
namespace detail {

// cuis::sample() with replacement, but draw j uses the given r1[j] in [0, Q)
// and r2[j] in [0, S_j) instead of Philox: lets tests hit interval edges.
Error sample_injected(const SampleArgs& args, const SampleOptions& opts, const u128* d_r1, const uint64_t* d_r2,
                      void* d_workspace, size_t workspace_bytes, cudaStream_t stream);

}  // namespace detail
}  // namespace cuis
