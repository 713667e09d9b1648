// Importance sampling across data-parallel ranks (docs/METHOD.md section 10).
//
// Each of R ranks holds a shard of the N training samples and the scores of
// its shard only. cuis does not talk to other ranks itself: a step is split
// into calls on this rank with the caller's collectives in between, so any
// collective library fits (NCCL, torch.distributed, MPI), all on the stream.
//
//   shard_record(a, info, opts, d_mine, ws, bytes, s);      // 1. this shard's statistics (80 bytes)
//   ncclAllGather(d_mine, d_all, sizeof(ShardRecord), ncclUint8, comm, s);
//   shard_sample(a, info, opts, d_all, d_terms, ws, bytes, s);  // 2. this rank's draws
//   // biased weighting only:
//   ncclAllGather(d_terms, d_all_terms, sizeof(ShardTerms), ncclUint8, comm, s);
//   shard_rescale(a, info, opts, d_all_terms, ws, bytes, s);   // 3. the per-batch rescaling
//
// Two modes (ShardMode). stratified: rank r draws its num_draws = b samples
// from its own shard's distribution, weight R W_r / (N t_i) (W_r: the shard's
// total of transformed scores), the one-GPU weight when shards are equal.
// global: the R b draws of the step come from the one distribution over all N
// samples; every rank places each draw in a shard with a shared random stream
// and resolves the draws that land in its own; their number varies, so the
// outputs have `capacity` slots, padded with index -1 and weight 0, and a
// device count. Weights are the one-GPU weights 1 / (N p_i) (biased: rescaled
// over the global batch). With DDP, which averages gradients over ranks, each
// rank sums weight * loss over its draws and divides by b.
//
// Every rank passes the same options and RNG state. Draw j of rank r uses
// Philox counter offset + r b + j (stratified) or the global draw's
// counter offset + j (global); a call consumes R b counters in both modes
// (shard_counters_consumed). With R = 1, global mode returns exactly what
// cuis::sample() returns.
//
// Errors: argument errors are returned at once. A bad score on any rank, ranks
// that disagree (seed, offset, options, N, R, b, the mean loss of adaptive
// smoothing, which must be the same global value on every rank, or shard sizes
// that do not add up to N), a zero total, or global draws beyond a rank's capacity are found
// on device from the gathered records, so every rank writes the same status
// (DeviceStatus::rank names the rank concerned) and no rank is left waiting in
// a collective. Outputs are then -1 / 0 and the count 0.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "cuis/error.h"
#include "cuis/sampler.h"

namespace cuis {

enum class ShardMode : int32_t { stratified = 0, global = 1 };

constexpr int32_t MAX_RANKS = 1 << 16;

struct ShardInfo {
  ShardMode mode = ShardMode::stratified;
  int32_t rank = 0;          // this rank: 0 .. ranks - 1
  int32_t ranks = 1;         // R: 1 .. MAX_RANKS
  int64_t num_samples = 0;   // N: all shards together (1 .. 2^40)
  int64_t capacity = 0;      // output slots; 0 means num_draws (stratified) or ranks * num_draws (global)
};

// This rank's part of one sharded draw. Device pointers unless stated.
struct ShardArgs {
  const float* scores = nullptr;       // n scores of this shard (>= 0, finite); may be null when n == 0
  int64_t n = 0;                       // n_r: 0 .. 2^40 (an empty shard draws nothing)
  const int64_t* global_ids = nullptr; // optional: each score's global index; else shard_offset + position
  int64_t shard_offset = 0;            // global index of score 0 when global_ids is null
  int64_t num_draws = 0;               // b: draws per rank (the global batch is R b), 1 .. 2^31 - 1
  int64_t* indices = nullptr;          // out: capacity global indices (-1 in unused slots)
  float* weights = nullptr;            // out: capacity weights (0 in unused slots; may be null)
  int64_t* count = nullptr;            // out: 1 value, the number of filled slots
  DeviceStatus* status = nullptr;      // out: identical on every rank
};

// What one rank contributes to the exchange; gather all R of them in rank
// order (80 bytes each, plain data, the same layout on every rank).
struct ShardRecord {
  uint64_t total_lo, total_hi;  // Q_r: the shard's mass on its own scale (128 bits)
  int64_t n;                    // n_r
  uint64_t seed, offset;        // the RNG state this rank draws with
  uint64_t options_hash;        // mode, R, N, b, capacity and the options
  double smoothing;             // c + c_adaptive * mean_loss as used
  int64_t bad_index;            // global index of the first bad score, else -1
  int32_t max_exp;              // E_r: the largest tile exponent (detail::EXP_NONE when all zero)
  int32_t code;                 // success, or this shard's score / mean-loss error
  int32_t rank;                 // the rank that wrote it
  float bad_value;              // that score (or the mean loss)
};
static_assert(sizeof(ShardRecord) == 80, "ShardRecord is exchanged as bytes");

// One rank's sums for the biased rescaling over the global batch (16 bytes;
// gather all R in rank order).
struct ShardTerms {
  double unbiased;  // sum over this rank's draws of unbiased weight * p_i
  double biased;    // sum over this rank's draws of raw biased weight * p_i
};
static_assert(sizeof(ShardTerms) == 16, "ShardTerms is exchanged as bytes");

// Checks what can be checked without data: with replacement only, sizes,
// rank < ranks, capacity (>= num_draws in stratified mode, >= 1 in global).
Error validate_shard(const ShardInfo& info, int64_t n, int64_t num_draws, const SampleOptions& opts);

// The slots this rank's outputs must have.
int64_t shard_capacity(const ShardInfo& info, int64_t num_draws);

// R b: counters one step consumes from the RNG offset (d_rng is advanced by
// this in shard_sample).
uint64_t shard_counters_consumed(const ShardInfo& info, int64_t num_draws);

// Device workspace for the three calls of a step (one workspace, kept from
// shard_record to shard_rescale; not shared by concurrent steps).
Error shard_workspace_size(const ShardInfo& info, int64_t n, int64_t num_draws, const SampleOptions& opts,
                           size_t* bytes);

// 1. This shard's record into d_record (device, one ShardRecord).
Error shard_record(const ShardArgs& args, const ShardInfo& info, const SampleOptions& opts, ShardRecord* d_record,
                   void* d_workspace, size_t workspace_bytes, cudaStream_t stream);

// 2. With all R records (device, rank order): this rank's draws, weights
// (final unless biased), count and status; for biased weighting this rank's
// sums into d_terms (device, one ShardTerms; may be null otherwise).
Error shard_sample(const ShardArgs& args, const ShardInfo& info, const SampleOptions& opts,
                   const ShardRecord* d_records, ShardTerms* d_terms, void* d_workspace, size_t workspace_bytes,
                   cudaStream_t stream);

// 3. Biased weighting only, with all R terms (device, rank order): the final
// weights. Returns invalid_argument for other weightings.
Error shard_rescale(const ShardArgs& args, const ShardInfo& info, const SampleOptions& opts,
                    const ShardTerms* d_all_terms, void* d_workspace, size_t workspace_bytes, cudaStream_t stream);

}  // namespace cuis
