// Host launchers of the loss kernels, and the public cross_entropy() and
// squared_error().
#include "core/cuda_check.h"
#include "cuis/nn/loss.h"
#include "kernels/nn/loss.cuh"
#include "core/launch.h"
#include "nn/loss_launch.h"

namespace cuis {

using detail::set_error;

namespace detail {

Error launch_cross_entropy(const kernels::CrossEntropyParams& p, cudaStream_t stream) {
  unsigned grid = 0;
  if (const Error e = grid_size((p.rows + 7) / 8, 8, &grid); e != Error::success) return e;
  kernels::cross_entropy_kernel<<<grid, kernels::LOSS_THREADS, 0, stream>>>(p);
  CUIS_LAUNCH_CHECK(stream);
  return Error::success;
}

Error launch_squared_error(const kernels::SquaredErrorParams& p, cudaStream_t stream) {
  unsigned grid = 0;
  if (const Error e = grid_size((p.rows + kernels::LOSS_THREADS - 1) / kernels::LOSS_THREADS, 8, &grid);
      e != Error::success)
    return e;
  kernels::squared_error_kernel<<<grid, kernels::LOSS_THREADS, 0, stream>>>(p);
  CUIS_LAUNCH_CHECK(stream);
  return Error::success;
}

Error launch_loss_status(const kernels::LossStatusParams& p, cudaStream_t stream) {
  kernels::loss_status_kernel<<<1, 1, 0, stream>>>(p);
  CUIS_LAUNCH_CHECK(stream);
  return Error::success;
}

}  // namespace detail

namespace {
// The status's index field doubles as the atomicMin target: 0xFF bytes make it
// ~0 ("no bad row") before the loss kernel runs.
unsigned long long* bad_row_slot(DeviceStatus* s) { return reinterpret_cast<unsigned long long*>(&s->index); }
}  // namespace

Error cross_entropy(const CrossEntropyArgs& a, cudaStream_t stream) {
  CUIS_TRY(detail::require_device("cross_entropy"));
  if (a.rows <= 0) return set_error(Error::empty_input, "cross_entropy: rows must be positive");
  if (a.classes <= 0) return set_error(Error::shape_mismatch, "cross_entropy: classes must be positive");
  if (!a.logits || !a.labels || !a.status)
    return set_error(Error::null_pointer, "cross_entropy: logits, labels and status are required");
  CUIS_CUDA_TRY(cudaMemsetAsync(a.status, 0xFF, sizeof(DeviceStatus), stream));
  const kernels::CrossEntropyParams p{a.logits, a.labels,    a.rows,    a.classes, a.sample_weights,
                                      a.grad_scale, a.loss,  a.grad_norm, a.dlogits, nullptr,
                                      bad_row_slot(a.status), 0};
  if (const Error e = detail::launch_cross_entropy(p, stream); e != Error::success) return e;
  if (const Error e = detail::launch_loss_status(
          kernels::LossStatusParams{bad_row_slot(a.status), a.logits, nullptr, a.labels, a.classes, a.status}, stream);
      e != Error::success)
    return e;
  return set_error(Error::success, "");
}

Error squared_error(const SquaredErrorArgs& a, cudaStream_t stream) {
  CUIS_TRY(detail::require_device("squared_error"));
  if (a.rows <= 0) return set_error(Error::empty_input, "squared_error: rows must be positive");
  if (!a.prediction || !a.target || !a.status)
    return set_error(Error::null_pointer, "squared_error: prediction, target and status are required");
  CUIS_CUDA_TRY(cudaMemsetAsync(a.status, 0xFF, sizeof(DeviceStatus), stream));
  const kernels::SquaredErrorParams p{a.prediction, a.target,  a.rows,        a.sample_weights,       a.grad_scale,
                                      a.loss,       nullptr,   a.dprediction, bad_row_slot(a.status), 0};
  if (const Error e = detail::launch_squared_error(p, stream); e != Error::success) return e;
  if (const Error e = detail::launch_loss_status(
          kernels::LossStatusParams{bad_row_slot(a.status), a.prediction, a.target, nullptr, 0, a.status}, stream);
      e != Error::success)
    return e;
  return set_error(Error::success, "");
}

}  // namespace cuis
