// Internal: size limits and the size check shared by both paths.
#pragma once

#include <cstdint>

#include "cuis/sampler.h"

namespace cuis {
namespace detail {

constexpr int64_t MAX_N = int64_t{1} << 40;
constexpr int64_t MAX_DRAWS = (int64_t{1} << 31) - 1;

// n and num_draws in range, then validate_options().
Error validate_sizes(int64_t n, int64_t num_draws, const SampleOptions& opts);

}  // namespace detail
}  // namespace cuis
