// Sharded sampling's host-side pieces shared by the CUDA path and the CPU
// reference: argument checks, the output capacity, counters, options hash.
#include <cstring>
#include <string>

#include "core/error_detail.h"
#include "cuis/sharded.h"
#include "sampler/shard_internal.h"
#include "sampler/size_limits.h"

namespace cuis {

namespace {

uint64_t mix(uint64_t h, uint64_t v) {
  // splitmix64 of the running hash xor the value: order-sensitive, well spread.
  uint64_t z = h ^ v;
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t float_bits(float f) {
  uint32_t b = 0;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

}  // namespace

int64_t shard_capacity(const ShardInfo& info, int64_t num_draws) {
  if (info.capacity > 0) return info.capacity;
  return info.mode == ShardMode::global ? static_cast<int64_t>(info.ranks) * num_draws : num_draws;
}

uint64_t shard_counters_consumed(const ShardInfo& info, int64_t num_draws) {
  return static_cast<uint64_t>(info.ranks) * static_cast<uint64_t>(num_draws);
}

Error validate_shard(const ShardInfo& info, int64_t n, int64_t num_draws, const SampleOptions& opts) {
  using detail::set_error;
  if (info.mode != ShardMode::stratified && info.mode != ShardMode::global)
    return set_error(Error::invalid_argument, "shard mode " + std::to_string(static_cast<int>(info.mode)) +
                                                  " is neither stratified nor global");
  if (info.ranks < 1 || info.ranks > MAX_RANKS)
    return set_error(Error::invalid_argument, "ranks " + std::to_string(info.ranks) + " is outside [1, 65536]");
  if (info.rank < 0 || info.rank >= info.ranks)
    return set_error(Error::invalid_argument, "rank " + std::to_string(info.rank) + " is outside [0, ranks = " +
                                                  std::to_string(info.ranks) + ")");
  if (info.num_samples < 1 || info.num_samples > detail::MAX_N)
    return set_error(Error::empty_input, "num_samples (N) is " + std::to_string(info.num_samples) +
                                             "; need 1 .. 2^40");
  if (n < 0 || n > info.num_samples)
    return set_error(Error::invalid_argument, "the shard has " + std::to_string(n) + " scores, outside [0, N = " +
                                                  std::to_string(info.num_samples) + "]");
  if (num_draws <= 0)
    return set_error(Error::empty_input, "num_draws is " + std::to_string(num_draws) + "; need at least one");
  if (num_draws > detail::MAX_DRAWS)
    return set_error(Error::too_many_draws, "num_draws " + std::to_string(num_draws) + " exceeds 2^31 - 1");
  if (static_cast<int64_t>(info.ranks) * num_draws > detail::MAX_N)
    return set_error(Error::too_many_draws, "ranks * num_draws exceeds 2^40");
  if (!opts.replacement)
    return set_error(Error::invalid_argument, "sharded sampling draws with replacement only");
  const int64_t cap = shard_capacity(info, num_draws);
  if (info.capacity < 0 || cap > detail::MAX_DRAWS)
    return set_error(Error::invalid_argument, "capacity " + std::to_string(cap) + " is outside [1, 2^31 - 1]");
  if (info.mode == ShardMode::stratified && cap < num_draws)
    return set_error(Error::invalid_argument, "capacity " + std::to_string(cap) +
                                                  " is below num_draws in stratified mode");
  return validate_options(opts);
}

namespace detail {

uint64_t shard_options_hash(const ShardInfo& info, int64_t num_draws, const SampleOptions& o) {
  uint64_t h = 0x637569732d736861ull;  // "cuis-sha"
  h = mix(h, static_cast<uint64_t>(info.mode));
  h = mix(h, static_cast<uint64_t>(info.ranks));
  h = mix(h, static_cast<uint64_t>(info.num_samples));
  h = mix(h, static_cast<uint64_t>(num_draws));
  h = mix(h, static_cast<uint64_t>(shard_capacity(info, num_draws)));
  h = mix(h, static_cast<uint64_t>(o.weighting));
  h = mix(h, o.weighting == Weighting::biased ? float_bits(o.k) : 0);
  h = mix(h, float_bits(o.power));
  h = mix(h, float_bits(o.smooth));
  h = mix(h, float_bits(o.adaptive_smooth));
  return h;
}

}  // namespace detail
}  // namespace cuis
