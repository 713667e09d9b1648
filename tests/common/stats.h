// Statistics for the sampler tests: chi-square goodness of fit with merged
// low-mass bins, and the regularised incomplete gamma behind its p-value.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

namespace cuis_test {

// Q(a, x), the upper regularised incomplete gamma function (Numerical Recipes
// style: series below a + 1, Lentz continued fraction above).
inline double gamma_q(double a, double x) {
  if (x <= 0.0) return 1.0;
  const double log_prefix = -x + a * std::log(x) - std::lgamma(a);
  if (x < a + 1.0) {
    double term = 1.0 / a, sum = term;
    for (int n = 1; n < 100000; ++n) {
      term *= x / (a + n);
      sum += term;
      if (std::fabs(term) < std::fabs(sum) * 1e-15) break;
    }
    return 1.0 - sum * std::exp(log_prefix);
  }
  double b = x + 1.0 - a, c = 1e300, d = 1.0 / b, h = d;
  for (int i = 1; i < 100000; ++i) {
    const double an = -i * (i - a);
    b += 2.0;
    d = an * d + b;
    if (std::fabs(d) < 1e-300) d = 1e-300;
    c = b + an / c;
    if (std::fabs(c) < 1e-300) c = 1e-300;
    d = 1.0 / d;
    const double del = d * c;
    h *= del;
    if (std::fabs(del - 1.0) < 1e-15) break;
  }
  return std::exp(log_prefix) * h;
}

// P(X >= x) for X ~ chi-square(df).
inline double chi2_sf(double x, double df) { return gamma_q(df / 2.0, x / 2.0); }

struct ChiSquare {
  double statistic = 0.0;
  int bins = 0;
  double p_value = 1.0;
  uint64_t impossible = 0;  // draws that landed on an item of probability 0
};

// Chi-square goodness of fit of counts against probabilities p (summing to 1)
// for `draws` draws. Items whose expected count is at least min_expected are
// their own bins; the others are merged, in index order, into bins of at
// least min_expected. Draws on items with p == 0 are counted as impossible.
inline ChiSquare chi_square(const std::vector<uint64_t>& counts, const std::vector<double>& p, uint64_t draws,
                            double min_expected = 100.0) {
  ChiSquare r;
  std::vector<double> obs, expct;
  double merged_obs = 0.0, merged_exp = 0.0;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == 0.0) {
      r.impossible += counts[i];
      continue;
    }
    const double e = p[i] * static_cast<double>(draws), o = static_cast<double>(counts[i]);
    if (e >= min_expected) {
      obs.push_back(o);
      expct.push_back(e);
      continue;
    }
    merged_obs += o;
    merged_exp += e;
    if (merged_exp >= min_expected) {
      obs.push_back(merged_obs);
      expct.push_back(merged_exp);
      merged_obs = merged_exp = 0.0;
    }
  }
  if (merged_exp > 0.0) {
    if (obs.empty()) {
      obs.push_back(merged_obs);
      expct.push_back(merged_exp);
    } else {  // a leftover below min_expected joins the last bin
      obs.back() += merged_obs;
      expct.back() += merged_exp;
    }
  }
  for (size_t b = 0; b < obs.size(); ++b) r.statistic += (obs[b] - expct[b]) * (obs[b] - expct[b]) / expct[b];
  r.bins = static_cast<int>(obs.size());
  r.p_value = r.bins > 1 ? chi2_sf(r.statistic, r.bins - 1) : 1.0;
  return r;
}

}  // namespace cuis_test
