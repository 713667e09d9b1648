// cuis's PyTorch ops: the sampler and uniform indices (ops.h).
#include <cuis/sampler.h>
#include <torch/csrc/stable/ops.h>

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "cuda_device.h"
#include "errors.h"
#include "host_calls.h"
#include "ops.h"
#include "sample_args.h"

namespace cuis_python {

namespace {

constexpr size_t STATUS_BYTES = sizeof(cuis::DeviceStatus);

// The int64 [seed, offset] state tensor beside `where` (`owner` names the first input).
cuis::RngState* rng_ptr(const Tensor& rng, const Place& where, const char* owner) {
  same_place(where, require(rng, "rng", {Kind::i64}, "int64 ([seed, offset])", 1), owner, "rng");
  require_extent(rng.size(0), 2, "rng");
  return static_cast<cuis::RngState*>(rng.data_ptr());
}

int weighting_code(int64_t w) {
  if (w < 0 || w > 2) bad_argument("weighting code " + std::to_string(w) + " is not 0, 1 or 2");
  return static_cast<int>(w);
}

Tensors3 run_sample(const Tensor& scores, int64_t num_draws, cuis::SampleOptions o,
                    const std::optional<Tensor>& candidate_ids, const Tensor* rng,
                    const std::optional<Tensor>& mean_loss_tensor, bool advance_rng) {
  const ArrayDesc desc = describe_tensor(scores, "scores");
  const Place where = require(desc, "scores", {Kind::f32, Kind::f16, Kind::bf16}, "float32, float16 or bfloat16", 1);
  const int64_t n = scores.size(0);
  check_sample_args(n, num_draws, o);
  const int64_t* ids = nullptr;
  if (candidate_ids) {
    same_place(where, require(*candidate_ids, "candidate_ids", {Kind::i64}, "int64", 1), "scores", "candidate_ids");
    require_extent(candidate_ids->size(0), n, "candidate_ids");
    ids = static_cast<const int64_t*>(candidate_ids->data_ptr());
  }
  cuis::RngState* state = rng ? rng_ptr(*rng, where, "scores") : nullptr;
  const float* mean_loss = nullptr;
  if (mean_loss_tensor) {
    same_place(where, require(*mean_loss_tensor, "mean_loss", {Kind::f32}, "float32", 1), "scores", "mean_loss");
    require_extent(mean_loss_tensor->size(0), 1, "mean_loss");
    mean_loss = static_cast<const float*>(mean_loss_tensor->data_ptr());
  }
  Tensor indices = new_tensor(num_draws, Kind::i64, where);
  Tensor weights = new_tensor(num_draws, Kind::f32, where);
  if (!where.cuda) {
    std::vector<float> widened;
    const float* s = host_floats(scores.data_ptr(), desc.kind, static_cast<size_t>(n), &widened);
    sample_host(s, n, ids, num_draws, static_cast<int64_t*>(indices.data_ptr()),
                static_cast<float*>(weights.data_ptr()), o, state, mean_loss, advance_rng);
    return {indices, weights, success_status()};
  }
  // Widened on torch's current stream, as Tensor.float() does.
  const Tensor s32 = desc.kind == Kind::f32 ? scores : to_float32(scores, where);
  DeviceGuard guard(where.device, "sample");
  const cudaStream_t stream = current_stream(where.device);
  o.d_rng = state;
  o.advance_rng = state && advance_rng;
  o.d_mean_loss = mean_loss;
  size_t ws_bytes = 0;
  check(cuis::sample_workspace_size(n, num_draws, o, &ws_bytes));
  // The workspace goes back to torch's allocator when this returns; the
  // allocator reuses it only in order on this stream, after the kernels.
  Tensor workspace = new_tensor(static_cast<int64_t>(std::max<size_t>(ws_bytes, 1)), Kind::u8, where);
  Tensor status = new_tensor(STATUS_BYTES, Kind::u8, where);
  const cuis::SampleArgs a{static_cast<const float*>(s32.data_ptr()),
                           n,
                           ids,
                           num_draws,
                           static_cast<int64_t*>(indices.data_ptr()),
                           static_cast<float*>(weights.data_ptr()),
                           static_cast<cuis::DeviceStatus*>(status.data_ptr())};
  check(cuis::sample(a, o, workspace.data_ptr(), ws_bytes, stream));
  return {indices, weights, status};
}

Tensor run_uniform(int64_t count, int64_t n, cuis::RngState from, const Place& where, cuis::RngState* state,
                   bool advance) {
  if (count <= 0 || n <= 0) raise_error(cuis::Error::empty_input, "uniform_indices: count and n must be positive");
  Tensor out = new_tensor(count, Kind::i64, where);
  if (!where.cuda) {
    uniform_host(static_cast<int64_t*>(out.data_ptr()), count, n, from, state, advance);
    return out;
  }
  DeviceGuard guard(where.device, "uniform_indices");
  check(cuis::uniform_indices(static_cast<int64_t*>(out.data_ptr()), count, n, from, state, advance,
                              current_stream(where.device)));
  return out;
}

uint64_t bits(int64_t v) { return static_cast<uint64_t>(v); }

}  // namespace

Tensors3 sample_op(Tensor scores, int64_t num_draws, bool replacement, int64_t weighting, double k, double smooth,
                   double adaptive_smooth, double mean_loss, double power, std::optional<Tensor> candidate_ids,
                   int64_t seed, int64_t offset) {
  const cuis::SampleOptions o =
      make_options(replacement, weighting_code(weighting), static_cast<float>(k), static_cast<float>(smooth),
                   static_cast<float>(adaptive_smooth), static_cast<float>(mean_loss), static_cast<float>(power),
                   bits(seed), bits(offset));
  return run_sample(scores, num_draws, o, candidate_ids, nullptr, std::nullopt, false);
}

Tensors3 sample_rng_op(Tensor scores, int64_t num_draws, bool replacement, int64_t weighting, double k, double smooth,
                       double adaptive_smooth, double mean_loss, double power, std::optional<Tensor> candidate_ids,
                       Tensor rng, std::optional<Tensor> mean_loss_tensor, bool advance_rng) {
  const cuis::SampleOptions o =
      make_options(replacement, weighting_code(weighting), static_cast<float>(k), static_cast<float>(smooth),
                   static_cast<float>(adaptive_smooth), static_cast<float>(mean_loss), static_cast<float>(power), 0, 0);
  return run_sample(scores, num_draws, o, candidate_ids, &rng, mean_loss_tensor, advance_rng);
}

Tensor uniform_indices_op(int64_t count, int64_t n, int64_t seed, int64_t offset, torch::stable::Device device) {
  const Place where = place_of(device, "uniform_indices");
  if (where.cuda && where.device >= device_count())
    raise_error(cuis::Error::no_device, "uniform_indices: cuda:" + std::to_string(where.device) +
                                            " is not available (" + std::to_string(device_count()) +
                                            " CUDA device(s) seen); the CPU reference runs the same operations "
                                            "on CPU arrays");
  return run_uniform(count, n, cuis::RngState{bits(seed), bits(offset)}, where, nullptr, false);
}

Tensor uniform_indices_rng_op(Tensor rng, int64_t count, int64_t n, bool advance_rng) {
  const Place where = require(rng, "rng", {Kind::i64}, "int64 ([seed, offset])", 1);
  return run_uniform(count, n, cuis::RngState{}, where, rng_ptr(rng, where, "rng"), advance_rng);
}

}  // namespace cuis_python
