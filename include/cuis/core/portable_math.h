// log2, exp2, pow and 1 - exp(-x) in double, built only from IEEE-exact
// operations (+, *, /, frexp, ldexp, floor) so that host and device return
// identical bits. Accuracy is about 1e-15 relative; bit-for-bit agreement,
// not the last ulp, is the point: the CPU reference must reproduce the GPU.
#pragma once

#include <cmath>

#include "cuis/core/hd.h"

namespace cuis {
namespace detail {

constexpr double LN2 = 0.693147180559945309417232121458176568;
constexpr double TWO_OVER_LN2 = 2.88539008177792681471984936200378427;
constexpr double SQRT_HALF = 0.707106781186547524400844362104849039;

// 1/n, correctly rounded. The series below call it in fully unrolled loops,
// so it folds to a constant and they multiply instead of divide; the value is
// the same wherever it is computed.
CUIS_HD constexpr double recip(int n) { return 1.0 / n; }

#if defined(__CUDA_ARCH__)
#define CUIS_UNROLL _Pragma("unroll")
#else
#define CUIS_UNROLL
#endif

// log2(x) for finite x > 0.
CUIS_HD double plog2(double x) {
  int k = 0;
  double m = ::frexp(x, &k);  // x = m * 2^k, m in [0.5, 1)
  if (m < SQRT_HALF) {
    m = dmul(m, 2.0);
    k -= 1;
  }
  // log(m) = 2 atanh(z), z = (m - 1) / (m + 1), |z| <= 0.1716.
  const double z = ddiv(dsub(m, 1.0), dadd(m, 1.0));
  const double z2 = dmul(z, z);
  double p = recip(25);
  CUIS_UNROLL
  for (int n = 11; n >= 0; --n) p = dadd(dmul(p, z2), recip(2 * n + 1));
  return dadd(dmul(dmul(z, p), TWO_OVER_LN2), static_cast<double>(k));
}

// exp(g) for |g| <= 0.35 by its Taylor series.
CUIS_HD double pexp_small(double g) {
  double p = 1.0;
  CUIS_UNROLL
  for (int n = 17; n >= 1; --n) p = dadd(1.0, dmul(dmul(p, g), recip(n)));
  return p;
}

// 2^y; +inf above the double range, 0 below it.
CUIS_HD double pexp2(double y) {
  if (!(y < 1024.0)) return y != y ? y : HUGE_VAL;
  if (y < -1100.0) return 0.0;
  const double n = ::floor(dadd(y, 0.5));
  const double f = dsub(y, n);  // exact, in [-0.5, 0.5]
  return ::ldexp(pexp_small(dmul(f, LN2)), static_cast<int>(n));
}

// x^a for x >= 0 with 0^0 = 1; a == 1 returns x exactly, a == 0.5 the
// correctly rounded square root (the usual power smoothing and weight
// exponent: exact, and several times faster than the log-exp path).
CUIS_HD double ppow(double x, double a) {
  if (a == 1.0) return x;
  if (a == 0.0) return 1.0;
  if (a == 0.5) return dsqrt(x);
  if (x == 0.0) return a > 0.0 ? 0.0 : HUGE_VAL;
  return pexp2(dmul(a, plog2(x)));
}

// Natural logarithm of a finite x > 0.
CUIS_HD double plog(double x) { return dmul(plog2(x), LN2); }

// 1 - exp(-x) for x >= 0, accurate for small x.
CUIS_HD double pone_minus_exp_neg(double x) {
  if (x < 0.25) {
    // -expm1(-x) = x - x^2/2! + x^3/3! - ...
    double p = 1.0;
    CUIS_UNROLL
    for (int n = 17; n >= 2; --n) p = dsub(1.0, dmul(dmul(p, x), recip(n)));
    return dmul(x, p);
  }
  return dsub(1.0, pexp2(dmul(-x, 1.44269504088896340735992468100189214)));
}

}  // namespace detail
}  // namespace cuis
