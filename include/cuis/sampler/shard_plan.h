// Sharded sampling's definition, as host/device functions shared by the
// kernels and the CPU reference (cuis/sharded.h; docs/METHOD.md section 10).
//
// Each shard r builds the one-GPU distribution of cuis/sampler/distribution.h
// over its own scores: tiles aligned to the shard's own largest exponent E_r,
// total Q_r (128 bits). Across shards (global mode), with E = max E_r:
//   Ms_r = floor(Q_r / 2^(E - E_r))        the shard's mass on the global scale
//   Qg   = sum_r Ms_r                       (the heaviest shard keeps Ms_r = Q_r >= 2^52)
//   p_i  = (Ms_r / Qg) * p_i|r              p_i|r the within-shard probability
// Draw j (global counter c = offset + j) picks its shard with the 128 bits of
// STREAM_SHARD at c (r0 = floor(x0 Qg / 2^128), first r with prefix_r > r0),
// then its item inside the shard exactly as cuis::sample() does with counter c.
// Deviation from t_i / sum t: the within-shard bound of distribution.h plus
// less than one unit of Qg per shard, so sum_i |p_i - t_i / T| <= 2 (N + N /
// TILE + R) 2^-52, plus the multiply-shift bias below Qg / 2^128.
#pragma once

#include "cuis/core/philox.h"
#include "cuis/sampler/distribution.h"
#include "cuis/sharded.h"

