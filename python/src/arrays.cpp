// cuis._cuis: array intake (arrays.h): DLPack arrays described for
// intake.h's checks.
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

template <class A>
ArrayDesc describe_array(const A& a) {
  ArrayDesc d;
  d.kind = kind_of(a.dtype());
  d.dtype = dtype_name(a.dtype());
  d.ndim = a.ndim();
  d.shape = a.shape_ptr();
  d.strides = a.stride_ptr();
  const int t = a.device_type();
  d.supported_device = t == DL_CPU || t == DL_CUDA_HOST || t == DL_CUDA;
  d.place = Place{t == DL_CUDA, t == DL_CUDA ? a.device_id() : 0};
  d.device_text = "DLPack device type " + std::to_string(t);
  return d;
}

template ArrayDesc describe_array<Array>(const Array&);
template ArrayDesc describe_array<OutArray>(const OutArray&);

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
