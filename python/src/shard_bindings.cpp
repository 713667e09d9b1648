// cuis._cuis: sharded sampling (shard_bindings.h).
#include "shard_bindings.h"

#include "cuda_device.h"
#include "errors.h"
#include "sampler_bindings.h"
#include "status.h"
#include "widen.h"

#include <cuis/sampler/shard_reference.h>

#include <string>
#include <vector>

namespace cuis_python {

static_assert(sizeof(cuis::ShardRecord) == 80 && SHARD_RECORD_WORDS == 10, "records travel as 10 int64 each");
static_assert(sizeof(cuis::ShardTerms) == 16 && SHARD_TERMS_DOUBLES == 2, "terms travel as 2 float64 each");

namespace {

// What every call of a step takes: the shard's scores (and their global ids),
// the ShardInfo and the options. `rng` and `mean_loss_array` are resolved by
// each path (host values on the CPU, device pointers on CUDA).
struct Shard {
  Place where;
  int64_t n = 0;
  const int64_t* ids = nullptr;
  cuis::ShardInfo info;
  cuis::SampleOptions opts;
  int64_t capacity = 0;
};

Shard take_shard(const Array& scores, const std::optional<Array>& shard_ids, int64_t num_draws,
                 const ShardInfoTuple& info, int weighting, float k, float smooth, float adaptive_smooth,
                 float mean_loss, float power, uint64_t seed, uint64_t offset, bool cuda, const char* api) {
  Shard s;
  s.where = cuda ? require(scores, "scores", {Kind::f32}, "float32 (16-bit scores are widened before)", 1)
                 : require(scores, "scores", {Kind::f32, Kind::f16, Kind::bf16}, "float32, float16 or bfloat16", 1);
  if (s.where.cuda != cuda)
    bad_argument(std::string(api) + ": scores are on " + place_name(s.where) +
                 (cuda ? "; this is the CUDA function" : "; this is the CPU function"));
  s.n = static_cast<int64_t>(scores.shape(0));
  s.info = make_shard_info(info);
  s.opts = make_options(true, weighting, k, smooth, adaptive_smooth, mean_loss, power, seed, offset);
  check(cuis::validate_shard(s.info, s.n, num_draws, s.opts));
  s.capacity = cuis::shard_capacity(s.info, num_draws);
  if (shard_ids) {
    same_place(s.where, require(*shard_ids, "shard_indices", {Kind::i64}, "int64", 1), "scores", "shard_indices");
    require_extent(static_cast<int64_t>(shard_ids->shape(0)), s.n, "shard_indices");
    s.ids = static_cast<const int64_t*>(shard_ids->data());
  }
  return s;
}

// An int64 [seed, offset] array where the scores are.
cuis::RngState* rng_ptr(std::optional<OutArray>& rng, const Place& where) {
  if (!rng) return nullptr;
  same_place(where, require(*rng, "rng", {Kind::i64}, "int64 ([seed, offset])", 1), "scores", "rng");
  require_extent(static_cast<int64_t>(rng->shape(0)), 2, "rng");
  return static_cast<cuis::RngState*>(rng->data());
}

const float* mean_loss_ptr(const std::optional<Array>& m, const Place& where) {
  if (!m) return nullptr;
  same_place(where, require(*m, "mean_loss", {Kind::f32}, "float32", 1), "scores", "mean_loss");
  require_extent(static_cast<int64_t>(m->shape(0)), 1, "mean_loss");
  return static_cast<const float*>(m->data());
}

// A 1-D array of `kind` and `extent` elements where the scores are; its data
// (const for the read-only inputs).
template <class A>
auto array_of(const A& a, const Place& where, const char* name, Kind kind, const char* kind_text, int64_t extent) {
  same_place(where, require(a, name, {kind}, kind_text, 1), "scores", name);
  require_extent(static_cast<int64_t>(a.shape(0)), extent, name);
  return a.data();
}

// The outputs of shard_sample / shard_rescale: capacity indices and weights,
// the count and the status.
cuis::ShardArgs outputs(const Shard& s, int64_t shard_offset, int64_t num_draws, OutArray& indices,
                        OutArray& weights, OutArray& count, OutArray& status) {
  cuis::ShardArgs a;
  a.n = s.n;
  a.global_ids = s.ids;
  a.shard_offset = shard_offset;
  a.num_draws = num_draws;
  a.indices = static_cast<int64_t*>(array_of(indices, s.where, "indices", Kind::i64, "int64", s.capacity));
  a.weights = static_cast<float*>(array_of(weights, s.where, "weights", Kind::f32, "float32", s.capacity));
  a.count = static_cast<int64_t*>(array_of(count, s.where, "count", Kind::i64, "int64", 1));
  a.status = status_ptr(status, s.where);
  return a;
}

// Runs a reference call with the GIL released (scores widened on the host),
// then raises its argument error, if any.
template <class F>
void run_released(const Array& scores, int64_t n, cuis::ShardArgs* a, F&& call) {
  cuis::Error e;
  std::string msg;
  {
    nb::gil_scoped_release release;
    std::vector<float> widened;
    a->scores = n > 0 ? host_floats(scores, static_cast<size_t>(n), &widened) : nullptr;
    e = call();
    if (e != cuis::Error::success) msg = cuis::last_error_message();
  }
  if (e != cuis::Error::success) raise_error(e, msg.empty() ? cuis::error_string(e) : msg);
}

}  // namespace

cuis::ShardInfo make_shard_info(const ShardInfoTuple& t) {
  cuis::ShardInfo info;
  const int mode = std::get<0>(t);
  if (mode != 0 && mode != 1) bad_argument("shard mode code " + std::to_string(mode) + " is not 0 or 1");
  info.mode = static_cast<cuis::ShardMode>(mode);
  info.rank = std::get<1>(t);
  info.ranks = std::get<2>(t);
  info.num_samples = std::get<3>(t);
  info.capacity = std::get<4>(t);
  return info;
}

std::tuple<int64_t, uint64_t> check_shard_args(const ShardInfoTuple& info, int64_t n, int64_t num_draws,
                                               int weighting, float k, float smooth, float adaptive_smooth,
                                               float power) {
  const cuis::ShardInfo i = make_shard_info(info);
  const cuis::SampleOptions o = make_options(true, weighting, k, smooth, adaptive_smooth, 0.0f, power, 0, 0);
  check(cuis::validate_shard(i, n, num_draws, o));
  return {cuis::shard_capacity(i, num_draws), cuis::shard_counters_consumed(i, num_draws)};
}

void shard_record_cpu(const Array& scores, std::optional<Array> shard_ids, int64_t shard_offset, int64_t num_draws,
                      OutArray record, std::optional<OutArray> rng, std::optional<Array> mean_loss_array,
                      const ShardInfoTuple& info, int weighting, float k, float smooth, float adaptive_smooth,
                      float mean_loss, float power, uint64_t seed, uint64_t offset) {
  Shard s = take_shard(scores, shard_ids, num_draws, info, weighting, k, smooth, adaptive_smooth, mean_loss, power,
                       seed, offset, false, "shard_record_cpu");
  auto* out = static_cast<cuis::ShardRecord*>(
      array_of(record, s.where, "record", Kind::i64, "int64", SHARD_RECORD_WORDS));
  if (const cuis::RngState* state = rng_ptr(rng, s.where)) s.opts.rng = *state;
  if (const float* m = mean_loss_ptr(mean_loss_array, s.where)) s.opts.mean_loss = *m;
  cuis::ShardArgs a;
  a.n = s.n;
  a.global_ids = s.ids;
  a.shard_offset = shard_offset;
  a.num_draws = num_draws;
  run_released(scores, s.n, &a, [&] { return cuis::ref::shard_record(a, s.info, s.opts, out); });
}

void shard_sample_cpu(const Array& scores, std::optional<Array> shard_ids, int64_t shard_offset, int64_t num_draws,
                      const Array& records, OutArray indices, OutArray weights, OutArray count, OutArray status,
                      std::optional<OutArray> terms, std::optional<OutArray> work, std::optional<OutArray> rng,
                      std::optional<Array> mean_loss_array, bool advance_rng, const ShardInfoTuple& info,
                      int weighting, float k, float smooth, float adaptive_smooth, float mean_loss, float power,
                      uint64_t seed, uint64_t offset) {
  Shard s = take_shard(scores, shard_ids, num_draws, info, weighting, k, smooth, adaptive_smooth, mean_loss, power,
                       seed, offset, false, "shard_sample_cpu");
  cuis::ShardArgs a = outputs(s, shard_offset, num_draws, indices, weights, count, status);
  const auto* recs_ptr = static_cast<const cuis::ShardRecord*>(
      array_of(records, s.where, "records", Kind::i64, "int64", SHARD_RECORD_WORDS * s.info.ranks));
  cuis::ShardTerms* t = terms ? static_cast<cuis::ShardTerms*>(array_of(*terms, s.where, "terms", Kind::f64,
                                                                        "float64", SHARD_TERMS_DOUBLES))
                              : nullptr;
  double* w = work ? static_cast<double*>(array_of(*work, s.where, "work", Kind::f64, "float64", s.capacity))
                   : nullptr;
  cuis::RngState* state = rng_ptr(rng, s.where);
  if (state) s.opts.rng = *state;  // read as the device does, advanced below as the device does
  if (const float* m = mean_loss_ptr(mean_loss_array, s.where)) s.opts.mean_loss = *m;
  run_released(scores, s.n, &a, [&] { return cuis::ref::shard_sample(a, s.info, s.opts, recs_ptr, t, w); });
  // shard_sample advances d_rng by R b whatever the records held.
  if (state && advance_rng) state->offset += cuis::shard_counters_consumed(s.info, num_draws);
}

void shard_rescale_cpu(const Array& scores, std::optional<Array> shard_ids, int64_t shard_offset, int64_t num_draws,
                       const Array& all_terms, OutArray indices, OutArray weights, OutArray count, OutArray status,
                       const Array& work, const ShardInfoTuple& info, int weighting, float k, float smooth,
                       float adaptive_smooth, float power) {
  Shard s = take_shard(scores, shard_ids, num_draws, info, weighting, k, smooth, adaptive_smooth, 0.0f, power, 0, 0,
                       false, "shard_rescale_cpu");
  cuis::ShardArgs a = outputs(s, shard_offset, num_draws, indices, weights, count, status);
  const auto* terms_ptr = static_cast<const cuis::ShardTerms*>(
      array_of(all_terms, s.where, "terms", Kind::f64, "float64", SHARD_TERMS_DOUBLES * s.info.ranks));
  const auto* work_ptr = static_cast<const double*>(array_of(work, s.where, "work", Kind::f64, "float64", s.capacity));
  run_released(scores, s.n, &a, [&] { return cuis::ref::shard_rescale(a, s.info, s.opts, terms_ptr, work_ptr); });
}

// ------------------------------------------------------------------ CUDA

size_t shard_workspace_size(int64_t n, int64_t num_draws, int device, const ShardInfoTuple& info, int weighting,
                            float k, float smooth, float adaptive_smooth, float power) {
  const cuis::ShardInfo i = make_shard_info(info);
  const cuis::SampleOptions o = make_options(true, weighting, k, smooth, adaptive_smooth, 0.0f, power, 0, 0);
  check(cuis::validate_shard(i, n, num_draws, o));
  DeviceGuard guard(device, "shard_workspace_size");
  size_t bytes = 0;
  check(cuis::shard_workspace_size(i, n, num_draws, o, &bytes));
  return bytes;
}

namespace {

// The device side of the options: d_rng (advanced by shard_sample only) and d_mean_loss.
void device_options(Shard& s, std::optional<OutArray>& rng, const std::optional<Array>& mean_loss_array,
                    bool advance_rng) {
  if (cuis::RngState* d = rng_ptr(rng, s.where)) {
    s.opts.d_rng = d;
    s.opts.advance_rng = advance_rng;
  }
  s.opts.d_mean_loss = mean_loss_ptr(mean_loss_array, s.where);
}

void* workspace_of(OutArray& workspace, const Place& where) {
  same_place(where, require(workspace, "workspace", {Kind::u8}, "uint8", 1), "scores", "workspace");
  return workspace.data();
}

}  // namespace

void shard_record_cuda(const Array& scores, std::optional<Array> shard_ids, int64_t shard_offset, int64_t num_draws,
                       OutArray record, OutArray workspace, std::optional<OutArray> rng,
                       std::optional<Array> mean_loss_array, const ShardInfoTuple& info, int weighting, float k,
                       float smooth, float adaptive_smooth, float mean_loss, float power, uint64_t seed,
                       uint64_t offset, uintptr_t stream) {
  Shard s = take_shard(scores, shard_ids, num_draws, info, weighting, k, smooth, adaptive_smooth, mean_loss, power,
                       seed, offset, true, "shard_record_cuda");
  auto* out = static_cast<cuis::ShardRecord*>(
      array_of(record, s.where, "record", Kind::i64, "int64", SHARD_RECORD_WORDS));
  device_options(s, rng, mean_loss_array, false);
  void* ws = workspace_of(workspace, s.where);
  cuis::ShardArgs a;
  a.scores = static_cast<const float*>(scores.data());
  a.n = s.n;
  a.global_ids = s.ids;
  a.shard_offset = shard_offset;
  a.num_draws = num_draws;
  DeviceGuard guard(s.where.device, "shard_record");
  check(cuis::shard_record(a, s.info, s.opts, out, ws, workspace.shape(0), to_stream(stream)));
}

void shard_sample_cuda(const Array& scores, std::optional<Array> shard_ids, int64_t shard_offset, int64_t num_draws,
                       const Array& records, OutArray indices, OutArray weights, OutArray count, OutArray status,
                       std::optional<OutArray> terms, OutArray workspace, std::optional<OutArray> rng,
                       std::optional<Array> mean_loss_array, bool advance_rng, const ShardInfoTuple& info,
                       int weighting, float k, float smooth, float adaptive_smooth, float mean_loss, float power,
                       uint64_t seed, uint64_t offset, uintptr_t stream) {
  Shard s = take_shard(scores, shard_ids, num_draws, info, weighting, k, smooth, adaptive_smooth, mean_loss, power,
                       seed, offset, true, "shard_sample_cuda");
  cuis::ShardArgs a = outputs(s, shard_offset, num_draws, indices, weights, count, status);
  a.scores = static_cast<const float*>(scores.data());
  const auto* recs_ptr = static_cast<const cuis::ShardRecord*>(
      array_of(records, s.where, "records", Kind::i64, "int64", SHARD_RECORD_WORDS * s.info.ranks));
  cuis::ShardTerms* t = terms ? static_cast<cuis::ShardTerms*>(array_of(*terms, s.where, "terms", Kind::f64,
                                                                        "float64", SHARD_TERMS_DOUBLES))
                              : nullptr;
  device_options(s, rng, mean_loss_array, advance_rng);
  void* ws = workspace_of(workspace, s.where);
  DeviceGuard guard(s.where.device, "shard_sample");
  check(cuis::shard_sample(a, s.info, s.opts, recs_ptr, t, ws, workspace.shape(0), to_stream(stream)));
}

void shard_rescale_cuda(const Array& scores, std::optional<Array> shard_ids, int64_t shard_offset, int64_t num_draws,
                        const Array& all_terms, OutArray indices, OutArray weights, OutArray count, OutArray status,
                        OutArray workspace, const ShardInfoTuple& info, int weighting, float k, float smooth,
                        float adaptive_smooth, float power, uintptr_t stream) {
  Shard s = take_shard(scores, shard_ids, num_draws, info, weighting, k, smooth, adaptive_smooth, 0.0f, power, 0, 0,
                       true, "shard_rescale_cuda");
  cuis::ShardArgs a = outputs(s, shard_offset, num_draws, indices, weights, count, status);
  a.scores = static_cast<const float*>(scores.data());
  const auto* terms_ptr = static_cast<const cuis::ShardTerms*>(
      array_of(all_terms, s.where, "terms", Kind::f64, "float64", SHARD_TERMS_DOUBLES * s.info.ranks));
  void* ws = workspace_of(workspace, s.where);
  DeviceGuard guard(s.where.device, "shard_rescale");
  check(cuis::shard_rescale(a, s.info, s.opts, terms_ptr, ws, workspace.shape(0), to_stream(stream)));
}

}  // namespace cuis_python
