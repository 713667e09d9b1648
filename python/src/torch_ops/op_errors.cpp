// cuis's PyTorch ops: tagged error messages (op_errors.h).
#include "op_errors.h"

#include <cstdio>

namespace cuis_python {

std::string tagged_message(const CallError& e) {
  std::string tag = "[cuis:" + std::to_string(static_cast<int>(e.code)) + ":" + e.kind;
  if (e.has_status) {
    char value[64];
    std::snprintf(value, sizeof value, "%a", static_cast<double>(e.status.value));
    tag += ":" + std::to_string(e.status.index) + ":" + value + ":" + std::to_string(e.status.positive_count) + ":" +
           std::to_string(e.status.rank);
  }
  return tag + "] " + e.message;
}

}  // namespace cuis_python
