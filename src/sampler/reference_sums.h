// Internal: the CPU reference's fixed-order sum, shared by the one-GPU and the
// sharded reference samplers.
#pragma once

#include <vector>

namespace cuis {
namespace ref {

// The sum the device's finishing kernel computes: detail::REDUCE_THREADS
// strided partial sums, then a halving tree.
double fixed_order_sum(const std::vector<double>& terms);

}  // namespace ref
}  // namespace cuis
