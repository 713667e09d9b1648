// The step's DeviceStatus from the stages' flags, and the optimizer step
// count with Adam's bias corrections, advanced on device for graph replays.
#pragma once

#include "kernels/nn/mlp_params.h"

namespace cuis {
namespace kernels {

__global__ void batch_status_kernel(BatchStatusParams p) {
  if (p.keep_earlier_error && p.status->code != Error::success) return;
  DeviceStatus st{Error::success, 0, -1, 0.0f, 0.0f, 0};
  // The lowest bad position wins; at one position a gather problem (index,
  // feature, weight) is named before a loss problem (label, output).
  const unsigned long long g = p.flags->gather_bad, l = p.flags->loss_bad;
  if (g != ~0ull && g <= l) {
    const int64_t j = static_cast<int64_t>(g);
    const int64_t row = p.indices ? p.indices[j] : j;
    st.index = j;
    if (row < 0 || row >= p.rows) {
      st.code = Error::index_out_of_range;
      st.value = static_cast<float>(row);
    } else {
      st.code = Error::non_finite_value;
      bool found = false;
      for (int32_t f = 0; f < p.features && !found; ++f) {
        const float v = p.data[row * p.features + f];
        if (!isfinite(v)) {
          st.value = v;
          found = true;
        }
      }
      if (!found && p.weights) st.value = p.weights[j];
    }
  } else if (l != ~0ull) {
    const int64_t j = static_cast<int64_t>(l);
    const int64_t row = p.indices ? p.indices[j] : j;
    st.index = j;
    const float* out = p.outputs + (j - p.chunk_first) * p.classes;
    if (p.labels && (p.labels[row] < 0 || p.labels[row] >= p.classes)) {
      st.code = Error::invalid_label;
      st.value = static_cast<float>(p.labels[row]);
    } else {
      st.code = Error::non_finite_value;
      for (int32_t c = 0; c < p.classes; ++c)
        if (!isfinite(out[c])) {
          st.value = out[c];
          break;
        }
      if (!p.labels && isfinite(out[0])) st.value = p.targets[row];
    }
  }
  *p.status = st;
  if (p.step) {
    p.step->skip = st.code != Error::success;
    if (!p.step->skip) {
      const unsigned long long t = ++p.step->step;
      p.step->bc1 = 1.0 - pow(static_cast<double>(p.beta1), static_cast<double>(t));
      p.step->bc2 = 1.0 - pow(static_cast<double>(p.beta2), static_cast<double>(t));
    }
  }
}

}  // namespace kernels
}  // namespace cuis
