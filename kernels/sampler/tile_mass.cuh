// Pass 2 of sampling with replacement, the scan's input: the tile masses M_j,
// read from the tile pass's results and the header's max exponent, summed in
// 128 bits by a CUB scan into the inclusive tile prefix.
#pragma once

#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/transform_iterator.h>

#include "common.cuh"

namespace cuis {
namespace kernels {

// M_j from tile_sum, tile_exp and the header's max exponent.
struct TileMassOp {
  const uint64_t* tile_sum;
  const int* tile_exp;
  const WorkHeader* header;
  __device__ u128 operator()(int64_t j) const {
    const int enc = header->max_exp_enc;
    if (enc == 0) return 0;
    return detail::tile_mass(tile_sum[j], tile_exp[j], enc - EXP_BIAS);
  }
};

struct Sum128 {
  __device__ u128 operator()(u128 a, u128 b) const { return a + b; }
};

using MassIterator = thrust::transform_iterator<TileMassOp, thrust::counting_iterator<int64_t>, u128>;

}  // namespace kernels
}  // namespace cuis
