// cuis._cuis: sharded sampling across data-parallel ranks (cuis/sharded.h).
// Each step is three calls on this rank with the caller's collectives in
// between: shard_record -> all-gather of the R records -> shard_sample ->
// [biased weighting: all-gather of the R terms -> shard_rescale]. The CPU
// functions run the CPU reference (cuis::ref::shard_*, cuis/sampler/
// shard_reference.h) with the GIL released; the CUDA functions only enqueue on
// the caller's stream. Records travel as int64 arrays of SHARD_RECORD_WORDS
// (10) elements per rank (the 80 bytes of a cuis::ShardRecord), terms as
// float64 arrays of SHARD_TERMS_DOUBLES (2) per rank (a cuis::ShardTerms).
//
// `info` is the cuis::ShardInfo as a tuple (mode, rank, ranks, num_samples,
// capacity); the options are those of cuis::SampleOptions (with replacement
// always). Data errors (bad scores on any rank, ranks that disagree, global
// draws beyond the capacity) never raise here: shard_sample writes them to
// `status`, identical on every rank, so that every rank makes the same
// collective calls; the Python layer raises them afterwards.
#pragma once

#include "arrays.h"

#include <cuis/sharded.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <tuple>

namespace cuis_python {

constexpr int64_t SHARD_RECORD_WORDS = sizeof(cuis::ShardRecord) / sizeof(int64_t);
constexpr int64_t SHARD_TERMS_DOUBLES = sizeof(cuis::ShardTerms) / sizeof(double);

// (mode, rank, ranks, num_samples, capacity)
using ShardInfoTuple = std::tuple<int, int, int, int64_t, int64_t>;

cuis::ShardInfo make_shard_info(const ShardInfoTuple& t);

// cuis::validate_shard() (raises its error), made before the Python layer
// allocates outputs; returns (capacity, counters consumed per step).
std::tuple<int64_t, uint64_t> check_shard_args(const ShardInfoTuple& info, int64_t n, int64_t num_draws,
                                               int weighting, float k, float smooth, float adaptive_smooth,
                                               float power);

void shard_record_cpu(const Array& scores, std::optional<Array> shard_ids, int64_t shard_offset, int64_t num_draws,
                      OutArray record, std::optional<OutArray> rng, std::optional<Array> mean_loss_array,
                      const ShardInfoTuple& info, int weighting, float k, float smooth, float adaptive_smooth,
                      float mean_loss, float power, uint64_t seed, uint64_t offset);

void shard_sample_cpu(const Array& scores, std::optional<Array> shard_ids, int64_t shard_offset, int64_t num_draws,
                      const Array& records, OutArray indices, OutArray weights, OutArray count, OutArray status,
                      std::optional<OutArray> terms, std::optional<OutArray> work, std::optional<OutArray> rng,
                      std::optional<Array> mean_loss_array, bool advance_rng, const ShardInfoTuple& info,
                      int weighting, float k, float smooth, float adaptive_smooth, float mean_loss, float power,
                      uint64_t seed, uint64_t offset);

void shard_rescale_cpu(const Array& scores, std::optional<Array> shard_ids, int64_t shard_offset, int64_t num_draws,
                       const Array& all_terms, OutArray indices, OutArray weights, OutArray count, OutArray status,
                       const Array& work, const ShardInfoTuple& info, int weighting, float k, float smooth,
                       float adaptive_smooth, float power);

size_t shard_workspace_size(int64_t n, int64_t num_draws, int device, const ShardInfoTuple& info, int weighting,
                            float k, float smooth, float adaptive_smooth, float power);

void shard_record_cuda(const Array& scores, std::optional<Array> shard_ids, int64_t shard_offset, int64_t num_draws,
                       OutArray record, OutArray workspace, std::optional<OutArray> rng,
                       std::optional<Array> mean_loss_array, const ShardInfoTuple& info, int weighting, float k,
                       float smooth, float adaptive_smooth, float mean_loss, float power, uint64_t seed,
                       uint64_t offset, uintptr_t stream);

void shard_sample_cuda(const Array& scores, std::optional<Array> shard_ids, int64_t shard_offset, int64_t num_draws,
                       const Array& records, OutArray indices, OutArray weights, OutArray count, OutArray status,
                       std::optional<OutArray> terms, OutArray workspace, std::optional<OutArray> rng,
                       std::optional<Array> mean_loss_array, bool advance_rng, const ShardInfoTuple& info,
                       int weighting, float k, float smooth, float adaptive_smooth, float mean_loss, float power,
                       uint64_t seed, uint64_t offset, uintptr_t stream);

void shard_rescale_cuda(const Array& scores, std::optional<Array> shard_ids, int64_t shard_offset, int64_t num_draws,
                        const Array& all_terms, OutArray indices, OutArray weights, OutArray count, OutArray status,
                        OutArray workspace, const ShardInfoTuple& info, int weighting, float k, float smooth,
                        float adaptive_smooth, float power, uintptr_t stream);

}  // namespace cuis_python
