// Philox4x32-10 (Salmon et al., SC'11), the counter-based generator shared by
// the kernels and the CPU reference. A draw's bits depend only on
// (seed, counter), never on the launch configuration.
#pragma once

#include "cuis/core/hd.h"

namespace cuis {
namespace detail {

struct Philox4 {
  uint32_t v[4];
};

CUIS_HD uint32_t mulhi32(uint32_t a, uint32_t b) {
  return static_cast<uint32_t>((static_cast<uint64_t>(a) * b) >> 32);
}

// Ten rounds of Philox4x32 on counter c with key k.
CUIS_HD Philox4 philox4x32_10(Philox4 c, uint32_t k0, uint32_t k1) {
  constexpr uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u;
  constexpr uint32_t W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += W0;
      k1 += W1;
    }
    const uint32_t lo0 = M0 * c.v[0], hi0 = mulhi32(M0, c.v[0]);
    const uint32_t lo1 = M1 * c.v[2], hi1 = mulhi32(M1, c.v[2]);
    c = Philox4{{hi1 ^ c.v[1] ^ k0, lo1, hi0 ^ c.v[3] ^ k1, lo0}};
  }
  return c;
}

// The random streams cuis draws from; each (stream, counter) pair is used once.
enum RngStream : uint32_t {
  STREAM_TILE = 0,    // with replacement: which tile a draw lands in
  STREAM_ITEM = 1,    // with replacement: which item inside that tile
  STREAM_KEY = 2,     // without replacement: one exponential key per item
  STREAM_INIT = 3,    // parameter initialisation
  STREAM_UNIFORM = 4, // uniform indices (candidate sets, uniform batches)
};

// 128 random bits for (seed, counter, stream).
CUIS_HD u128 random128(uint64_t seed, uint64_t counter, uint32_t stream) {
  const Philox4 out = philox4x32_10(
      Philox4{{static_cast<uint32_t>(counter), static_cast<uint32_t>(counter >> 32), stream, 0u}},
      static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  return (static_cast<u128>(out.v[3]) << 96) | (static_cast<u128>(out.v[2]) << 64) |
         (static_cast<u128>(out.v[1]) << 32) | static_cast<u128>(out.v[0]);
}

// Index `counter` of a uniform draw from [0, n): floor(x * n / 2^128), bias below n / 2^128.
CUIS_HD int64_t uniform_index(uint64_t seed, uint64_t counter, int64_t n) {
  return static_cast<int64_t>(mulhi128_64(random128(seed, counter, STREAM_UNIFORM), static_cast<uint64_t>(n)));
}

}  // namespace detail
}  // namespace cuis
