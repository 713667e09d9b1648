// The CPU reference sampler: plain loops over the definition in
// cuis/sampler/distribution.h. Slow and obviously correct on purpose.
#include "cuis/sampler/reference.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "core/error_detail.h"
#include "cuis/core/philox.h"
#include "cuis/sampler/distribution.h"
#include "sampler/reference_sums.h"
#include "sampler/size_limits.h"

namespace cuis {
namespace ref {

using detail::TILE;

namespace {

detail::TransformParams transform_params(const SampleOptions& o) {
  return {static_cast<double>(o.power), detail::smoothing_constant(o.smooth, o.adaptive_smooth, o.mean_loss)};
}

bool mean_loss_invalid(const SampleOptions& o) {
  return o.adaptive_smooth != 0.0f && !(o.mean_loss >= 0.0f && std::isfinite(o.mean_loss));
}

}  // namespace

DeviceStatus check_scores(const float* scores, int64_t n, int64_t num_draws, const SampleOptions& o) {
  DeviceStatus st{Error::success, 0, -1, 0.0f, 0.0f, 0};
  if (mean_loss_invalid(o)) {
    st.code = Error::invalid_mean_loss;
    st.value = o.mean_loss;
    return st;
  }
  for (int64_t i = 0; i < n; ++i) {
    const float s = scores[i];
    if (!detail::score_is_valid(s)) {
      st.code = std::isnan(s) ? Error::nan_score : std::isinf(s) ? Error::inf_score : Error::negative_score;
      st.index = i;
      st.value = s;
      return st;
    }
  }
  const detail::TransformParams tp = transform_params(o);
  for (int64_t i = 0; i < n; ++i) st.positive_count += detail::transform_score(scores[i], tp) > 0.0 ? 1 : 0;
  if (st.positive_count == 0) {
    st.code = Error::zero_total;
  } else if (!o.replacement && static_cast<uint64_t>(num_draws) > st.positive_count) {
    st.code = Error::not_enough_positive;
  }
  return st;
}

Distribution build_distribution(const float* scores, int64_t n, const SampleOptions& o) {
  const detail::TransformParams tp = transform_params(o);
  Distribution d;
  d.n = n;
  d.t.resize(n);
  d.q.resize(n);
  for (int64_t i = 0; i < n; ++i) d.t[i] = detail::transform_score(scores[i], tp);

  const int64_t tiles = (n + TILE - 1) / TILE;
  d.tile_exp.resize(tiles);
  d.tile_sum.resize(tiles);
  d.max_exp = detail::EXP_NONE;
  for (int64_t j = 0; j < tiles; ++j) {
    const int64_t begin = j * TILE, end = std::min(n, begin + TILE);
    double tmax = 0.0;
    for (int64_t i = begin; i < end; ++i) tmax = std::max(tmax, d.t[i]);
    d.tile_exp[j] = detail::tile_exponent(tmax);
    d.max_exp = std::max(d.max_exp, d.tile_exp[j]);
    uint64_t sum = 0;
    for (int64_t i = begin; i < end; ++i) {
      d.q[i] = detail::quantize(d.t[i], d.tile_exp[j]);
      sum += d.q[i];
    }
    d.tile_sum[j] = sum;
  }
  d.mass.resize(tiles);
  d.prefix.resize(tiles);
  u128 running = 0;
  for (int64_t j = 0; j < tiles; ++j) {
    d.mass[j] = detail::tile_mass(d.tile_sum[j], d.tile_exp[j], d.max_exp);
    running += d.mass[j];
    d.prefix[j] = running;
  }
  return d;
}

int64_t Distribution::locate_tile(u128 r1) const {
  return std::upper_bound(prefix.begin(), prefix.end(), r1) - prefix.begin();
}

int64_t Distribution::locate(u128 r1, uint64_t r2) const {
  const int64_t j = locate_tile(r1);
  const int64_t begin = j * TILE, end = std::min(n, begin + TILE);
  uint64_t cumulative = 0;
  for (int64_t i = begin; i < end; ++i) {
    cumulative += q[i];
    if (cumulative > r2) return i;
  }
  return -1;  // r2 >= S_j: not a valid draw
}

double Distribution::probability(int64_t i) const {
  const int64_t j = i / TILE;
  if (tile_sum[j] == 0) return 0.0;
  return detail::weight_with_replacement(total(), mass[j], tile_sum[j], q[i], n).score;
}

// The fixed-order sum of detail::REDUCE_THREADS strided partials and a halving tree.
double fixed_order_sum(const std::vector<double>& terms) {
  std::vector<double> partial(detail::REDUCE_THREADS, 0.0);
  for (size_t j = 0; j < terms.size(); ++j) partial[j % detail::REDUCE_THREADS] += terms[j];
  for (int stride = detail::REDUCE_THREADS / 2; stride > 0; stride /= 2)
    for (int i = 0; i < stride; ++i) partial[i] += partial[i + stride];
  return partial[0];
}

namespace {

// Turns per-draw (unbiased weight, score) into the requested weights.
void finish_weights(const std::vector<detail::DrawWeight>& dw, const SampleOptions& o, float* weights) {
  const size_t b = dw.size();
  if (o.weighting == Weighting::none) {
    std::fill(weights, weights + b, 1.0f);
    return;
  }
  if (o.weighting == Weighting::unbiased) {
    for (size_t j = 0; j < b; ++j) weights[j] = detail::weight_to_float(dw[j].unbiased);
    return;
  }
  std::vector<double> biased(b), term_unbiased(b), term_biased(b);
  for (size_t j = 0; j < b; ++j) {
    biased[j] = detail::biased_weight(dw[j].unbiased, o.k);
    term_unbiased[j] = detail::dmul(dw[j].unbiased, dw[j].score);
    term_biased[j] = detail::dmul(biased[j], dw[j].score);
  }
  const double scale = detail::ddiv(fixed_order_sum(term_unbiased), fixed_order_sum(term_biased));
  for (size_t j = 0; j < b; ++j) weights[j] = detail::weight_to_float(detail::dmul(biased[j], scale));
}

void sample_with_replacement(const SampleArgs& a, const SampleOptions& o) {
  const Distribution d = build_distribution(a.scores, a.n, o);
  std::vector<detail::DrawWeight> dw(a.num_draws);
  for (int64_t j = 0; j < a.num_draws; ++j) {
    const uint64_t counter = o.rng.offset + static_cast<uint64_t>(j);
    const u128 r1 = detail::mulhi128(detail::random128(o.rng.seed, counter, detail::STREAM_TILE), d.total());
    const int64_t tile = d.locate_tile(r1);
    const uint64_t r2 =
        detail::mulhi128_64(detail::random128(o.rng.seed, counter, detail::STREAM_ITEM), d.tile_sum[tile]);
    const int64_t i = d.locate(r1, r2);
    a.indices[j] = a.candidate_ids ? a.candidate_ids[i] : i;
    dw[j] = detail::weight_with_replacement(d.total(), d.mass[tile], d.tile_sum[tile], d.q[i], a.n);
  }
  if (a.weights) finish_weights(dw, o, a.weights);
}

void sample_without_replacement(const SampleArgs& a, const SampleOptions& o) {
  const detail::TransformParams tp = transform_params(o);
  std::vector<std::pair<uint64_t, int64_t>> keys(a.n);
  std::vector<double> t(a.n);
  for (int64_t i = 0; i < a.n; ++i) {
    t[i] = detail::transform_score(a.scores[i], tp);
    const u128 bits = detail::random128(o.rng.seed, o.rng.offset + static_cast<uint64_t>(i), detail::STREAM_KEY);
    keys[i] = {detail::exponential_key_bits(bits, t[i]), i};
  }
  // The B smallest (key, index) pairs in order, and the (B+1)-th key as tau.
  const int64_t b = a.num_draws;
  const int64_t kept = std::min(a.n, b + 1);
  std::partial_sort(keys.begin(), keys.begin() + kept, keys.end());
  const double tau = b < a.n ? detail::key_from_bits(keys[b].first) : HUGE_VAL;
  std::vector<detail::DrawWeight> dw(b);
  for (int64_t j = 0; j < b; ++j) {
    const int64_t i = keys[j].second;
    a.indices[j] = a.candidate_ids ? a.candidate_ids[i] : i;
    dw[j] = detail::weight_without_replacement(t[i], tau, b, a.n);
  }
  if (a.weights) finish_weights(dw, o, a.weights);
}

}  // namespace

Error sample(const SampleArgs& a, const SampleOptions& o) {
  return detail::guarded("ref::sample", [&]() -> Error {
    if (const Error e = detail::validate_sizes(a.n, a.num_draws, o); e != Error::success) return e;
    if (!a.scores || !a.indices || !a.status)
      return detail::set_error(Error::null_pointer, "scores, indices and status must not be null");
    *a.status = check_scores(a.scores, a.n, a.num_draws, o);
    if (a.status->code != Error::success) {
      std::fill(a.indices, a.indices + a.num_draws, int64_t{-1});
      if (a.weights) std::fill(a.weights, a.weights + a.num_draws, 0.0f);
      return Error::success;
    }
    if (o.replacement) {
      sample_with_replacement(a, o);
    } else {
      sample_without_replacement(a, o);
    }
    return Error::success;
  });
}

Error uniform_indices(int64_t* out, int64_t count, int64_t n, RngState rng) {
  if (!out) return detail::set_error(Error::null_pointer, "uniform_indices: out must not be null");
  if (count <= 0 || n <= 0)
    return detail::set_error(Error::empty_input, "uniform_indices: count and n must be positive");
  for (int64_t j = 0; j < count; ++j)
    out[j] = detail::uniform_index(rng.seed, rng.offset + static_cast<uint64_t>(j), n);
  return detail::set_error(Error::success, "");
}

}  // namespace ref
}  // namespace cuis
