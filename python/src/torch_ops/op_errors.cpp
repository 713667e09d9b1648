// cuis's PyTorch ops: tagged error messages (op_errors.h).
#include "op_errors.h"

#include <cstdint>
#include <cstdio>
#include <cstring>

namespace cuis_python {

std::string tagged_message(const CallError& e) {
  std::string tag = "[cuis:" + std::to_string(static_cast<int>(e.code)) + ":" + e.kind;
  if (e.has_status) {
    uint32_t value_bits;
    std::memcpy(&value_bits, &e.status.value, sizeof value_bits);
    char value[16];
    std::snprintf(value, sizeof value, "%08x", static_cast<unsigned>(value_bits));
    tag += ":" + std::to_string(e.status.index) + ":" + value + ":" + std::to_string(e.status.positive_count) + ":" +
           std::to_string(e.status.rank);
  }
  return tag + "] " + e.message;
}

}  // namespace cuis_python
