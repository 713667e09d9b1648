// The shared host/device helpers: Philox known-answer vectors, 128-bit
// arithmetic, and the portable math the transform is built from.
#include <gtest/gtest.h>

#include <cmath>
#include <algorithm>
#include <random>
#include <vector>

#include "cuis/sampler/distribution.h"
#include "cuis/sampler/kary_search.h"
#include "cuis/core/philox.h"

namespace {

using cuis::u128;
using cuis::detail::Philox4;

// Known-answer vectors of Random123's kat_vectors for philox4x32_10.
TEST(Philox, KnownAnswers) {
  const Philox4 zero = cuis::detail::philox4x32_10(Philox4{{0, 0, 0, 0}}, 0, 0);
  EXPECT_EQ(zero.v[0], 0x6627e8d5u);
  EXPECT_EQ(zero.v[1], 0xe169c58du);
  EXPECT_EQ(zero.v[2], 0xbc57ac4cu);
  EXPECT_EQ(zero.v[3], 0x9b00dbd8u);
  const Philox4 ones = cuis::detail::philox4x32_10(
      Philox4{{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}}, 0xffffffffu, 0xffffffffu);
  EXPECT_EQ(ones.v[0], 0x408f276du);
  EXPECT_EQ(ones.v[1], 0x41c83b0eu);
  EXPECT_EQ(ones.v[2], 0xa20bc7c6u);
  EXPECT_EQ(ones.v[3], 0x6d5451fdu);
  const Philox4 pi = cuis::detail::philox4x32_10(
      Philox4{{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}}, 0xa4093822u, 0x299f31d0u);
  EXPECT_EQ(pi.v[0], 0xd16cfe09u);
  EXPECT_EQ(pi.v[1], 0x94fdccebu);
  EXPECT_EQ(pi.v[2], 0x5001e420u);
  EXPECT_EQ(pi.v[3], 0x24126ea1u);
}

// Schoolbook 256-bit product of 32-bit limbs, the independent check for mulhi128.
u128 mulhi_schoolbook(u128 a, u128 b) {
  uint32_t x[4], y[4];
  for (int i = 0; i < 4; ++i) {
    x[i] = static_cast<uint32_t>(a >> (32 * i));
    y[i] = static_cast<uint32_t>(b >> (32 * i));
  }
  uint64_t out[8] = {};
  for (int i = 0; i < 4; ++i) {
    uint64_t carry = 0;
    for (int j = 0; j < 4; ++j) {
      const uint64_t cur = out[i + j] + static_cast<uint64_t>(x[i]) * y[j] + carry;
      out[i + j] = cur & 0xffffffffu;
      carry = cur >> 32;
    }
    out[i + 4] += carry;
  }
  u128 hi = 0;
  for (int i = 7; i >= 4; --i) hi = (hi << 32) | out[i];
  return hi;
}

TEST(Wide, MulHiMatchesSchoolbook) {
  std::mt19937_64 g(1);
  for (int trial = 0; trial < 20000; ++trial) {
    const u128 a = (static_cast<u128>(g()) << 64) | g();
    u128 b = (static_cast<u128>(g()) << 64) | g();
    b >>= trial % 128;
    ASSERT_EQ(cuis::detail::mulhi128(a, b), mulhi_schoolbook(a, b)) << trial;
  }
  const u128 max = ~u128{0};
  EXPECT_EQ(cuis::detail::mulhi128(max, max), max - 1);
  EXPECT_EQ(cuis::detail::mulhi128(u128{1} << 127, 10), 5u);
  EXPECT_EQ(cuis::detail::mulhi128_64(max, 12345), 12344u);  // x < 2^128 maps below m
}

TEST(Wide, U128ToDouble) {
  EXPECT_EQ(cuis::detail::u128_to_double(0), 0.0);
  EXPECT_EQ(cuis::detail::u128_to_double(u128{1} << 100), std::ldexp(1.0, 100));
  EXPECT_EQ(cuis::detail::u128_to_double((u128{3} << 64) + 5), std::ldexp(3.0, 64) + 5.0);
}

TEST(PortableMath, AgreesWithLibm) {
  std::mt19937_64 g(2);
  std::uniform_real_distribution<double> e(-300.0, 300.0), a(0.0, 1.0);
  for (int i = 0; i < 20000; ++i) {
    const double x = std::pow(2.0, e(g)) * (1.0 + a(g));
    EXPECT_NEAR(cuis::detail::plog2(x), std::log2(x), 1e-13 * std::fmax(1.0, std::fabs(std::log2(x))));
    const double y = e(g) * 3.0;
    EXPECT_NEAR(cuis::detail::pexp2(y) / std::exp2(y), 1.0, 1e-13) << y;
    const double p = a(g), s = std::pow(10.0, e(g) / 10.0);
    EXPECT_NEAR(cuis::detail::ppow(s, p) / std::pow(s, p), 1.0, 1e-13);
    const double z = std::pow(10.0, e(g) / 30.0);
    EXPECT_NEAR(cuis::detail::pone_minus_exp_neg(z) / -std::expm1(-z), 1.0, 1e-13) << z;
  }
  EXPECT_EQ(cuis::detail::ppow(0.0, 0.0), 1.0);
  EXPECT_EQ(cuis::detail::ppow(0.0, 0.5), 0.0);
  EXPECT_EQ(cuis::detail::ppow(3.0, 1.0), 3.0);
  for (double x : {2.0, 1e-30, 0.7, 12345.678, 3.4e38}) EXPECT_EQ(cuis::detail::ppow(x, 0.5), std::sqrt(x)) << x;
  EXPECT_EQ(cuis::detail::pexp2(5000.0), HUGE_VAL);
  EXPECT_EQ(cuis::detail::pexp2(-5000.0), 0.0);
}

TEST(Quantize, ExactForTileMaximumAndMonotone) {
  // The tile maximum quantises to an integer in [2^52, 2^53).
  for (double t : {1e-30, 0.75, 1.0, 3.0, 1e30}) {
    const int e = cuis::detail::tile_exponent(t);
    const uint64_t q = cuis::detail::quantize(t, e);
    EXPECT_GE(q, uint64_t{1} << 52);
    EXPECT_LT(q, uint64_t{1} << 53);
    EXPECT_EQ(std::ldexp(static_cast<double>(q), e - 52), t);
  }
  EXPECT_EQ(cuis::detail::tile_exponent(0.0), cuis::detail::EXP_NONE);
  EXPECT_EQ(cuis::detail::quantize(0.0, 5), 0u);
  EXPECT_EQ(cuis::detail::tile_mass(1000, 3, 3), 1000u);
  EXPECT_EQ(cuis::detail::tile_mass(1000, 3, 5), 250u);
  EXPECT_EQ(cuis::detail::tile_mass(~uint64_t{0}, 0, 64), 0u);
}

}  // namespace

