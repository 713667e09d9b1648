// The sampler's arguments (sample_args.h).
#include "sample_args.h"

#include <string>

#include "errors.h"

namespace cuis_python {

cuis::SampleOptions make_options(bool replacement, int weighting, float k, float smooth, float adaptive_smooth,
                                 float mean_loss, float power, uint64_t seed, uint64_t offset) {
  cuis::SampleOptions o;
  o.replacement = replacement;
  if (weighting < 0 || weighting > 2) bad_argument("weighting code " + std::to_string(weighting) + " is not 0, 1 or 2");
  o.weighting = static_cast<cuis::Weighting>(weighting);
  o.k = k;
  o.smooth = smooth;
  o.adaptive_smooth = adaptive_smooth;
  o.mean_loss = mean_loss;
  o.power = power;
  o.rng = cuis::RngState{seed, offset};
  return o;
}

void check_sample_args(int64_t n, int64_t num_draws, const cuis::SampleOptions& o) {
  if (n <= 0) raise_error(cuis::Error::empty_input, "n is " + std::to_string(n) + "; need at least one score");
  if (num_draws <= 0)
    raise_error(cuis::Error::empty_input, "num_draws is " + std::to_string(num_draws) + "; need at least one");
  if (n > MAX_N) raise_error(cuis::Error::too_many_draws, "n " + std::to_string(n) + " exceeds 2^40");
  if (num_draws > MAX_DRAWS)
    raise_error(cuis::Error::too_many_draws, "num_draws " + std::to_string(num_draws) + " exceeds 2^31 - 1");
  if (!o.replacement && num_draws > n)
    raise_error(cuis::Error::too_many_draws,
                "num_draws " + std::to_string(num_draws) + " exceeds n " + std::to_string(n) + " without replacement");
  check(cuis::validate_options(o));
}

}  // namespace cuis_python
