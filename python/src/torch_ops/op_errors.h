// cuis's PyTorch ops: how a CallError (errors.h) leaves an op. torch turns any
// C++ exception of an op into a RuntimeError with its message, so the message
// starts with a tag that cuis/_torch_ops.py reads back into the cuis._errors
// exception (code, kind, status):
//   [cuis:CODE:KIND] message
//   [cuis:CODE:KIND:INDEX:VALUE:POSITIVE:RANK] message   (input-data errors)
// VALUE is the float's 32 bits in hexadecimal (exact, NaN payloads included,
// whatever the C locale).
#pragma once

#include <stdexcept>
#include <string>

#include "errors.h"

namespace cuis_python {

std::string tagged_message(const CallError& e);

// Runs f, turning a CallError into a std::runtime_error with tagged_message.
template <class F>
auto rethrow_tagged(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const CallError& e) {
    throw std::runtime_error(tagged_message(e));
  }
}

}  // namespace cuis_python
