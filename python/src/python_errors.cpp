// cuis._cuis: CallError -> cuis._errors exceptions (python_errors.h).
#include "python_errors.h"

#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>

#include <exception>

#include "errors.h"

namespace cuis_python {

namespace nb = nanobind;

namespace {

void set_python_error(const CallError& e) {
  nb::object make = nb::module_::import_("cuis._errors").attr("_make_error");
  const cuis::DeviceStatus& st = e.status;
  nb::object status = e.has_status ? nb::cast(StatusTuple{static_cast<int>(st.code), st.index, st.value,
                                                          st.positive_count, static_cast<int>(st.rank)})
                                   : nb::none();
  nb::object exc = make(static_cast<int>(e.code), e.message, status, e.kind.empty() ? nb::none() : nb::cast(e.kind));
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
}

}  // namespace

void register_error_translator() {
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const CallError& e) {
      try {
        set_python_error(e);
      } catch (nb::python_error& pe) {
        pe.restore();  // importing cuis._errors failed: that error instead
      }
    }
  });
}

}  // namespace cuis_python
