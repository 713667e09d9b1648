// The CPU reference of sharded sampling: plain loops over the definition in
// cuis/sampler/shard_plan.h, built on the one-GPU reference's distribution.
#include "cuis/sampler/shard_reference.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error_detail.h"
#include "cuis/core/philox.h"
#include "cuis/sampler/reference.h"
#include "cuis/sampler/shard_plan.h"
#include "sampler/reference_sums.h"
#include "sampler/shard_internal.h"

namespace cuis {
namespace ref {

namespace {

int64_t global_id(const ShardArgs& a, int64_t i) { return a.global_ids ? a.global_ids[i] : a.shard_offset + i; }

Error check_pointers(const ShardArgs& a) {
  if ((a.n > 0 && !a.scores) || !a.indices || !a.count || !a.status)
    return detail::set_error(Error::null_pointer, "scores (when n > 0), indices, count and status must not be null");
  return Error::success;
}

// Every slot -1 / 0 and the count 0: the output of a step that draws nothing here.
void clear_outputs(const ShardArgs& a, int64_t capacity) {
  std::fill(a.indices, a.indices + capacity, int64_t{-1});
  if (a.weights) std::fill(a.weights, a.weights + capacity, 0.0f);
  *a.count = 0;
}

// One draw inside the shard's own distribution at Philox counter c.
struct LocalDraw {
  int64_t item;
  detail::DrawWeight weight;
};

LocalDraw draw_in_shard(const Distribution& d, uint64_t seed, uint64_t c, ShardMode mode, int64_t num_samples,
                        int ranks, double inverse_share) {
  const u128 r1 = detail::mulhi128(detail::random128(seed, c, detail::STREAM_TILE), d.total());
  const int64_t tile = d.locate_tile(r1);
  const uint64_t r2 = detail::mulhi128_64(detail::random128(seed, c, detail::STREAM_ITEM), d.tile_sum[tile]);
  const int64_t i = d.locate(r1, r2);
  return {i, detail::shard_weight(mode, d.total(), d.mass[tile], d.tile_sum[tile], d.q[i], num_samples, ranks,
                                  inverse_share)};
}

}  // namespace

size_t shard_work_doubles(const ShardInfo& info, int64_t num_draws) {
  return static_cast<size_t>(shard_capacity(info, num_draws));
}

Error shard_record(const ShardArgs& a, const ShardInfo& info, const SampleOptions& o, ShardRecord* record) {
  return detail::guarded("ref::shard_record", [&]() -> Error {
    if (const Error e = validate_shard(info, a.n, a.num_draws, o); e != Error::success) return e;
    if (!record) return detail::set_error(Error::null_pointer, "record must not be null");
    if (a.n > 0 && !a.scores) return detail::set_error(Error::null_pointer, "scores must not be null when n > 0");
    ShardRecord r{};
    r.n = a.n;
    r.seed = o.rng.seed;
    r.offset = o.rng.offset;
    r.options_hash = detail::shard_options_hash(info, a.num_draws, o);
    r.smoothing = detail::smoothing_constant(o.smooth, o.adaptive_smooth, o.mean_loss);
    r.bad_index = -1;
    r.max_exp = detail::EXP_NONE;
    r.code = static_cast<int32_t>(Error::success);
    r.rank = info.rank;
    const bool mean_loss_bad = o.adaptive_smooth != 0.0f && !(o.mean_loss >= 0.0f && std::isfinite(o.mean_loss));
    if (mean_loss_bad) {
      r.code = static_cast<int32_t>(Error::invalid_mean_loss);
      r.bad_value = o.mean_loss;
      r.smoothing = 0.0;  // not NaN, whose bits need not agree: the code reports it
    } else if (a.n > 0) {
      const DeviceStatus st = check_scores(a.scores, a.n, 1, o);
      if (st.code == Error::nan_score || st.code == Error::inf_score || st.code == Error::negative_score) {
        r.code = static_cast<int32_t>(st.code);
        r.bad_index = global_id(a, st.index);
        r.bad_value = st.value;
      } else {
        const Distribution d = build_distribution(a.scores, a.n, o);
        r.total_lo = detail::lo64(d.total());
        r.total_hi = detail::hi64(d.total());
        r.max_exp = d.max_exp;
      }
    }
    *record = r;
    return detail::set_error(Error::success, "");
  });
}

Error shard_sample(const ShardArgs& a, const ShardInfo& info, const SampleOptions& o, const ShardRecord* records,
                   ShardTerms* terms, double* work) {
  return detail::guarded("ref::shard_sample", [&]() -> Error {
    if (const Error e = validate_shard(info, a.n, a.num_draws, o); e != Error::success) return e;
    if (const Error e = check_pointers(a); e != Error::success) return e;
    const bool biased = o.weighting == Weighting::biased;
    if (!records || (biased && (!terms || !work)))
      return detail::set_error(Error::null_pointer, "records (and, for biased weights, terms and work) must not be null");
    const int R = info.ranks, me = info.rank;
    const int64_t b = a.num_draws, cap = shard_capacity(info, b);
    clear_outputs(a, cap);
    if (terms) *terms = ShardTerms{0.0, 0.0};
    DeviceStatus st = detail::records_status(records, R, info.num_samples);
    if (st.code != Error::success) {
      *a.status = st;
      return detail::set_error(Error::success, "");
    }
    std::vector<u128> prefix(R);
    detail::shard_prefix(records, R, prefix.data());
    const double share = detail::shard_share(prefix.data(), R, me);
    const double inverse_share = detail::shard_inverse_share(prefix.data(), R, me);
    const uint64_t seed = o.rng.seed, offset = o.rng.offset;
    const Distribution d = a.n > 0 ? build_distribution(a.scores, a.n, o) : Distribution{};

    std::vector<detail::DrawWeight> dw;
    if (info.mode == ShardMode::stratified) {
      const uint64_t base = offset + static_cast<uint64_t>(me) * static_cast<uint64_t>(b);
      for (int64_t j = 0; a.n > 0 && j < b; ++j) {
        const uint64_t c = base + static_cast<uint64_t>(j);
        if (d.total() == 0) {  // a zero-mass shard: uniform, weight R n_r / N
          a.indices[j] = global_id(a, detail::uniform_index(seed, c, a.n));
          dw.push_back(detail::zero_shard_weight(a.n, info.num_samples, R));
        } else {
          const LocalDraw x = draw_in_shard(d, seed, c, ShardMode::stratified, info.num_samples, R, 0.0);
          a.indices[j] = global_id(a, x.item);
          dw.push_back(x.weight);
        }
      }
    } else {
      std::vector<int64_t> landed(R, 0);
      const int64_t global_draws = static_cast<int64_t>(R) * b;
      for (int64_t j = 0; j < global_draws; ++j) {
        const uint64_t c = offset + static_cast<uint64_t>(j);
        const int s = detail::place_draw(seed, c, prefix.data(), R);
        if (s == me && landed[s] < cap) {
          const LocalDraw x = draw_in_shard(d, seed, c, ShardMode::global, info.num_samples, R, inverse_share);
          a.indices[landed[s]] = global_id(a, x.item);
          dw.push_back(x.weight);
        }
        ++landed[s];
      }
      for (int r = 0; r < R; ++r) {
        if (landed[r] > cap) {
          clear_outputs(a, cap);
          *a.status = DeviceStatus{Error::capacity_exceeded, r, landed[r], static_cast<float>(cap), 0.0f, 0};
          return detail::set_error(Error::success, "");
        }
      }
    }
    const int64_t count = static_cast<int64_t>(dw.size());
    *a.count = count;
    st.positive_count = 0;
    *a.status = st;
    if (!a.weights) return detail::set_error(Error::success, "");
    std::vector<double> term_u(count), term_b(count);
    for (int64_t j = 0; j < count; ++j) {
      if (o.weighting == Weighting::none) {
        a.weights[j] = 1.0f;
      } else if (o.weighting == Weighting::unbiased) {
        a.weights[j] = detail::weight_to_float(dw[j].unbiased);
      } else {
        work[j] = detail::biased_weight(dw[j].unbiased, o.k);
        a.weights[j] = detail::weight_to_float(work[j]);
        term_u[j] = detail::dmul(dw[j].unbiased, dw[j].score);
        term_b[j] = detail::dmul(work[j], dw[j].score);
      }
    }
    if (biased) *terms = ShardTerms{detail::dmul(fixed_order_sum(term_u), share), detail::dmul(fixed_order_sum(term_b), share)};
    return detail::set_error(Error::success, "");
  });
}

Error shard_rescale(const ShardArgs& a, const ShardInfo& info, const SampleOptions& o, const ShardTerms* all_terms,
                    const double* work) {
  return detail::guarded("ref::shard_rescale", [&]() -> Error {
    if (const Error e = validate_shard(info, a.n, a.num_draws, o); e != Error::success) return e;
    if (o.weighting != Weighting::biased)
      return detail::set_error(Error::invalid_argument, "shard_rescale is for biased weighting only");
    if (const Error e = check_pointers(a); e != Error::success) return e;
    if (!all_terms || !work) return detail::set_error(Error::null_pointer, "terms and work must not be null");
    if (a.status->code != Error::success || !a.weights) return detail::set_error(Error::success, "");
    const double scale = detail::shard_scale(all_terms, info.ranks);
    for (int64_t j = 0; j < *a.count; ++j) a.weights[j] = detail::weight_to_float(detail::dmul(work[j], scale));
    return detail::set_error(Error::success, "");
  });
}

}  // namespace ref
}  // namespace cuis
