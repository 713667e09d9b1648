// The CPU side of the Python layer's calls (host_calls.h).
#include "host_calls.h"

#include <cuis/nn/reference.h>
#include <cuis/sampler/reference.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "errors.h"

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

// The library's error with its message.
[[noreturn]] void raise_library_error(cuis::Error e) {
  const std::string msg = cuis::last_error_message();
  raise_error(e, msg.empty() ? cuis::error_string(e) : msg);
}

}  // namespace

const float* host_floats(const void* data, Kind kind, size_t count, std::vector<float>* storage) {
  if (kind == Kind::f32) return static_cast<const float*>(data);
  storage->resize(count);
  const uint16_t* src = static_cast<const uint16_t*>(data);
  for (size_t i = 0; i < count; ++i) (*storage)[i] = kind == Kind::f16 ? half_to_float(src[i]) : bf16_to_float(src[i]);
  return storage->data();
}

void sample_host(const float* scores, int64_t n, const int64_t* candidate_ids, int64_t num_draws, int64_t* indices,
                 float* weights, cuis::SampleOptions o, cuis::RngState* state, const float* mean_loss, bool advance) {
  if (state) o.rng = *state;  // read as the device does, advanced below as the device does
  if (mean_loss) o.mean_loss = *mean_loss;
  cuis::DeviceStatus st{};
  const cuis::SampleArgs a{scores, n, candidate_ids, num_draws, indices, weights, &st};
  const cuis::Error e = cuis::ref::sample(a, o);
  if (e != cuis::Error::success) raise_library_error(e);
  // The device advances d_rng in the call's last kernel, whatever the scores held.
  if (state && advance) state->offset += cuis::counters_consumed(n, num_draws, o);
  raise_status(st);
}

void uniform_host(int64_t* out, int64_t count, int64_t n, cuis::RngState from, cuis::RngState* state, bool advance) {
  const cuis::Error e = cuis::ref::uniform_indices(out, count, n, state ? *state : from);
  if (e != cuis::Error::success) raise_library_error(e);
  if (state && advance) state->offset += static_cast<uint64_t>(count);
}

cuis::DeviceStatus cross_entropy_host(const float* logits, const void* labels, bool labels64, int64_t rows,
                                      int32_t classes, float* loss, float* grad_norm) {
  cuis::DeviceStatus st{cuis::Error::success, 0, -1, 0.0f, 0.0f, 0};
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t label = labels64 ? static_cast<const int64_t*>(labels)[r] : static_cast<const int32_t*>(labels)[r];
    // A label beyond int32 is out of range whatever the classes: -1 marks it.
    const int32_t y = label >= 0 && label <= std::numeric_limits<int32_t>::max() ? static_cast<int32_t>(label) : -1;
    const float* zr = logits + r * classes;
    const cuis::Error e = cuis::ref::cross_entropy_row(zr, classes, y, 1.0f, &loss[r], &grad_norm[r], nullptr);
    if (e != cuis::Error::success && st.code == cuis::Error::success) {
      // The status the GPU's loss_status_kernel writes for the lowest bad row.
      st.code = e;
      st.index = r;
      if (e == cuis::Error::invalid_label) {
        st.value = static_cast<float>(label);
      } else {
        for (int32_t c = 0; c < classes; ++c)
          if (!std::isfinite(zr[c])) {
            st.value = zr[c];
            break;
          }
      }
    }
  }
  return st;
}

}  // namespace cuis_python
