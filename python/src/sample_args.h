// The sampler's arguments as the Python layer passes them (framework-free):
// SampleOptions from plain values, and the size and option checks made before
// any output is allocated.
#pragma once

#include <cuis/sampler.h>

#include <cstdint>

namespace cuis_python {

constexpr int64_t MAX_N = int64_t{1} << 40;            // SampleArgs::n
constexpr int64_t MAX_DRAWS = (int64_t{1} << 31) - 1;  // SampleArgs::num_draws

// SampleOptions from the Python layer's arguments (weighting as its code 0, 1, 2).
cuis::SampleOptions make_options(bool replacement, int weighting, float k, float smooth, float adaptive_smooth,
                                 float mean_loss, float power, uint64_t seed, uint64_t offset);

// The checks of the library's validate_sizes() and validate_options(), made
// before the Python layer allocates outputs (so that num_draws = 2^40 is an
// exception, not a 8 TiB allocation). The library checks again.
void check_sample_args(int64_t n, int64_t num_draws, const cuis::SampleOptions& o);

}  // namespace cuis_python
