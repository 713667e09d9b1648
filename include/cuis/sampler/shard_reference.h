// The CPU reference of sharded sampling (cuis/sharded.h): plain loops over
// the definition in cuis/sampler/shard_plan.h. The same inputs give the same
// records, indices, weights, counts and statuses as the CUDA path.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cuis/error.h"
#include "cuis/sharded.h"

namespace cuis {
namespace ref {

// Doubles of host work space a step keeps from shard_sample to shard_rescale
// (the raw biased weights: shard_capacity() of them).
size_t shard_work_doubles(const ShardInfo& info, int64_t num_draws);

// cuis::shard_record() on the host: args hold host pointers; opts.rng and
// opts.mean_loss are used (d_rng and d_mean_loss are ignored).
Error shard_record(const ShardArgs& args, const ShardInfo& info, const SampleOptions& opts, ShardRecord* record);

// cuis::shard_sample() on the host, with the R gathered records (rank order).
// terms may be null unless the weighting is biased; work holds
// shard_work_doubles() doubles (may be null unless biased).
Error shard_sample(const ShardArgs& args, const ShardInfo& info, const SampleOptions& opts,
                   const ShardRecord* records, ShardTerms* terms, double* work);

// cuis::shard_rescale() on the host, with the R gathered terms and the work
// space shard_sample filled; reads *args.status and *args.count.
Error shard_rescale(const ShardArgs& args, const ShardInfo& info, const SampleOptions& opts,
                    const ShardTerms* all_terms, const double* work);

}  // namespace ref
}  // namespace cuis
