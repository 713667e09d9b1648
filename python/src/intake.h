// The checks every array of a call passes, whatever framework it came from:
// dtype, number of dimensions, contiguity, one device for all the arrays of a
// call. Framework-free: cuis._cuis (nanobind, arrays.h) and the PyTorch ops
// (torch_ops/tensors.h) describe their arrays as an ArrayDesc and share these
// checks and their messages. A failed check throws CallError (errors.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>

namespace cuis_python {

// The dtypes the calls take.
enum class Kind { f32, f16, bf16, f64, i32, i64, u8, other };

// Where an array lives: CPU (host or pinned host memory) or a CUDA device.
struct Place {
  bool cuda = false;
  int device = 0;
  bool operator==(const Place& o) const { return cuda == o.cuda && (!cuda || device == o.device); }
};

std::string place_name(const Place& p);

// One array as the checks see it. shape and strides (in elements) have ndim
// entries and point into the framework's own array object.
struct ArrayDesc {
  Kind kind = Kind::other;
  std::string dtype;  // "float16", "int64", "bool"...: as the messages name it
  size_t ndim = 0;
  const int64_t* shape = nullptr;
  const int64_t* strides = nullptr;
  bool supported_device = false;  // CPU, pinned host or CUDA
  Place place;                    // where it is, when supported
  std::string device_text;        // how to name an unsupported device in a message
};

// dtype among `allowed`, `dims` dimensions, C-contiguous, on a supported
// device; returns its place. `name` is the argument's name in messages.
Place require(const ArrayDesc& a, const char* name, std::initializer_list<Kind> allowed, const char* allowed_text,
              size_t dims);

// The place of a supported array; throws for another device.
Place place_of(const ArrayDesc& a, const char* name);

// Throws unless b is where a is (a device-mismatch error naming both).
void same_place(const Place& a, const Place& b, const char* name_a, const char* name_b);

// Throws unless an array has `want` elements (a shape error).
void require_extent(int64_t got, int64_t want, const char* name);

}  // namespace cuis_python
