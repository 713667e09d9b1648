// cuis._cuis: error translation (errors.h): cuis::Error codes and DeviceStatus
// contents raised as the exceptions of cuis._errors.
#include "errors.h"

#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>

namespace cuis_python {

namespace nb = nanobind;

void raise_error(cuis::Error code, const std::string& message, const cuis::DeviceStatus* st, const char* kind) {
  nb::object make = nb::module_::import_("cuis._errors").attr("_make_error");
  nb::object status = st ? nb::cast(StatusTuple{static_cast<int>(st->code), st->index, st->value,
                                                st->positive_count, static_cast<int>(st->rank)})
                         : nb::none();
  nb::object exc = make(static_cast<int>(code), message, status, kind ? nb::cast(std::string(kind)) : nb::none());
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
  throw nb::python_error();
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
