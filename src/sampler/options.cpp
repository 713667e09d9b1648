// Argument checks shared by the CUDA path and the CPU reference.
#include <cmath>
#include <string>

#include "cuis/sampler.h"
#include "core/error_detail.h"
#include "sampler/size_limits.h"

namespace cuis {

Error validate_options(const SampleOptions& o) {
  using detail::set_error;
  if (!(o.power >= 0.0f && o.power <= 1.0f))
    return set_error(Error::invalid_power, "power " + std::to_string(o.power) + " is outside [0, 1]");
  if (!(o.smooth >= 0.0f && std::isfinite(o.smooth)))
    return set_error(Error::invalid_smoothing, "smooth " + std::to_string(o.smooth) + " must be finite and >= 0");
  if (!(o.adaptive_smooth >= 0.0f && std::isfinite(o.adaptive_smooth)))
    return set_error(Error::invalid_smoothing,
                     "adaptive_smooth " + std::to_string(o.adaptive_smooth) + " must be finite and >= 0");
  if (o.weighting != Weighting::none && o.weighting != Weighting::unbiased && o.weighting != Weighting::biased)
    return set_error(Error::invalid_argument,
                     "weighting " + std::to_string(static_cast<int>(o.weighting)) + " is not a Weighting");
  if (o.weighting == Weighting::biased && !(o.k <= 1.0f && std::isfinite(o.k)))
    return set_error(Error::invalid_k, "k " + std::to_string(o.k) + " must be finite and <= 1");
  return set_error(Error::success, "");
}

namespace detail {
Error validate_sizes(int64_t n, int64_t num_draws, const SampleOptions& o) {
  if (n <= 0) return set_error(Error::empty_input, "n is " + std::to_string(n) + "; need at least one score");
  if (num_draws <= 0)
    return set_error(Error::empty_input, "num_draws is " + std::to_string(num_draws) + "; need at least one");
  if (n > MAX_N) return set_error(Error::too_many_draws, "n " + std::to_string(n) + " exceeds 2^40");
  if (num_draws > MAX_DRAWS)
    return set_error(Error::too_many_draws, "num_draws " + std::to_string(num_draws) + " exceeds 2^31 - 1");
  if (!o.replacement && num_draws > n)
    return set_error(Error::too_many_draws, "num_draws " + std::to_string(num_draws) +
                                                " exceeds n " + std::to_string(n) + " without replacement");
  return validate_options(o);
}
}  // namespace detail

uint64_t counters_consumed(int64_t n, int64_t num_draws, const SampleOptions& o) {
  return static_cast<uint64_t>(o.replacement ? num_draws : n);
}

}  // namespace cuis
