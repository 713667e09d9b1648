// Internal: launching the loss kernels from other translation units (the
// kernels themselves are defined once, in src/loss.cu).
#pragma once

#include <cuda_runtime_api.h>

#include "cuis/error.h"
#include "kernels/nn/loss_params.h"

namespace cuis {
namespace detail {

Error launch_cross_entropy(const kernels::CrossEntropyParams& p, cudaStream_t stream);
Error launch_squared_error(const kernels::SquaredErrorParams& p, cudaStream_t stream);
Error launch_loss_status(const kernels::LossStatusParams& p, cudaStream_t stream);

}  // namespace detail
}  // namespace cuis
