// cuis._cuis: array intake. Arrays come in through DLPack (nb::ndarray, no
// copy) and are checked here before any call uses them: dtype, number of
// dimensions, contiguity, one device for all the arrays of a call. A failed
// check raises the cuis.Error subclass its message names (errors.h).
#pragma once

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <tuple>
#include <vector>

namespace cuis_python {

namespace nb = nanobind;

// Any dtype, shape and device; read-only arrays allowed (the inputs).
using Array = nb::ndarray<nb::ro>;
// Writable (the outputs, the device RNG state).
using OutArray = nb::ndarray<>;

// The dtypes the calls take.
enum class Kind { f32, f16, bf16, f64, i32, i64, u8, other };

Kind kind_of(nb::dlpack::dtype d);
// "float16", "int64", "bool"...: the dtype as the messages name it.
std::string dtype_name(nb::dlpack::dtype d);

// Where an array lives: CPU (host or pinned host memory) or a CUDA device.
struct Place {
  bool cuda = false;
  int device = 0;
  bool operator==(const Place& o) const { return cuda == o.cuda && (!cuda || device == o.device); }
};

std::string place_name(const Place& p);

// The array's place; raises for a device other than CPU or CUDA. `name` is the argument's name in messages.
template <class A>
Place place_of(const A& a, const char* name);

// dtype among `allowed`, `dims` dimensions, C-contiguous; returns its place.
template <class A>
Place require(const A& a, const char* name, std::initializer_list<Kind> allowed, const char* allowed_text,
              size_t dims);

extern template Place place_of<Array>(const Array&, const char*);
extern template Place place_of<OutArray>(const OutArray&, const char*);
extern template Place require<Array>(const Array&, const char*, std::initializer_list<Kind>, const char*, size_t);
extern template Place require<OutArray>(const OutArray&, const char*, std::initializer_list<Kind>, const char*,
                                        size_t);

// Raises unless b is where a is (a device-mismatch error naming both).
void same_place(const Place& a, const Place& b, const char* name_a, const char* name_b);

// Raises unless an array has `want` elements (a shape error).
void require_extent(int64_t got, int64_t want, const char* name);

// The checks a call makes on one input, made before the Python layer allocates
// outputs: returns (shape, is_cuda, device).
std::tuple<std::vector<int64_t>, bool, int> check_array(const Array& a, const std::string& role);

}  // namespace cuis_python
