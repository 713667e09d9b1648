// Framework-free array checks (intake.h).
#include "intake.h"

#include <cuis/error.h>

#include "errors.h"

namespace cuis_python {

std::string place_name(const Place& p) { return p.cuda ? "cuda:" + std::to_string(p.device) : "cpu"; }

Place place_of(const ArrayDesc& a, const char* name) {
  if (a.supported_device) return a.place;
  raise_error(
      cuis::Error::invalid_argument,
      std::string(name) + " is on an unsupported device (" + a.device_text + "); cuis takes CPU and CUDA arrays",
      nullptr, "device");
}

Place require(const ArrayDesc& a, const char* name, std::initializer_list<Kind> allowed, const char* allowed_text,
              size_t dims) {
  bool ok = false;
  for (Kind x : allowed) ok = ok || x == a.kind;
  if (!ok)
    raise_error(cuis::Error::invalid_argument,
                std::string(name) + " has dtype " + a.dtype + "; expected " + allowed_text, nullptr, "dtype");
  if (a.ndim != dims)
    raise_error(cuis::Error::shape_mismatch, std::string(name) + " has " + std::to_string(a.ndim) +
                                                 " dimension(s); expected " + std::to_string(dims));
  // C-contiguous: the stride of each dimension of extent > 1 is the product of
  // the extents after it.
  bool empty = false;
  for (size_t i = 0; i < dims; ++i) empty = empty || a.shape[i] == 0;
  int64_t expect = 1;
  for (size_t i = dims; !empty && i-- > 0;) {
    const int64_t extent = a.shape[i];
    if (extent > 1 && a.strides[i] != expect)
      bad_argument(std::string(name) + " is not contiguous (stride " + std::to_string(a.strides[i]) + " in dimension " +
                   std::to_string(i) + ", expected " + std::to_string(expect) + "); pass a contiguous copy");
    expect *= extent;
  }
  return place_of(a, name);
}

void same_place(const Place& a, const Place& b, const char* name_a, const char* name_b) {
  if (!(a == b))
    raise_error(cuis::Error::invalid_argument,
                std::string(name_b) + " is on " + place_name(b) + " but " + name_a + " is on " + place_name(a) +
                    "; every array of one call must be on the same device",
                nullptr, "device");
}

void require_extent(int64_t got, int64_t want, const char* name) {
  if (got != want)
    raise_error(cuis::Error::shape_mismatch,
                std::string(name) + " has " + std::to_string(got) + " elements; expected " + std::to_string(want));
}

}  // namespace cuis_python
