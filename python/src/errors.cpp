// Errors of the Python layer's C++ calls (errors.h).
#include "errors.h"

namespace cuis_python {

void raise_error(cuis::Error code, const std::string& message, const cuis::DeviceStatus* st, const char* kind) {
  CallError e;
  e.code = code;
  e.message = message;
  if (st) {
    e.has_status = true;
    e.status = *st;
  }
  if (kind) e.kind = kind;
  throw e;
}

void check(cuis::Error e) {
  if (e == cuis::Error::success) return;
  std::string msg = cuis::last_error_message();
  if (msg.empty()) msg = cuis::error_string(e);
  raise_error(e, msg);
}

void bad_argument(const std::string& message) { raise_error(cuis::Error::invalid_argument, message); }

void raise_status(const cuis::DeviceStatus& st) {
  if (st.code != cuis::Error::success) raise_error(st.code, cuis::describe(st), &st);
}

}  // namespace cuis_python