namespace {

// Runs KarySearch lane by lane, as a warp would.
int64_t kary_upper_bound(const std::vector<u128>& prefix, u128 r) {
  cuis::detail::KarySearch s(static_cast<int64_t>(prefix.size()));
  int steps = 0;
  while (!s.narrowing_done()) {
    unsigned ballot = 0;
    for (int lane = 0; lane < 32; ++lane) ballot |= (prefix[s.probe(lane)] > r ? 1u : 0u) << lane;
    s.narrow(ballot);
    if (++steps > 20) return -2;
  }
  unsigned ballot = 0;
  for (int lane = 0; lane < 32; ++lane)
    ballot |= (s.final_valid(lane) && prefix[s.final_probe(lane)] > r ? 1u : 0u) << lane;
  return s.result(ballot);
}

TEST(KarySearch, MatchesUpperBoundEverywhere) {
  std::mt19937_64 g(3);
  for (int64_t count : {1, 2, 31, 32, 33, 63, 64, 65, 1000, 1023, 1024, 1025, 32768, 100003}) {
    std::vector<u128> prefix(count);
    u128 run = 0;
    for (auto& p : prefix) p = run += (g() % 4 == 0) ? 0 : (g() % 1000);  // zero masses too
    if (prefix.back() == 0) prefix.back() = run = 1;
    // Every edge of every positive-mass entry, plus random draws.
    for (int64_t i = 0; i < count; ++i) {
      const u128 before = i ? prefix[i - 1] : 0;
      if (prefix[i] == before) continue;
      ASSERT_EQ(kary_upper_bound(prefix, before), i) << count;
      ASSERT_EQ(kary_upper_bound(prefix, prefix[i] - 1), i) << count;
    }
    for (int t = 0; t < 2000; ++t) {
      const u128 r = g() % static_cast<uint64_t>(run);
      ASSERT_EQ(kary_upper_bound(prefix, r), std::upper_bound(prefix.begin(), prefix.end(), r) - prefix.begin());
    }
  }
}

}  // namespace

namespace {

// U = 1 gives log U = 0: the key must be +0 (first), never -0 (sorted last).
TEST(Keys, LargestUniformGivesPositiveZero) {
  const u128 all_ones_low = ~uint64_t{0};
  EXPECT_EQ(cuis::detail::exponential_key_bits(all_ones_low, 2.0), 0u);
  EXPECT_EQ(cuis::detail::exponential_key_bits(all_ones_low, 0.0), 0x7ff0000000000000u);  // t = 0: +inf
  EXPECT_LT(cuis::detail::exponential_key_bits(0, 1.0), 0x7ff0000000000000u);
}

// Without adaptive smoothing an unset (NaN) mean loss must not leak in.
TEST(Transform, MeanLossIgnoredWithoutAdaptiveSmoothing) {
  EXPECT_EQ(cuis::detail::smoothing_constant(0.25f, 0.0f, std::nanf("")), 0.25);
  EXPECT_EQ(cuis::detail::smoothing_constant(0.25f, 0.5f, 1.0f), 0.75);
}

}  // namespace
