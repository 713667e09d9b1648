// cuis._cuis: CallError (errors.h) as the exception of cuis._errors that
// `_make_error` picks for its code, carrying the message and the status.
#pragma once

namespace cuis_python {

// Registers nanobind's translator from CallError to cuis._errors exceptions.
void register_error_translator();

}  // namespace cuis_python
