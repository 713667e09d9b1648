// cuis._cuis: exact widening to float32 (widen.h).
#include "widen.h"

#include "errors.h"
#include "host_calls.h"

#include <cstring>

namespace cuis_python {

const float* host_floats(const Array& a, size_t count, std::vector<float>* storage) {
  return cuis_python::host_floats(a.data(), kind_of(a.dtype()), count, storage);
}

void widen_cpu(const Array& src, OutArray out) {
  const Place where = require(src, "src", {Kind::f32, Kind::f16, Kind::bf16}, "float32, float16 or bfloat16", 1);
  same_place(where, require(out, "out", {Kind::f32}, "float32", 1), "src", "out");
  if (where.cuda) bad_argument("widen_cpu: src is on " + place_name(where));
  require_extent(static_cast<int64_t>(out.shape(0)), static_cast<int64_t>(src.shape(0)), "out");
  std::vector<float> storage;
  const float* f = host_floats(src, src.shape(0), &storage);
  if (src.shape(0) > 0) std::memcpy(out.data(), f, src.shape(0) * sizeof(float));
}

}  // namespace cuis_python
