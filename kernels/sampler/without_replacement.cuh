// Sampling without replacement (Efraimidis-Spirakis): every item gets the key
// E_i / t_i with E_i ~ Exp(1) from its own Philox counter; a radix sort of the
// (key, index) pairs (done by the host launcher with CUB) orders them; the B
// smallest are the sample and the (B+1)-th key is the threshold tau of the
// inclusion probabilities pi_i = 1 - exp(-t_i tau).
#pragma once

#include <cub/block/block_reduce.cuh>
#include <cuda/functional>

#include "common.cuh"

namespace cuis {
namespace kernels {

constexpr int KEY_THREADS = 256;

struct KeyParams {
  const float* scores;
  int64_t n;
  TransformArgs transform;
  RngArgs rng;
  uint64_t* keys;   // [n] key bits
  int64_t* values;  // [n] item index
  WorkHeader* header;
};

__global__ void __launch_bounds__(KEY_THREADS) keys_kernel(KeyParams p) {
  using ReduceU = cub::BlockReduce<unsigned long long, KEY_THREADS>;
  __shared__ typename ReduceU::TempStorage tmp;
  const detail::TransformParams tp = load_transform(p.transform);
  const RngState st = load_rng(p.rng);
  Validation val;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * KEY_THREADS + threadIdx.x; i < p.n;
       i += static_cast<int64_t>(gridDim.x) * KEY_THREADS) {
    const float s = p.scores[i];
    const double t = detail::transform_score(s, tp);
    val.see(s, t, i);
    p.keys[i] = detail::exponential_key_bits(detail::random128(st.seed, st.offset + i, detail::STREAM_KEY), t);
    p.values[i] = i;
  }
  const unsigned long long bad = ReduceU(tmp).Reduce(val.bad_enc, ::cuda::maximum<>{});
  __syncthreads();
  const unsigned long long positive = ReduceU(tmp).Sum(val.positive);
  if (threadIdx.x == 0) {
    if (bad != BAD_NONE) atomicMax(&p.header->bad_enc, bad);
    if (positive) atomicAdd(&p.header->positive_count, positive);
  }
}

struct SelectParams {
  const float* scores;
  int64_t n;
  const int64_t* candidate_ids;
  int64_t num_draws;
  const uint64_t* sorted_keys;
  const int64_t* sorted_values;
  const WorkHeader* header;
  TransformArgs transform;
  Weighting weighting;
  float k;
  int64_t* indices;
  float* weights;
  double* terms;  // as DrawParams::terms
};

__global__ void __launch_bounds__(KEY_THREADS) select_kernel(SelectParams p) {
  const bool rejected = input_rejected(p.header, p.transform) ||
                        p.header->positive_count < static_cast<unsigned long long>(p.num_draws);
  const detail::TransformParams tp = load_transform(p.transform);
  const double tau = p.num_draws < p.n ? detail::key_from_bits(p.sorted_keys[p.num_draws]) : HUGE_VAL;
  for (int64_t j = static_cast<int64_t>(blockIdx.x) * KEY_THREADS + threadIdx.x; j < p.num_draws;
       j += static_cast<int64_t>(gridDim.x) * KEY_THREADS) {
    if (rejected) {
      p.indices[j] = -1;
      if (p.weights) p.weights[j] = 0.0f;
      continue;
    }
    const int64_t item = p.sorted_values[j];
    p.indices[j] = p.candidate_ids ? p.candidate_ids[item] : item;
    if (!p.weights) continue;
    const double t = detail::transform_score(p.scores[item], tp);
    write_weight(p.weights, p.terms, p.num_draws, j, detail::weight_without_replacement(t, tau, p.num_draws, p.n),
                 p.weighting, p.k);
  }
}

}  // namespace kernels
}  // namespace cuis
