// Internal: carving a caller's device workspace, shared by the sampler's
// launchers (sampler.cu, sharded.cu).
#pragma once

#include <cstddef>
#include <cstdint>

namespace cuis {
namespace detail {

constexpr size_t ALIGN = 256;  // the workspace's alignment and every part's
inline size_t align_up(size_t x) { return (x + ALIGN - 1) / ALIGN * ALIGN; }

inline bool aligned(const void* p, size_t a) { return reinterpret_cast<uintptr_t>(p) % a == 0; }

// Bump allocator over the workspace: the same sequence of take() calls gives
// the size (base == nullptr) and the pointers.
struct Carver {
  char* base;
  size_t used = 0;
  template <class T>
  T* take(size_t count) {
    T* p = base ? reinterpret_cast<T*>(base + used) : nullptr;
    used += align_up(count * sizeof(T));
    return p;
  }
};

}  // namespace detail
}  // namespace cuis
