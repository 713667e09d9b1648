// cuis._cuis: exact widening to float32 (widen.h).
#include "widen.h"

#include "errors.h"

#include <cmath>
#include <cstdint>
#include <cstring>

namespace cuis_python {

namespace {

// IEEE binary16 -> binary32: exact (every half is a float).
float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);  // inf, NaN (payload kept)
  } else if (exp != 0) {
    bits = sign | ((exp + 112u) << 23) | (mant << 13);
  } else {
    const float mag = std::ldexp(static_cast<float>(mant), -24);  // subnormal or zero: mant * 2^-24, exact
    uint32_t m;
    std::memcpy(&m, &mag, 4);
    bits = sign | m;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// bfloat16 -> float32: the top half of the float's bits.
float bf16_to_float(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

}  // namespace

const float* host_floats(const Array& a, size_t count, std::vector<float>* storage) {
  const Kind k = kind_of(a.dtype());
  if (k == Kind::f32) return static_cast<const float*>(a.data());
  storage->resize(count);
  const uint16_t* src = static_cast<const uint16_t*>(a.data());
  for (size_t i = 0; i < count; ++i) (*storage)[i] = k == Kind::f16 ? half_to_float(src[i]) : bf16_to_float(src[i]);
  return storage->data();
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
