// Errors of the Python layer's C++ calls. Every failure is a CallError (the
// cuis::Error code, the C++ message, for input-data errors the DeviceStatus,
// and a narrower kind for invalid_argument), framework-free: cuis._cuis turns
// it into the cuis._errors exception (python_errors.h), the PyTorch ops into a
// tagged message their Python side turns into the same exception
// (torch_ops/op_errors.h). Nothing here aborts.
#pragma once

#include <cuis/error.h>

#include <cstdint>
#include <exception>
#include <string>
#include <tuple>

namespace cuis_python {

// A DeviceStatus as Python sees it: (code, index, value, positive_count, rank).
using StatusTuple = std::tuple<int, int64_t, float, uint64_t, int>;

struct CallError : std::exception {
  cuis::Error code = cuis::Error::internal_error;
  std::string message;
  bool has_status = false;
  cuis::DeviceStatus status{};
  std::string kind;  // "dtype", "device" or empty: picks a narrower class for invalid_argument
  const char* what() const noexcept override { return message.c_str(); }
};

// Throws the CallError for code, with the message and, for input-data errors,
// the status. `kind` ("dtype", "device" or null) as in CallError.
[[noreturn]] void raise_error(cuis::Error code, const std::string& message, const cuis::DeviceStatus* st = nullptr,
                              const char* kind = nullptr);

// A cuis::Error returned by the library: raised with last_error_message().
void check(cuis::Error e);

// An invalid_argument error (cuis.ArgumentError).
[[noreturn]] void bad_argument(const std::string& message);

// Raises the input-data error a status holds (nothing for success).
void raise_status(const cuis::DeviceStatus& st);

}  // namespace cuis_python
