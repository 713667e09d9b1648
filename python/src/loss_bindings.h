// cuis._cuis: the loss functions (cuis/nn/loss.h): per-row softmax
// cross-entropy and gradient norm, cuis::cross_entropy on device arrays and
// the CPU reference cuis::ref::cross_entropy_row on host arrays.
#pragma once

#include "arrays.h"

#include <cstdint>

namespace cuis_python {

// Every row on the host, the GIL released; raises for the lowest bad row.
void cross_entropy_cpu(const Array& logits, const Array& labels, OutArray loss, OutArray grad_norm);

// Enqueued on `stream`; a bad row goes to `status`.
void cross_entropy_cuda(const Array& logits, const Array& labels, OutArray loss, OutArray grad_norm,
                        OutArray status, uintptr_t stream);

}  // namespace cuis_python
