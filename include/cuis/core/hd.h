// Host/device building blocks shared bit for bit by the CUDA kernels and the
// CPU reference: the CUIS_HD qualifier, 128-bit integers, and floating-point
// operations that never contract into FMA (so host and device round alike).
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define CUIS_HD __host__ __device__ __forceinline__
#else
#define CUIS_HD inline
#endif

namespace cuis {

using u128 = unsigned __int128;

namespace detail {

// Each operation is rounded once, to nearest even, on host and device alike.
// Host code that includes this header must be built with -ffp-contract=off
// (the cuis target sets it); the device path uses the _rn intrinsics, which
// nvcc never fuses. Any other arithmetic in the sampler's device code is kept
// uncontracted by --fmad=false on its translation unit (CMakeLists.txt), and
// tests/sampler/no_fma_test.sh checks its PTX.
CUIS_HD double dmul(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}
CUIS_HD double dadd(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dadd_rn(a, b);
#else
  return a + b;
#endif
}
CUIS_HD double dsub(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dsub_rn(a, b);
#else
  return a - b;
#endif
}
CUIS_HD double ddiv(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __ddiv_rn(a, b);
#else
  return a / b;
#endif
}

// Correctly rounded square root (IEEE 754 requires it on host and device alike).
CUIS_HD double dsqrt(double a) {
#if defined(__CUDA_ARCH__)
  return __dsqrt_rn(a);
#else
  return __builtin_sqrt(a);
#endif
}

CUIS_HD uint64_t lo64(u128 x) { return static_cast<uint64_t>(x); }
CUIS_HD uint64_t hi64(u128 x) { return static_cast<uint64_t>(x >> 64); }

// Nearest double to x, rounded twice (high word, then the sum): deterministic.
CUIS_HD double u128_to_double(u128 x) {
  return dadd(dmul(static_cast<double>(hi64(x)), 18446744073709551616.0),
              static_cast<double>(lo64(x)));
}

// floor(a * b / 2^128): the high half of the 256-bit product.
CUIS_HD u128 mulhi128(u128 a, u128 b) {
  const u128 a0 = lo64(a), a1 = hi64(a), b0 = lo64(b), b1 = hi64(b);
  const u128 p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  const u128 mid = (p00 >> 64) + lo64(p01) + lo64(p10);
  return p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
}

// floor(x * m / 2^128) for a 64-bit m: a uniform x in [0, 2^128) maps to
// [0, m) with relative bias below m / 2^128 <= 2^-64.
CUIS_HD uint64_t mulhi128_64(u128 x, uint64_t m) {
  return static_cast<uint64_t>(mulhi128(x, static_cast<u128>(m)));
}

}  // namespace detail
}  // namespace cuis
