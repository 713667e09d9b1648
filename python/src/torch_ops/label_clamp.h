// cuis's PyTorch ops: int64 labels as the int32 labels cuis::cross_entropy
// takes, on the device.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace cuis_python {

// out[r] = clamp(in[r], -1, classes): a label outside [0, classes) stays
// outside (the status then shows the clamped value) instead of wrapping into
// range, as the Python layer's labels.clamp(-1, classes).to(int32) does.
// Enqueued on `stream`; throws CallError for a launch error.
void clamp_labels(const int64_t* in, int32_t* out, int64_t rows, int32_t classes, cudaStream_t stream);

}  // namespace cuis_python
