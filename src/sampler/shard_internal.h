// Internal: what both paths of sharded sampling share on the host.
#pragma once

#include <cstdint>

#include "cuis/sharded.h"

namespace cuis {
namespace detail {

// A hash of everything every rank must agree on except the RNG state and the
// mean loss (which travel in the record as they are): mode, R, N, b, the
// capacity and the sampling options.
uint64_t shard_options_hash(const ShardInfo& info, int64_t num_draws, const SampleOptions& opts);

}  // namespace detail
}  // namespace cuis
