// The exact definition of the distribution cuis draws from, as host/device
// functions shared by the kernels and the CPU reference.
//
// With replacement (a two-level fixed-point distribution):
//   t_i   = transform(s_i)                     double, deterministic
//   tiles of TILE consecutive items; E_j = ilogb(max t in tile j)
//   q_i   = floor(t_i * 2^(52 - E_j))          integer < 2^53, exact for every
//                                              t_i >= 2^(E_j - 52)
//   S_j   = sum of q_i in tile j               < TILE * 2^53 = 2^64
//   M_j   = floor(S_j / 2^(E - E_j)), E = max E_j (the tile's mass on the
//           global scale; the heaviest tile keeps M_j = S_j >= 2^52)
//   p_i   = (M_j / Q) * (q_i / S_j),  Q = sum M_j (128-bit)
// A draw takes 128 random bits for the tile (r1 = floor(x1 * Q / 2^128)) and
// 128 more for the item (r2 = floor(x2 * S_j / 2^128)); both searches are
// exact integer comparisons, so any launch configuration and the CPU reference
// agree. Deviation from t_i / sum t: each q_i and M_j is off by less than one
// unit, so sum_i |p_i - t_i / T| <= 2 (N + N / TILE) * 2^-52, plus the
// multiply-shift bias of the draw (relative, below Q / 2^128: 2^-44 for
// N < 2^31, 2^-35 at the limit N = 2^40; inside a tile 2^-64).
#pragma once

#include <cstring>

#include "cuis/core/portable_math.h"

namespace cuis {
namespace detail {

constexpr int TILE = 2048;                    // items per tile (part of the definition)
constexpr int CHUNK = 64;                     // items per chunk sum inside a tile
constexpr int CHUNKS_PER_TILE = TILE / CHUNK;  // 32: one warp lane per chunk
constexpr int Q_BITS = 52;                    // q_i < 2^(Q_BITS + 1)
constexpr int EXP_NONE = -100000;             // exponent of a tile whose items are all zero

// The smoothing transform of docs/METHOD.md section 2: t = s^a + c_eff with
// c_eff = c + c_adaptive * mean_loss. Inputs are validated elsewhere.
struct TransformParams {
  double power;   // a in [0, 1]
  double c_eff;   // >= 0, finite
};

CUIS_HD double smoothing_constant(float c, float c_adaptive, float mean_loss) {
  // Without adaptive smoothing the mean loss is not read (it may be unset).
  if (c_adaptive == 0.0f) return static_cast<double>(c);
  return dadd(static_cast<double>(c), dmul(static_cast<double>(c_adaptive), static_cast<double>(mean_loss)));
}

CUIS_HD bool score_is_valid(float s) { return s >= 0.0f && s <= 3.402823466e38f; }

// t_i; 0 for an invalid score (which is reported, never drawn).
CUIS_HD double transform_score(float s, TransformParams p) {
  if (!score_is_valid(s)) return 0.0;
  return dadd(ppow(static_cast<double>(s), p.power), p.c_eff);
}

// ilogb of a tile's maximum t (EXP_NONE when the maximum is 0).
CUIS_HD int tile_exponent(double tmax) {
  if (!(tmax > 0.0)) return EXP_NONE;
  int k = 0;
  (void)::frexp(tmax, &k);
  return k - 1;
}

// q_i = floor(t * 2^(52 - E_j)).
CUIS_HD uint64_t quantize(double t, int tile_exp) {
  if (tile_exp == EXP_NONE || !(t > 0.0)) return 0;
  return static_cast<uint64_t>(::ldexp(t, Q_BITS - tile_exp));
}

// M_j: a tile's mass on the global scale.
CUIS_HD uint64_t tile_mass(uint64_t tile_sum, int tile_exp, int max_exp) {
  if (tile_exp == EXP_NONE) return 0;
  const int shift = max_exp - tile_exp;
  return shift >= 64 ? 0 : (tile_sum >> shift);
}

// Weights. `n` is the number of items the distribution is over (N, or P for a
// candidate set). With replacement the unbiased weight is 1 / (n p_i); without
// replacement the Horvitz-Thompson weight is B / (n pi_i), the same thing
// scaled so that a batch mean of w_i f_i estimates the mean of f.
struct DrawWeight {
  double unbiased;  // 1 / (n p_i)  or  B / (n pi_i)
  double score;     // s_i used by the biased per-batch rescaling (p_i or t_i)
};

CUIS_HD DrawWeight weight_with_replacement(u128 total, uint64_t mass, uint64_t tile_sum, uint64_t q,
                                           int64_t n) {
  const double Q = u128_to_double(total), M = static_cast<double>(mass);
  const double S = static_cast<double>(tile_sum), qd = static_cast<double>(q);
  const double num = dmul(M, qd), den = dmul(Q, S);
  return DrawWeight{ddiv(den, dmul(static_cast<double>(n), num)), ddiv(num, den)};
}

// Without replacement (Efraimidis-Spirakis): the item's key E / t with
// E = -ln(U) ~ Exp(1), as the bits of a non-negative double (which order like
// the value). Items with t = 0 get +inf and are never chosen.
CUIS_HD uint64_t exponential_key_bits(u128 random, double t) {
  double key = HUGE_VAL;
  if (t > 0.0) {
    // U in (0, 1]: 53 random bits, never 0.
    const double u = dmul(static_cast<double>((lo64(random) >> 11) + 1), 1.1102230246251565e-16);
    key = ddiv(dsub(0.0, plog(u)), t);  // 0 - log(1) is +0, never -0 (which would sort last)
  }
  uint64_t bits = 0;
  memcpy(&bits, &key, sizeof bits);
  return bits;
}

CUIS_HD double key_from_bits(uint64_t bits) {
  double key = 0;
  memcpy(&key, &bits, sizeof key);
  return key;
}

// Inclusion probability pi_i = 1 - exp(-t_i * tau), tau the (B+1)-th smallest
// key (+inf when every positive item is taken, giving pi_i = 1).
CUIS_HD DrawWeight weight_without_replacement(double t, double tau, int64_t num_draws, int64_t n) {
  const double pi = tau == HUGE_VAL ? 1.0 : pone_minus_exp_neg(dmul(t, tau));
  return DrawWeight{ddiv(static_cast<double>(num_draws), dmul(static_cast<double>(n), pi)), t};
}

// Biased weight (1 / (n p))^k before the per-batch rescaling.
CUIS_HD double biased_weight(double unbiased, double k) { return ppow(unbiased, k); }

// Rounds a weight to float, saturating at FLT_MAX instead of overflowing.
CUIS_HD float weight_to_float(double w) {
  return w >= 3.4028234663852886e38 ? 3.402823466e38f : static_cast<float>(w);
}

}  // namespace detail
}  // namespace cuis

namespace cuis {
namespace detail {

// The biased rescaling sums its per-draw terms in a fixed order that does not
// depend on the launch configuration: REDUCE_THREADS strided partial sums, then
// a halving tree. The finishing kernel and the CPU reference both do exactly this.
constexpr int REDUCE_THREADS = 1024;

}  // namespace detail
}  // namespace cuis
