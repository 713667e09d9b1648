// Internal: libcudnn.so.9 for the cuDNN backend of the dense layers
// (dense_cudnn.cpp), loaded at run time by cudnn_library.cpp: dlopen'ed once
// per process (in one that already holds it, as PyTorch does, that same
// library), never unloaded, never linked. Needs no GPU.
#pragma once

#include <cstdint>
#include <string>

namespace cuis {
namespace detail {

struct CudnnLibrary {
  void* handle = nullptr;  // dlopen's handle, or null (then why says why)
  int64_t version = 0;     // cudnnGetVersion(): major * 10000 + minor * 100 + patch (cuDNN 9)
  std::string path;        // the file loaded
  std::string why;
};

// The library, loaded on the first call (thread-safe; never throws). In a
// build without the backend: no handle, and why says so.
const CudnnLibrary& cudnn_loaded();
// "cuDNN 9.19.0 (/path/to/libcudnn.so.9)".
std::string cudnn_library_name(const CudnnLibrary& lib);

}  // namespace detail
}  // namespace cuis
