// Internal: recording an error's detail for last_error_message().
#pragma once

#include <exception>
#include <new>
#include <string>

#include "cuis/error.h"

namespace cuis {
namespace detail {

// Records message as this thread's last error detail and returns e.
Error set_error(Error e, const std::string& message);

// Runs f (returning Error) at a public API edge and turns an exception from
// the standard library into an error code: std::bad_alloc into out_of_memory,
// anything else into internal_error, each with a message naming `api`. No
// exception leaves it.
template <class F>
Error guarded(const char* api, F&& f) noexcept {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    try {
      return set_error(Error::out_of_memory, std::string(api) + ": out of host memory");
    } catch (...) {
      return Error::out_of_memory;
    }
  } catch (const std::exception& e) {
    try {
      return set_error(Error::internal_error, std::string(api) + ": " + e.what());
    } catch (...) {
      return Error::internal_error;
    }
  } catch (...) {
    return Error::internal_error;
  }
}

}  // namespace detail
}  // namespace cuis

// Returns the error from the enclosing function when expr is not success.
#define CUIS_TRY(expr)                                     \
  do {                                                     \
    const ::cuis::Error cuis_e_ = (expr);                  \
    if (cuis_e_ != ::cuis::Error::success) return cuis_e_; \
  } while (0)
