// The importance sampler: draw indices in proportion to smoothed scores and
// return their importance weights, entirely on the device.
//
// Two-phase, CUB style: sample_workspace_size() says how many bytes of device
// workspace a problem needs; sample() runs on a caller-owned workspace. A call
// is stream-ordered, never synchronises the host, never allocates, and can be
// captured in a CUDA graph (put the RNG state in device memory with
// SampleOptions::d_rng so that each replay draws afresh).
//
//   size_t bytes = 0;
//   cuis::sample_workspace_size(n, b, opts, &bytes);
//   cudaMalloc(&d_ws, bytes);                                   // once
//   cuis::SampleArgs a{d_scores, n, nullptr, b, d_idx, d_w, d_status};
//   cuis::sample(a, opts, d_ws, bytes, stream);                 // every step
//   cuis::DeviceStatus st; cuis::read_status(d_status, stream, &st);  // when you choose
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "cuis/error.h"

namespace cuis {

// How draws are weighted (docs/METHOD.md section 4).
enum class Weighting : int32_t {
  none,      // w = 1
  unbiased,  // w = 1 / (n p_i); without replacement B / (n pi_i)
  biased,    // w = (unbiased)^k, rescaled per batch so that
             // sum_batch w_i s_i = sum_batch unbiased_i s_i
};

// Generator state: draw j of a call uses Philox counter offset + j.
struct RngState {
  uint64_t seed = 0;
  uint64_t offset = 0;
};

struct SampleOptions {
  bool replacement = true;
  // t(s) = s^power + smooth + adaptive_smooth * mean_loss  (docs/METHOD.md section 2)
  float power = 1.0f;             // in [0, 1]
  float smooth = 0.0f;            // >= 0
  float adaptive_smooth = 0.0f;   // >= 0
  float mean_loss = 0.0f;         // used when d_mean_loss is null
  const float* d_mean_loss = nullptr;  // device: running mean loss, read on device
  Weighting weighting = Weighting::unbiased;
  float k = 0.5f;                 // exponent of Weighting::biased, in (-inf, 1]; where
                                  // |k| log2(1/(n p)) leaves the double range the
                                  // weights are not meaningful
  RngState rng;                   // used when d_rng is null
  RngState* d_rng = nullptr;      // device: read on device; see advance_rng
  bool advance_rng = true;        // with d_rng: add counters_consumed() to d_rng->offset
};

// One sampling problem. Device pointers unless stated.
struct SampleArgs {
  const float* scores = nullptr;          // n importance scores (>= 0, finite)
  int64_t n = 0;                          // 1 .. 2^40
  const int64_t* candidate_ids = nullptr; // optional: index of each score in the dataset
  int64_t num_draws = 0;                  // B: 1 .. 2^31 - 1 (<= n without replacement)
  int64_t* indices = nullptr;             // out: B indices (candidate_ids[pos] when given)
  float* weights = nullptr;               // out: B weights (may be null)
  DeviceStatus* status = nullptr;         // out: written by the call's last kernel
};

// Device workspace needed for a problem of this size and these options, for
// the current device. Enqueues nothing and does not synchronise, but CUB's size
// queries read the device's attributes (so it creates the CUDA context, and
// returns no_device where there is no GPU).
Error sample_workspace_size(int64_t n, int64_t num_draws, const SampleOptions& opts, size_t* bytes);

// Draw args.num_draws indices (with or without replacement) and their weights.
// Stream-ordered and asynchronous: returns after enqueuing; no host sync, no
// allocation, capturable. Argument errors are returned at once and nothing is
// launched; score errors are found on device and reported in *args.status.
// Determinism: indices and weights are bit-identical for the same inputs,
// options and RNG state, on any GPU and launch configuration, and equal to
// cuis::ref::sample() on the host. Without replacement the output is ordered by
// key (the most likely items first). Workspace: 256-byte aligned, at least
// sample_workspace_size() bytes; it must not be shared by concurrent calls.
Error sample(const SampleArgs& args, const SampleOptions& opts, void* d_workspace,
             size_t workspace_bytes, cudaStream_t stream);

// Counters a call consumes from the RNG offset: num_draws with replacement, n
// without. Advance the offset by this between calls for fresh draws.
uint64_t counters_consumed(int64_t n, int64_t num_draws, const SampleOptions& opts);

// Copies a DeviceStatus to the host and waits for the stream (a host sync:
// call it when you want to know, not in the hot loop).
Error read_status(const DeviceStatus* d_status, cudaStream_t stream, DeviceStatus* out);

// count indices drawn uniformly (with replacement) from [0, n): index j uses
// Philox counter offset + j of the uniform stream. The same (seed, offset)
// gives the same indices on host and device. With d_rng the state is read on
// device and, with advance, its offset advanced by count. Stream-ordered, no
// sync, no allocation, capturable.
Error uniform_indices(int64_t* d_out, int64_t count, int64_t n, RngState rng, RngState* d_rng, bool advance,
                      cudaStream_t stream);

// Argument checks shared by the GPU path and the CPU reference.
Error validate_options(const SampleOptions& opts);

}  // namespace cuis
