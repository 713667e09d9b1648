// cuis._cuis: the sampler's functions (sampler_bindings.h).
#include "sampler_bindings.h"

#include "cuda_device.h"
#include "errors.h"
#include "host_calls.h"
#include "status.h"
#include "widen.h"

#include <string>
#include <vector>

namespace cuis_python {

namespace {

// A host [seed, offset] int64 array (the CPU side of SampleOptions::d_rng).
cuis::RngState* host_rng(std::optional<OutArray>& rng, const Place& where, const char* owner) {
  if (!rng) return nullptr;
  same_place(where, require(*rng, "rng", {Kind::i64}, "int64 ([seed, offset])", 1), owner, "rng");
  require_extent(static_cast<int64_t>(rng->shape(0)), 2, "rng");
  return static_cast<cuis::RngState*>(rng->data());
}

// The draws' outputs: int64 indices and float32 weights, num_draws of each,
// where the scores are.
void check_draw_outputs(const Place& where, const OutArray& indices, const OutArray& weights, int64_t num_draws) {
  same_place(where, require(indices, "indices", {Kind::i64}, "int64", 1), "scores", "indices");
  same_place(where, require(weights, "weights", {Kind::f32}, "float32", 1), "scores", "weights");
  require_extent(static_cast<int64_t>(indices.shape(0)), num_draws, "indices");
  require_extent(static_cast<int64_t>(weights.shape(0)), num_draws, "weights");
}

}  // namespace

void sample_cpu(const Array& scores, int64_t num_draws, OutArray indices, OutArray weights,
                std::optional<Array> candidate_ids, std::optional<OutArray> rng, std::optional<Array> mean_loss_array,
                bool replacement, int weighting, float k, float smooth, float adaptive_smooth, float mean_loss,
                float power, uint64_t seed, uint64_t offset, bool advance_rng) {
  const Place where = require(scores, "scores", {Kind::f32, Kind::f16, Kind::bf16}, "float32, float16 or bfloat16", 1);
  if (where.cuda) bad_argument("sample_cpu: scores are on " + place_name(where));
  const int64_t n = static_cast<int64_t>(scores.shape(0));
  cuis::SampleOptions o = make_options(replacement, weighting, k, smooth, adaptive_smooth, mean_loss, power, seed,
                                       offset);
  check_sample_args(n, num_draws, o);
  check_draw_outputs(where, indices, weights, num_draws);
  const int64_t* ids = nullptr;
  if (candidate_ids) {
    same_place(where, require(*candidate_ids, "candidate_ids", {Kind::i64}, "int64", 1), "scores", "candidate_ids");
    require_extent(static_cast<int64_t>(candidate_ids->shape(0)), n, "candidate_ids");
    ids = static_cast<const int64_t*>(candidate_ids->data());
  }
  cuis::RngState* state = host_rng(rng, where, "scores");
  const float* mean_loss_value = nullptr;
  if (mean_loss_array) {
    same_place(where, require(*mean_loss_array, "mean_loss", {Kind::f32}, "float32", 1), "scores", "mean_loss");
    require_extent(static_cast<int64_t>(mean_loss_array->shape(0)), 1, "mean_loss");
    mean_loss_value = static_cast<const float*>(mean_loss_array->data());
  }
  nb::gil_scoped_release release;
  std::vector<float> widened;
  sample_host(host_floats(scores, static_cast<size_t>(n), &widened), n, ids, num_draws,
              static_cast<int64_t*>(indices.data()), static_cast<float*>(weights.data()), o, state, mean_loss_value,
              advance_rng);
}

size_t sample_workspace_size(int64_t n, int64_t num_draws, int device, bool replacement, int weighting, float k,
                             float smooth, float adaptive_smooth, float power) {
  const cuis::SampleOptions o = make_options(replacement, weighting, k, smooth, adaptive_smooth, 0.0f, power, 0, 0);
  check_sample_args(n, num_draws, o);
  DeviceGuard guard(device, "sample_workspace_size");
  size_t bytes = 0;
  check(cuis::sample_workspace_size(n, num_draws, o, &bytes));
  return bytes;
}

void sample_cuda(const Array& scores, int64_t num_draws, OutArray indices, OutArray weights, OutArray status,
                 OutArray workspace, std::optional<Array> candidate_ids, std::optional<OutArray> rng,
                 std::optional<Array> mean_loss_array, bool replacement, int weighting, float k, float smooth,
                 float adaptive_smooth, float mean_loss, float power, uint64_t seed, uint64_t offset,
                 bool advance_rng, uintptr_t stream) {
  const Place where = require(scores, "scores", {Kind::f32}, "float32 (16-bit scores are widened before)", 1);
  if (!where.cuda) bad_argument("sample_cuda: scores are on the CPU");
  const int64_t n = static_cast<int64_t>(scores.shape(0));
  cuis::SampleOptions o = make_options(replacement, weighting, k, smooth, adaptive_smooth, mean_loss, power, seed,
                                       offset);
  check_sample_args(n, num_draws, o);
  check_draw_outputs(where, indices, weights, num_draws);
  cuis::DeviceStatus* d_status = status_ptr(status, where);
  same_place(where, require(workspace, "workspace", {Kind::u8}, "uint8", 1), "scores", "workspace");
  const int64_t* ids = nullptr;
  if (candidate_ids) {
    same_place(where, require(*candidate_ids, "candidate_ids", {Kind::i64}, "int64", 1), "scores", "candidate_ids");
    require_extent(static_cast<int64_t>(candidate_ids->shape(0)), n, "candidate_ids");
    ids = static_cast<const int64_t*>(candidate_ids->data());
  }
  if (rng) {
    same_place(where, require(*rng, "rng", {Kind::i64}, "int64 ([seed, offset])", 1), "scores", "rng");
    require_extent(static_cast<int64_t>(rng->shape(0)), 2, "rng");
    o.d_rng = static_cast<cuis::RngState*>(rng->data());
    o.advance_rng = advance_rng;
  }
  if (mean_loss_array) {
    same_place(where, require(*mean_loss_array, "mean_loss", {Kind::f32}, "float32", 1), "scores", "mean_loss");
    require_extent(static_cast<int64_t>(mean_loss_array->shape(0)), 1, "mean_loss");
    o.d_mean_loss = static_cast<const float*>(mean_loss_array->data());
  }
  DeviceGuard guard(where.device, "sample");
  const cuis::SampleArgs a{static_cast<const float*>(scores.data()),
                           n,
                           ids,
                           num_draws,
                           static_cast<int64_t*>(indices.data()),
                           static_cast<float*>(weights.data()),
                           d_status};
  check(cuis::sample(a, o, workspace.data(), workspace.shape(0), to_stream(stream)));
}

void uniform_indices_cpu(OutArray out, int64_t n, uint64_t seed, uint64_t offset, std::optional<OutArray> rng,
                         bool advance) {
  const Place where = require(out, "out", {Kind::i64}, "int64", 1);
  if (where.cuda) bad_argument("uniform_indices_cpu: out is on " + place_name(where));
  const int64_t count = static_cast<int64_t>(out.shape(0));
  cuis::RngState* state = host_rng(rng, where, "out");
  nb::gil_scoped_release release;
  uniform_host(static_cast<int64_t*>(out.data()), count, n, cuis::RngState{seed, offset}, state, advance);
}

void uniform_indices_cuda(OutArray out, int64_t n, uint64_t seed, uint64_t offset, std::optional<OutArray> rng,
                          bool advance, uintptr_t stream) {
  const Place where = require(out, "out", {Kind::i64}, "int64", 1);
  if (!where.cuda) bad_argument("uniform_indices_cuda: out is on the CPU");
  cuis::RngState* d_rng = nullptr;
  if (rng) {
    same_place(where, require(*rng, "rng", {Kind::i64}, "int64 ([seed, offset])", 1), "out", "rng");
    require_extent(static_cast<int64_t>(rng->shape(0)), 2, "rng");
    d_rng = static_cast<cuis::RngState*>(rng->data());
  }
  DeviceGuard guard(where.device, "uniform_indices");
  check(cuis::uniform_indices(static_cast<int64_t*>(out.data()), static_cast<int64_t>(out.shape(0)), n,
                              cuis::RngState{seed, offset}, d_rng, advance, to_stream(stream)));
}

}  // namespace cuis_python
