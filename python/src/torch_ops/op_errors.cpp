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

bool is_out_of_memory(const std::exception& e) {
  // torch's CUDA caching allocator: "CUDA out of memory. Tried to allocate ..."; its CPU
  // allocator: "DefaultCPUAllocator: can't allocate memory: you tried to allocate ...".
  return std::strstr(e.what(), "out of memory") != nullptr || std::strstr(e.what(), "can't allocate memory") != nullptr;
}

CallError out_of_memory_error(const std::exception& e) {
  CallError c;
  c.code = cuis::Error::out_of_memory;
  c.message = std::string("allocating an output or the workspace: ") + e.what();
  return c;
}

}  // namespace cuis_python
