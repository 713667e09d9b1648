// cuis._cuis: error translation. Every failure becomes a Python exception from
// cuis._errors (a subclass of cuis.Error carrying the cuis::Error code and the
// C++ message); nothing in the module aborts.
#pragma once

#include <cuis/error.h>

#include <cstdint>
#include <string>
#include <tuple>

namespace cuis_python {

// A DeviceStatus as Python sees it: (code, index, value, positive_count, rank).
using StatusTuple = std::tuple<int, int64_t, float, uint64_t, int>;

// Raises the cuis.Error subclass for code (cuis/_errors.py picks it), with
// the message and, for input-data errors, the status's index and value.
// `kind` ("dtype", "device" or null) picks a narrower class for invalid_argument.
[[noreturn]] void raise_error(cuis::Error code, const std::string& message, const cuis::DeviceStatus* st = nullptr,
                              const char* kind = nullptr);

// A cuis::Error returned by the library: raised with last_error_message().
void check(cuis::Error e);

// An invalid_argument error (cuis.ArgumentError).
[[noreturn]] void bad_argument(const std::string& message);

// Raises the input-data error a status holds (nothing for success).
void raise_status(const cuis::DeviceStatus& st);

}  // namespace cuis_python
