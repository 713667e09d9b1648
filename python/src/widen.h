// cuis._cuis: exact widening of float16 and bfloat16 arrays to float32 on the
// host (every 16-bit value is a float32), as the CPU calls read their inputs.
#pragma once

#include "arrays.h"

#include <cstddef>
#include <vector>

namespace cuis_python {

// A host array of float32, float16 or bfloat16 as float32: the array itself
// for float32 (no copy), else a widened copy in *storage.
const float* host_floats(const Array& a, size_t count, std::vector<float>* storage);

// Writes float32/float16/bfloat16 `src` into float32 `out`, exactly (the
// widening sample_cpu uses), for the Python layer.
void widen_cpu(const Array& src, OutArray out);

}  // namespace cuis_python
