// cuis._cuis: array intake (arrays.h): the dtype, shape, contiguity and
// device checks of every array a call takes.
#include "arrays.h"

#include "errors.h"

#include <cuis/error.h>

namespace cuis_python {

namespace {

// DLPack device types (dlpack.h): kDLCPU, kDLCUDA, kDLCUDAHost.
constexpr int DL_CPU = 1, DL_CUDA = 2, DL_CUDA_HOST = 3;

}  // namespace

Kind kind_of(nb::dlpack::dtype d) {
  using C = nb::dlpack::dtype_code;
  if (d.lanes != 1) return Kind::other;
  if (d.code == static_cast<uint8_t>(C::Float) && d.bits == 32) return Kind::f32;
  if (d.code == static_cast<uint8_t>(C::Float) && d.bits == 16) return Kind::f16;
  if (d.code == static_cast<uint8_t>(C::Bfloat) && d.bits == 16) return Kind::bf16;
  if (d.code == static_cast<uint8_t>(C::Float) && d.bits == 64) return Kind::f64;
  if (d.code == static_cast<uint8_t>(C::Int) && d.bits == 32) return Kind::i32;
  if (d.code == static_cast<uint8_t>(C::Int) && d.bits == 64) return Kind::i64;
  if (d.code == static_cast<uint8_t>(C::UInt) && d.bits == 8) return Kind::u8;
  return Kind::other;
}

std::string dtype_name(nb::dlpack::dtype d) {
  using C = nb::dlpack::dtype_code;
  std::string base;
  switch (static_cast<C>(d.code)) {
    case C::Int: base = "int"; break;
    case C::UInt: base = "uint"; break;
    case C::Float: base = "float"; break;
    case C::Bfloat: base = "bfloat"; break;
    case C::Complex: base = "complex"; break;
    case C::Bool: return "bool";
    default: base = "dtype(code " + std::to_string(d.code) + ")"; break;
  }
  std::string s = base + std::to_string(d.bits);
  if (d.lanes != 1) s += "x" + std::to_string(d.lanes);
  return s;
}

std::string place_name(const Place& p) { return p.cuda ? "cuda:" + std::to_string(p.device) : "cpu"; }

template <class A>
Place place_of(const A& a, const char* name) {
  const int t = a.device_type();
  if (t == DL_CPU || t == DL_CUDA_HOST) return Place{false, 0};
  if (t == DL_CUDA) return Place{true, a.device_id()};
  raise_error(cuis::Error::invalid_argument,
              std::string(name) + " is on an unsupported device (DLPack device type " + std::to_string(t) +
                  "); cuis takes CPU and CUDA arrays",
              nullptr, "device");
}

template <class A>
Place require(const A& a, const char* name, std::initializer_list<Kind> allowed, const char* allowed_text,
              size_t dims) {
  const Kind k = kind_of(a.dtype());
  bool ok = false;
  for (Kind x : allowed) ok = ok || x == k;
  if (!ok)
    raise_error(cuis::Error::invalid_argument,
                std::string(name) + " has dtype " + dtype_name(a.dtype()) + "; expected " + allowed_text, nullptr,
                "dtype");
  if (a.ndim() != dims)
    raise_error(cuis::Error::shape_mismatch, std::string(name) + " has " + std::to_string(a.ndim()) +
                                                 " dimension(s); expected " + std::to_string(dims));
  // C-contiguous: the stride of each dimension of extent > 1 is the product of
  // the extents after it (DLPack strides are in elements).
  bool empty = false;
  for (size_t i = 0; i < dims; ++i) empty = empty || a.shape(i) == 0;
  int64_t expect = 1;
  for (size_t i = dims; !empty && i-- > 0;) {
    const int64_t extent = static_cast<int64_t>(a.shape(i));
    if (extent > 1 && a.stride(i) != expect)
      bad_argument(std::string(name) + " is not contiguous (stride " + std::to_string(a.stride(i)) +
                   " in dimension " + std::to_string(i) + ", expected " + std::to_string(expect) +
                   "); pass a contiguous copy");
    expect *= extent;
  }
  return place_of(a, name);
}

template Place place_of<Array>(const Array&, const char*);
template Place place_of<OutArray>(const OutArray&, const char*);
template Place require<Array>(const Array&, const char*, std::initializer_list<Kind>, const char*, size_t);
template Place require<OutArray>(const OutArray&, const char*, std::initializer_list<Kind>, const char*, size_t);

void same_place(const Place& a, const Place& b, const char* name_a, const char* name_b) {
  if (!(a == b))
    raise_error(cuis::Error::invalid_argument,
                std::string(name_b) + " is on " + place_name(b) + " but " + name_a + " is on " + place_name(a) +
                    "; every array of one call must be on the same device",
                nullptr, "device");
}

void require_extent(int64_t got, int64_t want, const char* name) {
  if (got != want)
    raise_error(cuis::Error::shape_mismatch,
                std::string(name) + " has " + std::to_string(got) + " elements; expected " + std::to_string(want));
}

std::tuple<std::vector<int64_t>, bool, int> check_array(const Array& a, const std::string& role) {
  Place where;
  if (role == "scores")
    where = require(a, "scores", {Kind::f32, Kind::f16, Kind::bf16}, "float32, float16 or bfloat16", 1);
  else if (role == "logits")
    where = require(a, "logits", {Kind::f32, Kind::f16, Kind::bf16}, "float32, float16 or bfloat16", 2);
  else if (role == "labels")
    where = require(a, "labels", {Kind::i32, Kind::i64}, "int32 or int64", 1);
  else if (role == "candidate_ids")
    where = require(a, "candidate_ids", {Kind::i64}, "int64", 1);
  else if (role == "shard_indices")
    where = require(a, "shard_indices", {Kind::i64}, "int64", 1);
  else if (role == "rng")
    where = require(a, "rng", {Kind::i64}, "int64 ([seed, offset])", 1);
  else if (role == "mean_loss")
    where = require(a, "mean_loss", {Kind::f32}, "float32", 1);
  else if (role == "status")
    where = require(a, "status", {Kind::u8}, "uint8", 1);
  else
    bad_argument("check_array: unknown role " + role);
  std::vector<int64_t> shape(a.ndim());
  for (size_t i = 0; i < a.ndim(); ++i) shape[i] = static_cast<int64_t>(a.shape(i));
  return {shape, where.cuda, where.device};
}

}  // namespace cuis_python