namespace cuis {
namespace detail {

constexpr uint32_t STREAM_SHARD = 5;  // global mode: which shard a draw lands in

// DeviceStatus::index of Error::shard_mismatch: what the rank disagrees on.
enum ShardMismatch : int64_t {
  MISMATCH_RANK_ORDER = 0,
  MISMATCH_RNG = 1,
  MISMATCH_OPTIONS = 2,
  MISMATCH_SMOOTHING = 3,
  MISMATCH_SIZES = 4,
  MISMATCH_RECORD = 5,  // a record no shard_record writes (not gathered, or damaged)
};

CUIS_HD u128 record_total(const ShardRecord& r) { return (static_cast<u128>(r.total_hi) << 64) | r.total_lo; }

CUIS_HD uint64_t double_bits(double x) {
  uint64_t b = 0;
  memcpy(&b, &x, sizeof b);
  return b;
}

// Ms_r: a shard's mass on the global scale.
CUIS_HD u128 shard_mass(u128 total, int exp, int max_exp) {
  if (exp == EXP_NONE) return 0;
  const int shift = max_exp - exp;
  return shift >= 128 ? u128{0} : total >> shift;
}

// Whether a record holds what shard_record can write: a code it writes, a
// size within the API's, an exponent a positive double has (or EXP_NONE), and
// a mass below 2^64 per tile of the shard. Nothing is computed from a record
// before this holds, so that a wrong buffer passed as the gathered records
// gives a status, not overflowing arithmetic.
CUIS_HD bool record_valid(const ShardRecord& x) {
  const Error code = static_cast<Error>(x.code);
  if (code != Error::success && code != Error::nan_score && code != Error::inf_score && code != Error::negative_score &&
      code != Error::invalid_mean_loss)
    return false;
  if (x.n < 0 || x.n > (int64_t{1} << 40)) return false;
  if (x.max_exp != EXP_NONE && (x.max_exp < -1074 || x.max_exp > 1023)) return false;
  const uint64_t tiles = static_cast<uint64_t>((x.n + TILE - 1) / TILE);
  return x.total_hi < tiles || (x.total_hi == 0 && x.total_lo == 0);
}

CUIS_HD int records_max_exp(const ShardRecord* recs, int ranks) {
  int e = EXP_NONE;
  for (int r = 0; r < ranks; ++r) e = recs[r].max_exp > e ? recs[r].max_exp : e;
  return e;
}

// The status every rank derives from the same gathered records: ranks that
// disagree on the rank order, the RNG state or the options; then the first
// rank's own error (a bad score or an invalid mean loss); then ranks that
// disagree on the smoothing constant (the mean loss); then shard sizes that
// do not add up to N; then a zero total. Success otherwise.
CUIS_HD DeviceStatus records_status(const ShardRecord* recs, int ranks, int64_t num_samples) {
  DeviceStatus st{Error::success, 0, -1, 0.0f, 0.0f, 0};
  const ShardRecord& first = recs[0];
  for (int r = 0; r < ranks; ++r) {
    const ShardRecord& x = recs[r];
    int64_t why = -1;
    if (x.rank != r) {
      why = MISMATCH_RANK_ORDER;
    } else if (!record_valid(x)) {
      why = MISMATCH_RECORD;
    } else if (x.seed != first.seed || x.offset != first.offset) {
      why = MISMATCH_RNG;
    } else if (x.options_hash != first.options_hash) {
      why = MISMATCH_OPTIONS;
    }
    if (why >= 0) return DeviceStatus{Error::shard_mismatch, r, why, 0.0f, 0.0f, 0};
  }
  for (int r = 0; r < ranks; ++r)
    if (recs[r].code != static_cast<int32_t>(Error::success))
      return DeviceStatus{static_cast<Error>(recs[r].code), r, recs[r].bad_index, recs[r].bad_value, 0.0f, 0};
  int64_t total_n = 0;
  for (int r = 0; r < ranks; ++r) {
    if (double_bits(recs[r].smoothing) != double_bits(first.smoothing))
      return DeviceStatus{Error::shard_mismatch, r, MISMATCH_SMOOTHING, 0.0f, 0.0f, 0};
    total_n += recs[r].n;
  }
  if (total_n != num_samples)
    return DeviceStatus{Error::shard_mismatch, 0, MISMATCH_SIZES, static_cast<float>(total_n), 0.0f, 0};
  const int e = records_max_exp(recs, ranks);
  u128 qg = 0;
  for (int r = 0; r < ranks; ++r) qg += shard_mass(record_total(recs[r]), recs[r].max_exp, e);
  if (qg == 0) st.code = Error::zero_total;
  return st;
}

// Inclusive prefix of Ms_r over the R shards (prefix has R entries).
CUIS_HD void shard_prefix(const ShardRecord* recs, int ranks, u128* prefix) {
  const int e = records_max_exp(recs, ranks);
  u128 running = 0;
  for (int r = 0; r < ranks; ++r) {
    running += shard_mass(record_total(recs[r]), recs[r].max_exp, e);
    prefix[r] = running;
  }
}

// The shard global draw `counter` lands in (prefix[ranks - 1] > 0).
CUIS_HD int place_draw(uint64_t seed, uint64_t counter, const u128* prefix, int ranks) {
  const u128 r0 = mulhi128(random128(seed, counter, STREAM_SHARD), prefix[ranks - 1]);
  int lo = 0, hi = ranks - 1;  // first r with prefix[r] > r0
  while (lo < hi) {
    const int mid = lo + (hi - lo) / 2;
    if (prefix[mid] > r0) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return lo;
}

// c_r = Ms_r / Qg: the share of the global mass on shard r (1 when R = 1),
// and its inverse Qg / Ms_r (0 for a shard without mass, which gets no draws).
CUIS_HD double shard_share(const u128* prefix, int ranks, int rank) {
  const u128 before = rank > 0 ? prefix[rank - 1] : u128{0};
  return ddiv(u128_to_double(prefix[rank] - before), u128_to_double(prefix[ranks - 1]));
}
CUIS_HD double shard_inverse_share(const u128* prefix, int ranks, int rank) {
  const u128 mass = prefix[rank] - (rank > 0 ? prefix[rank - 1] : u128{0});
  return mass == 0 ? 0.0 : ddiv(u128_to_double(prefix[ranks - 1]), u128_to_double(mass));
}

// Draw weights inside shard r, from the within-shard draw (total = Q_r).
//   stratified: 1 / ((N / R) p_i|r)            = R W_r / (N t_i)
//   global:     1 / (N p_i|r) * (Qg / Ms_r)     = 1 / (N p_i)
// score is p_i|r in both; the rescaling sums are multiplied by c_r.
// inverse_share is shard_inverse_share() (global mode only).
CUIS_HD DrawWeight shard_weight(ShardMode mode, u128 total, uint64_t mass, uint64_t tile_sum, uint64_t q,
                                int64_t num_samples, int ranks, double inverse_share) {
  const double Q = u128_to_double(total), M = static_cast<double>(mass);
  const double S = static_cast<double>(tile_sum), qd = static_cast<double>(q);
  const double num = dmul(M, qd), den = dmul(Q, S);
  const double n = static_cast<double>(num_samples);
  if (mode == ShardMode::stratified)
    return DrawWeight{ddiv(den, dmul(ddiv(n, static_cast<double>(ranks)), num)), ddiv(num, den)};
  return DrawWeight{dmul(ddiv(den, dmul(n, num)), inverse_share), ddiv(num, den)};
}

// Stratified mode, a shard whose transformed scores are all zero (while the
// global total is not): uniform draws over the shard, weight R n_r / N, score 0.
CUIS_HD DrawWeight zero_shard_weight(int64_t shard_n, int64_t num_samples, int ranks) {
  const double rn = dmul(static_cast<double>(ranks), static_cast<double>(shard_n));
  return DrawWeight{ddiv(rn, static_cast<double>(num_samples)), 0.0};
}

// The biased rescaling factor from the gathered terms, summed in rank order.
CUIS_HD double shard_scale(const ShardTerms* terms, int ranks) {
  double u = 0.0, b = 0.0;
  for (int r = 0; r < ranks; ++r) {
    u = dadd(u, terms[r].unbiased);
    b = dadd(b, terms[r].biased);
  }
  return ddiv(u, b);
}

}  // namespace detail
}  // namespace cuis
