// The CUDA training engine's own kernels, run around the sampler and the
// networks in every step: they merge each stage's status into the run's first
// error, compute tau and the importance-sampling decision, choose the batch,
// build the loss predictor's features and update the loss histories. All of
// the loop's state is LoopDevice (kernels/train/loop_state.h), in device
// memory, so that a captured step replays without the host. Included by
// src/train/cuda_trainer.cu only.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "cuis/sampler.h"
#include "cuis/train/predictor_features.h"
#include "cuis/trainer.h"
#include "kernels/train/loop_state.h"
#include "train/trainer_common.h"

namespace cuis {
namespace kernels {

constexpr int LOOP_THREADS = 256;

// Copies a stage's status into the run's first error (once), and marks the
// loop failed. Called by one thread of the loop kernels that follow a stage.
__device__ inline void merge_status(const DeviceStatus* stage, DeviceStatus* first, LoopDevice* loop) {
  if (stage->code == Error::success || loop->failed) return;
  *first = *stage;
  loop->failed = 1;
}

// After scoring (whose status it merges, when given): tau of the candidate
// scores, its running mean, and whether this step samples by importance.
__global__ void tau_kernel(const float* scores, int64_t p, const DeviceStatus* score_status, DeviceStatus* first,
                           LoopDevice* loop, int64_t warmup, float tau_th) {
  __shared__ double s1[LOOP_THREADS], s2[LOOP_THREADS];
  if (threadIdx.x == 0 && score_status) merge_status(score_status, first, loop);
  __syncthreads();
  if (loop->failed) return;
  double a = 0.0, b = 0.0;
  for (int64_t i = threadIdx.x; i < p; i += LOOP_THREADS) {
    a += scores[i];
    b += static_cast<double>(scores[i]) * scores[i];
  }
  s1[threadIdx.x] = a;
  s2[threadIdx.x] = b;
  __syncthreads();
  for (int stride = LOOP_THREADS / 2; stride > 0; stride /= 2) {
    if (static_cast<int>(threadIdx.x) < stride) {
      s1[threadIdx.x] += s1[threadIdx.x + stride];
      s2[threadIdx.x] += s2[threadIdx.x + stride];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    const double tau = detail::tau_from_sums(s1[0], s2[0], static_cast<double>(p));
    loop->tau = loop->tau_seen ? 0.9 * loop->tau + 0.1 * tau : tau;
    loop->tau_seen = 1;
    loop->importance = static_cast<int64_t>(loop->step) >= warmup && (tau_th <= 0.0f || loop->tau > tau_th);
  }
}

// Without importance sampling this step (warm-up, or tau below the threshold),
// the batch is the step's first uniform draws, weight 1.
__global__ void choose_kernel(const int64_t* uniform, int64_t draws, int64_t* idx, float* w, int64_t b,
                              const LoopDevice* loop) {
  if (loop->importance) return;
  for (int64_t j = static_cast<int64_t>(blockIdx.x) * LOOP_THREADS + threadIdx.x; j < b;
       j += static_cast<int64_t>(gridDim.x) * LOOP_THREADS) {
    idx[j] = uniform[j % draws];
    w[j] = 1.0f;
  }
}

// After the training step: merges the sampler's status (when this step's batch
// came from it) and the training status, in that order; then the batch's mean
// loss, the running mean, the step count and the next step's RNG offsets.
__global__ void batch_mean_kernel(const float* loss, int64_t b, int64_t draws, const DeviceStatus* sample_status,
                                  const DeviceStatus* train_status, DeviceStatus* first, LoopDevice* loop) {
  __shared__ double s[LOOP_THREADS];
  if (threadIdx.x == 0) {
    if (sample_status && loop->importance) merge_status(sample_status, first, loop);
    merge_status(train_status, first, loop);
  }
  __syncthreads();
  if (loop->failed) return;
  double a = 0.0;
  for (int64_t i = threadIdx.x; i < b; i += LOOP_THREADS) a += loss[i];
  s[threadIdx.x] = a;
  __syncthreads();
  for (int stride = LOOP_THREADS / 2; stride > 0; stride /= 2) {
    if (static_cast<int>(threadIdx.x) < stride) s[threadIdx.x] += s[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    const double mean = s[0] / static_cast<double>(b);
    loop->mean_loss = loop->step == 0 ? mean : 0.9 * loop->mean_loss + 0.1 * mean;
    loop->mean_loss_f = static_cast<float>(loop->mean_loss);
    loop->batch_loss = mean;
    ++loop->step;
    loop->candidates.offset = loop->step * static_cast<uint64_t>(draws);
    loop->draws.offset = loop->step * static_cast<uint64_t>(b);
  }
}

// Rows outside [0, n) (a failed draw's -1) give NaN features, which the
// predictor's own checks report; nothing is read out of bounds. With `last`
// (the batch's features), also records in last[r] the last batch position
// holding row r, for history_kernel.
__global__ void features_kernel(const int64_t* rows, int64_t count, int64_t n, const float* history,
                                const int32_t* seen, const int32_t* labels, int32_t h, int32_t f, float* out,
                                int32_t* last) {
  const int64_t total = count * f;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * LOOP_THREADS + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * LOOP_THREADS) {
    const int64_t j = e / f, r = rows[j];
    const bool valid = r >= 0 && r < n;
    const int32_t k = static_cast<int32_t>(e - j * f);
    out[e] = valid ? detail::predictor_feature(history + r * h, seen[r], labels[r], h, k) : NAN;
    if (last && valid && k == 0) atomicMax(last + r, static_cast<int32_t>(j));
  }
}

// The predictor's outputs as scores: exp(prediction) in log space, else a
// negative prediction counts as (almost) zero; a non-finite one is left for
// the sampler to report.
__global__ void clamp_kernel(const float* pred, int64_t n, bool log_space, float* scores) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * LOOP_THREADS + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * LOOP_THREADS) {
    const float x = pred[i];
    scores[i] = !isfinite(x) ? x : log_space ? expf(fminf(fmaxf(x, -30.0f), 30.0f)) : fmaxf(x, 0.0f) + 1e-6f;
  }
}

// The predictor's targets: the batch's losses as it sees them.
__global__ void target_kernel(const float* loss, int64_t b, bool log_space, float* target) {
  for (int64_t j = static_cast<int64_t>(blockIdx.x) * LOOP_THREADS + threadIdx.x; j < b;
       j += static_cast<int64_t>(gridDim.x) * LOOP_THREADS)
    target[j] = detail::predictor_input(loss[j], log_space);
}

// The cache sampler's scores: each candidate's last observed loss; a sample
// not seen yet scores the running mean batch loss (1 before the first step).
__global__ void cache_scores_kernel(const int64_t* rows, int64_t count, const float* history, const int32_t* seen,
                                    int32_t h, const LoopDevice* loop, float* scores) {
  const float unseen = loop->step > 0 ? loop->mean_loss_f : 1.0f;
  for (int64_t j = static_cast<int64_t>(blockIdx.x) * LOOP_THREADS + threadIdx.x; j < count;
       j += static_cast<int64_t>(gridDim.x) * LOOP_THREADS) {
    const int64_t r = rows[j];
    scores[j] = seen[r] > 0 ? history[r * h + h - 1] : unseen;
  }
}

// The cache sampler's part of features_kernel: last[r], the last batch
// position holding row r, for history_kernel.
__global__ void last_position_kernel(const int64_t* rows, int64_t count, int64_t n, int32_t* last) {
  for (int64_t j = static_cast<int64_t>(blockIdx.x) * LOOP_THREADS + threadIdx.x; j < count;
       j += static_cast<int64_t>(gridDim.x) * LOOP_THREADS)
    if (rows[j] >= 0 && rows[j] < n) atomicMax(last + rows[j], static_cast<int32_t>(j));
}

// After the predictor's step (whose status it merges): the new losses into the
// histories; a row drawn twice takes its last occurrence, the position that
// features_kernel left in last[r], which goes back to -1 here. Every thread
// reads the predictor's status itself, so no thread depends on the merge.
// The histories hold losses as the predictor sees them (log_space) or raw
// (the cache); for the cache, predictor_status is the training step's.
__global__ void history_kernel(const int64_t* idx, int64_t b, int64_t n, const float* loss, bool log_space,
                               float* history, int32_t* seen, int32_t h, int32_t* last,
                               const DeviceStatus* predictor_status, DeviceStatus* first, LoopDevice* loop) {
  if (blockIdx.x == 0 && threadIdx.x == 0) merge_status(predictor_status, first, loop);
  const bool failed = loop->failed || predictor_status->code != Error::success;
  for (int64_t j = static_cast<int64_t>(blockIdx.x) * LOOP_THREADS + threadIdx.x; j < b;
       j += static_cast<int64_t>(gridDim.x) * LOOP_THREADS) {
    const int64_t r = idx[j];
    if (r < 0 || r >= n || last[r] != static_cast<int32_t>(j)) continue;
    last[r] = -1;  // the other positions of row r compare against their own j, never -1
    if (failed) continue;
    float* hist = history + r * h;
    for (int32_t i = 0; i + 1 < h; ++i) hist[i] = hist[i + 1];
    hist[h - 1] = detail::predictor_input(loss[j], log_space);
    seen[r] = min(seen[r] + 1, h);
  }
}

}  // namespace kernels
}  // namespace cuis
