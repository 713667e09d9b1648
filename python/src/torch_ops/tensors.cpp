// Torch tensors for cuis's PyTorch ops (tensors.h).
#include "tensors.h"

#include <cuis/error.h>
#include <dlfcn.h>
#include <torch/csrc/stable/accelerator.h>
#include <torch/csrc/stable/ops.h>

#include <atomic>
#include <cstring>
#include <string>

#include "cuda_device.h"
#include "errors.h"

namespace cuis_python {

namespace {

using torch::headeronly::DeviceType;
using torch::headeronly::ScalarType;

Kind kind_of(ScalarType s) {
  switch (s) {
    case ScalarType::Float:
      return Kind::f32;
    case ScalarType::Half:
      return Kind::f16;
    case ScalarType::BFloat16:
      return Kind::bf16;
    case ScalarType::Double:
      return Kind::f64;
    case ScalarType::Int:
      return Kind::i32;
    case ScalarType::Long:
      return Kind::i64;
    case ScalarType::Byte:
      return Kind::u8;
    default:
      return Kind::other;
  }
}

// The names the nanobind layer gives the same dtypes (DLPack's).
std::string dtype_name(ScalarType s) {
  switch (s) {
    case ScalarType::Float:
      return "float32";
    case ScalarType::Half:
      return "float16";
    case ScalarType::BFloat16:
      return "bfloat16";
    case ScalarType::Double:
      return "float64";
    case ScalarType::Int:
      return "int32";
    case ScalarType::Long:
      return "int64";
    case ScalarType::Short:
      return "int16";
    case ScalarType::Char:
      return "int8";
    case ScalarType::Byte:
      return "uint8";
    case ScalarType::Bool:
      return "bool";
    default:
      return "torch dtype " + std::to_string(static_cast<int>(s));
  }
}

ScalarType scalar_type_of(Kind k) {
  switch (k) {
    case Kind::i64:
      return ScalarType::Long;
    case Kind::f32:
      return ScalarType::Float;
    case Kind::i32:
      return ScalarType::Int;
    default:
      return ScalarType::Byte;
  }
}

}  // namespace

ArrayDesc describe_tensor(const Tensor& t, const char* name) {
  if (t.layout() != torch::headeronly::Layout::Strided)
    raise_error(cuis::Error::invalid_argument,
                std::string(name) + " is not a dense (strided) tensor; cuis takes dense tensors: pass .to_dense()");
  ArrayDesc d;
  const ScalarType s = t.scalar_type();
  d.kind = kind_of(s);
  d.dtype = dtype_name(s);
  d.ndim = static_cast<size_t>(t.dim());
  d.shape = t.sizes().data();
  d.strides = t.strides().data();
  const bool cuda = t.is_cuda();
  d.supported_device = cuda || t.is_cpu();
  d.place = Place{cuda, cuda ? static_cast<int>(t.get_device_index()) : 0};
  d.device_text = "torch device type " + std::to_string(static_cast<int>(t.device().type()));
  return d;
}

Place require(const Tensor& t, const char* name, std::initializer_list<Kind> allowed, const char* allowed_text,
              size_t dims) {
  return require(describe_tensor(t, name), name, allowed, allowed_text, dims);
}

// torch refusing an allocation inside an op: cuis's out_of_memory, with torch's
// message where it gives one (through the stable ABI, torch 2.15 passes it on;
// 2.11 says only which API call failed).
// torch refusing an allocation inside an op: cuis's out_of_memory (what it
// nearly always is; an earlier CUDA error could also surface here), with
// torch's message where it gives one (through the stable ABI, torch 2.15
// passes it on; 2.11 says only which API call failed).
[[noreturn]] void allocation_failed(int64_t count, int element_bytes, const Place& where, const std::exception& e) {
  raise_error(cuis::Error::out_of_memory, "torch could not allocate " + std::to_string(count) + " x " +
                                              std::to_string(element_bytes) + " bytes on " + place_name(where) +
                                              " (out of memory, or an earlier CUDA error): " + e.what());
}

Tensor new_tensor(int64_t count, Kind kind, const Place& where) {
  const torch::stable::Device device =
      where.cuda ? torch::stable::Device(DeviceType::CUDA, static_cast<torch::stable::DeviceIndex>(where.device))
                 : torch::stable::Device(DeviceType::CPU);
  try {
    return torch::stable::empty({count}, scalar_type_of(kind), std::nullopt, device);
  } catch (const std::exception& e) {
    allocation_failed(count, kind == Kind::i64 ? 8 : kind == Kind::u8 ? 1 : 4, where, e);
  }
}

Tensor to_float32(const Tensor& t, const Place& where) {
  try {
    return torch::stable::to(t, ScalarType::Float);
  } catch (const std::exception& e) {
    allocation_failed(t.numel(), 4, where, e);
  }
}

Tensor success_status() {
  Tensor t = new_tensor(sizeof(cuis::DeviceStatus), Kind::u8, Place{});
  cuis::DeviceStatus st{};
  st.code = cuis::Error::success;
  st.index = -1;
  std::memcpy(t.mutable_data_ptr(), &st, sizeof st);
  return t;
}

Place place_of(const torch::stable::Device& device, const char* api) {
  if (device.type() == DeviceType::CPU) return Place{};
  if (device.type() != DeviceType::CUDA)
    raise_error(cuis::Error::invalid_argument,
                std::string(api) + ": device type " + std::to_string(static_cast<int>(device.type())) +
                    " is not supported; cuis takes CPU and CUDA",
                nullptr, "device");
  // "cuda" without an index: torch's current device, as torch.empty(device="cuda") places it
  // (cuda:0 where this runtime sees no device: the caller's device check then names it).
  if (device.index() < 0 && device_count() == 0) return Place{true, 0};
  const int index = device.index() >= 0 ? static_cast<int>(device.index())
                                        : static_cast<int>(torch::stable::accelerator::getCurrentDeviceIndex());
  return Place{true, index};
}

cudaStream_t current_stream(int device) {
  // aoti_torch_get_current_cuda_stream lives in libtorch_cuda.so, which this
  // library does not link (it loads in CPU-only torch builds too): looked up
  // in the copy torch has loaded.
  using Fn = int32_t (*)(int32_t, void**);
  static std::atomic<Fn> found{nullptr};  // a failed lookup is tried again: only a found function is kept
  Fn fn = found.load(std::memory_order_acquire);
  if (!fn) {
    void* lib = dlopen("libtorch_cuda.so", RTLD_NOW | RTLD_NOLOAD);
    if (lib) fn = reinterpret_cast<Fn>(dlsym(lib, "aoti_torch_get_current_cuda_stream"));
    if (fn) found.store(fn, std::memory_order_release);
  }
  if (!fn)
    raise_error(cuis::Error::no_device, "cuis torch ops: this torch has no CUDA (libtorch_cuda.so is not loaded)");
  void* stream = nullptr;
  if (fn(device, &stream) != 0)
    raise_error(cuis::Error::cuda_error,
                "cuis torch ops: torch did not give the current stream of cuda:" + std::to_string(device));
  return static_cast<cudaStream_t>(stream);
}

}  // namespace cuis_python
