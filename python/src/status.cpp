// cuis._cuis: status buffers (status.h).
#include "status.h"

#include "cuda_device.h"

#include <cuis/sampler.h>

#include <cstring>
#include <string>

namespace cuis_python {

StatusTuple to_tuple(const cuis::DeviceStatus& s) {
  return StatusTuple{static_cast<int>(s.code), s.index, s.value, s.positive_count, static_cast<int>(s.rank)};
}

cuis::DeviceStatus from_tuple(int code, int64_t index, float value, uint64_t positive, int rank) {
  cuis::DeviceStatus s{};
  s.code = static_cast<cuis::Error>(code);
  s.index = index;
  s.value = value;
  s.positive_count = positive;
  s.rank = static_cast<int32_t>(rank);
  return s;
}

cuis::DeviceStatus* status_ptr(OutArray& a, const Place& where) {
  require(a, "status", {Kind::u8}, "uint8", 1);
  same_place(where, place_of(a, "status"), "scores", "status");
  require_extent(static_cast<int64_t>(a.shape(0)), sizeof(cuis::DeviceStatus), "status");
  return static_cast<cuis::DeviceStatus*>(a.data());
}

StatusTuple read_status(const Array& status, uintptr_t stream) {
  const Place where = require(status, "status", {Kind::u8}, "uint8", 1);
  require_extent(static_cast<int64_t>(status.shape(0)), sizeof(cuis::DeviceStatus), "status");
  cuis::DeviceStatus st{};
  if (!where.cuda) {
    std::memcpy(&st, status.data(), sizeof st);
  } else {
    DeviceGuard guard(where.device, "read_status");
    cuis::Error e;
    std::string msg;
    {
      nb::gil_scoped_release release;
      e = cuis::read_status(static_cast<const cuis::DeviceStatus*>(status.data()), to_stream(stream), &st);
      if (e != cuis::Error::success) msg = cuis::last_error_message();
    }
    if (e != cuis::Error::success) raise_error(e, msg.empty() ? cuis::error_string(e) : msg);
  }
  return to_tuple(st);
}

}  // namespace cuis_python
