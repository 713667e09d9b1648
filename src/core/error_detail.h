// Internal: recording an error's detail for last_error_message().
#pragma once

#include <string>

#include "cuis/error.h"

namespace cuis {
namespace detail {

// Records message as this thread's last error detail and returns e.
Error set_error(Error e, const std::string& message);

}  // namespace detail
}  // namespace cuis

// Returns the error from the enclosing function when expr is not success.
#define CUIS_TRY(expr)                                     \
  do {                                                     \
    const ::cuis::Error cuis_e_ = (expr);                  \
    if (cuis_e_ != ::cuis::Error::success) return cuis_e_; \
  } while (0)
