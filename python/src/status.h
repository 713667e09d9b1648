// cuis._cuis: status buffers, the uint8[sizeof(cuis::DeviceStatus)] arrays a
// CUDA call writes its input-data errors into, and their tuple form.
#pragma once

#include "arrays.h"
#include "errors.h"

#include <cuis/error.h>

#include <cstdint>

namespace cuis_python {

StatusTuple to_tuple(const cuis::DeviceStatus& s);
cuis::DeviceStatus from_tuple(int code, int64_t index, float value, uint64_t positive, int rank = 0);

// A status buffer passed to a call, checked (uint8, one DeviceStatus long, on
// `where`: the device of the call's first input, which messages call "scores")
// and returned as a pointer.
cuis::DeviceStatus* status_ptr(OutArray& a, const Place& where);

// The status an earlier call wrote: read on the host (CPU arrays) or copied
// from the device on `stream`, which it waits for (cuis::read_status).
StatusTuple read_status(const Array& status, uintptr_t stream);

}  // namespace cuis_python
