// Loading libcudnn.so.9 at run time for the cuDNN backend (cudnn_library.h),
// and cudnn_library() (dense_ops.h) for tests and tools. Built with
// CUIS_WITH_CUDNN where cuis was configured with the cudnn-frontend headers;
// without it, a stub that says the backend was left out.
#include "nn/cudnn_library.h"

#include <exception>

#include "nn/dense_ops.h"

#if defined(CUIS_WITH_CUDNN)
#include <dlfcn.h>
#include <link.h>
#endif

namespace cuis {
namespace detail {
namespace {

CudnnLibrary load() {
  CudnnLibrary lib;
#if defined(CUIS_WITH_CUDNN)
  (void)dlerror();
  // By soname: where a libcudnn.so.9 is already loaded (PyTorch's), glibc returns that one.
  void* h = dlopen("libcudnn.so.9", RTLD_NOW | RTLD_GLOBAL);
  if (!h) {
    const char* e = dlerror();
    lib.why = std::string("libcudnn.so.9 could not be loaded: ") + (e ? e : "dlopen failed");
    return lib;
  }
  using GetVersion = size_t (*)();
  const auto get_version = reinterpret_cast<GetVersion>(dlsym(h, "cudnnGetVersion"));
  if (!get_version) {
    lib.why = "libcudnn.so.9 has no cudnnGetVersion";
    return lib;
  }
  lib.version = static_cast<int64_t>(get_version());  // host only: no GPU needed
  link_map* map = nullptr;
  if (dlinfo(h, RTLD_DI_LINKMAP, &map) == 0 && map && map->l_name) lib.path = map->l_name;
  if (lib.version / 10000 != 9) {
    lib.why = "libcudnn.so.9 reports version " + std::to_string(lib.version) + ", not cuDNN 9";
    return lib;
  }
  lib.handle = h;
#else
  lib.why =
      "built without the cuDNN backend (cudnn-frontend headers were not found when cuis was configured; "
      "scripts/setup installs them)";
#endif
  return lib;
}

}  // namespace

const CudnnLibrary& cudnn_loaded() {
  static const CudnnLibrary lib = []() noexcept {
    try {
      return load();
    } catch (...) {  // std::bad_alloc: no handle, and no why
      return CudnnLibrary{};
    }
  }();
  return lib;
}

std::string cudnn_library_name(const CudnnLibrary& lib) {
  const int64_t v = lib.version;
  return "cuDNN " + std::to_string(v / 10000) + "." + std::to_string(v % 10000 / 100) + "." + std::to_string(v % 100) +
         " (" + lib.path + ")";
}

bool cudnn_library(int64_t* version, std::string* path, std::string* why) {
  try {
    const CudnnLibrary& lib = cudnn_loaded();
    if (version) *version = lib.handle ? lib.version : 0;
    if (path) *path = lib.handle ? lib.path : "";
    if (why) *why = lib.handle ? "" : lib.why.empty() ? "libcudnn.so.9: out of host memory" : lib.why;
    return lib.handle != nullptr;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace detail
}  // namespace cuis
