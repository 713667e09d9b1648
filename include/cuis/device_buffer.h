// DeviceBuffer<T>: a move-only owner of device memory, for workspaces, tests
// and tools. Allocation happens only in resize(), never behind the caller.
#pragma once

#include <cstddef>
#include <utility>

#include "cuis/error.h"

namespace cuis {
namespace detail {
// cudaMalloc with a cuis::Error (out_of_memory / no_device / cuda_error).
Error device_alloc(void** ptr, size_t bytes);
void device_free(void* ptr) noexcept;
}  // namespace detail

template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : m_ptr(std::exchange(o.m_ptr, nullptr)), m_size(std::exchange(o.m_size, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      release();
      m_ptr = std::exchange(o.m_ptr, nullptr);
      m_size = std::exchange(o.m_size, 0);
    }
    return *this;
  }
  ~DeviceBuffer() { release(); }

  // Frees the old memory and allocates `count` elements (synchronous cudaMalloc).
  Error resize(size_t count) {
    release();
    void* p = nullptr;
    const Error e = count ? detail::device_alloc(&p, count * sizeof(T)) : Error::success;
    if (e == Error::success) {
      m_ptr = static_cast<T*>(p);
      m_size = count;
    }
    return e;
  }
  void release() noexcept {
    if (m_ptr) detail::device_free(m_ptr);
    m_ptr = nullptr;
    m_size = 0;
  }
  T* data() const { return m_ptr; }
  size_t size() const { return m_size; }
  size_t bytes() const { return m_size * sizeof(T); }

 private:
  T* m_ptr = nullptr;
  size_t m_size = 0;
};

}  // namespace cuis
