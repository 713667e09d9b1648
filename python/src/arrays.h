// cuis._cuis: array intake. Arrays come in through DLPack (nb::ndarray, no
// copy) and are checked before any call uses them, by intake.h's checks on
// their ArrayDesc: dtype, number of dimensions, contiguity, one device for all
// the arrays of a call. A failed check throws a CallError (errors.h), which
// Python sees as the cuis.Error subclass for its code.
#pragma once

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include "intake.h"

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

Kind kind_of(nb::dlpack::dtype d);
// "float16", "int64", "bool"...: the dtype as the messages name it.
std::string dtype_name(nb::dlpack::dtype d);

// The array as intake.h's checks see it (it points into `a`).
template <class A>
ArrayDesc describe_array(const A& a);

// The checks of intake.h on a DLPack array.
template <class A>
Place place_of(const A& a, const char* name) {
  return place_of(describe_array(a), name);
}
template <class A>
Place require(const A& a, const char* name, std::initializer_list<Kind> allowed, const char* allowed_text,
              size_t dims) {
  return require(describe_array(a), name, allowed, allowed_text, dims);
}

extern template ArrayDesc describe_array<Array>(const Array&);
extern template ArrayDesc describe_array<OutArray>(const OutArray&);

// The checks a call makes on one input, made before the Python layer allocates
// outputs: returns (shape, is_cuda, device).
std::tuple<std::vector<int64_t>, bool, int> check_array(const Array& a, const std::string& role);

}  // namespace cuis_python
