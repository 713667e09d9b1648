// cuis._cuis: the extension module under the Python package, over the public
// C++ API (include/cuis/). Arrays come in through DLPack (nb::ndarray, no
// copy) and are checked here: dtype, number of dimensions, contiguity, one
// device for all of them. Outputs are allocated by the Python layer in the
// caller's framework (cuis/_api.py) and written here in place.
//
// Every failure becomes a Python exception from cuis._errors (a subclass of
// cuis.Error carrying the cuis::Error code and the C++ message); nothing here
// aborts. The CPU functions run the CPU reference (cuis::ref) with the GIL
// released; the CUDA functions only enqueue on the caller's stream.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <cuda_runtime_api.h>
#include <cuis/error.h>
#include <cuis/nn/loss.h>
#include <cuis/nn/reference.h>
#include <cuis/sampler.h>
#include <cuis/sampler/reference.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace nb = nanobind;
using namespace nb::literals;

namespace {

// Any dtype, shape and device; read-only arrays allowed (the inputs).
using Array = nb::ndarray<nb::ro>;
// Writable (the outputs, the device RNG state).
using OutArray = nb::ndarray<>;

using StatusTuple = std::tuple<int, int64_t, float, uint64_t>;

constexpr int64_t MAX_N = int64_t{1} << 40;             // SampleArgs::n
constexpr int64_t MAX_DRAWS = (int64_t{1} << 31) - 1;   // SampleArgs::num_draws

// DLPack device types (dlpack.h): kDLCPU, kDLCUDA, kDLCUDAHost.
constexpr int DL_CPU = 1, DL_CUDA = 2, DL_CUDA_HOST = 3;

// ---------------------------------------------------------------- errors

// Raises the cuis.Error subclass for code (cuis/_errors.py picks it), with
// the message and, for input-data errors, the status's index and value.
// `kind` ("dtype", "device" or null) picks a narrower class for invalid_argument.
[[noreturn]] void raise_error(cuis::Error code, const std::string& message, const cuis::DeviceStatus* st = nullptr,
                              const char* kind = nullptr) {
  nb::object make = nb::module_::import_("cuis._errors").attr("_make_error");
  nb::object status = st ? nb::cast(StatusTuple{static_cast<int>(st->code), st->index, st->value,
                                                st->positive_count})
                         : nb::none();
  nb::object exc = make(static_cast<int>(code), message, status, kind ? nb::cast(std::string(kind)) : nb::none());
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
  throw nb::python_error();
}

// A cuis::Error returned by the library: raised with last_error_message().
void check(cuis::Error e) {
  if (e == cuis::Error::success) return;
  std::string msg = cuis::last_error_message();
  if (msg.empty()) msg = cuis::error_string(e);
  raise_error(e, msg);
}

[[noreturn]] void bad_argument(const std::string& message) { raise_error(cuis::Error::invalid_argument, message); }

// ---------------------------------------------------------------- arrays

enum class Kind { f32, f16, bf16, i32, i64, u8, other };

Kind kind_of(nb::dlpack::dtype d) {
  using C = nb::dlpack::dtype_code;
  if (d.lanes != 1) return Kind::other;
  if (d.code == static_cast<uint8_t>(C::Float) && d.bits == 32) return Kind::f32;
  if (d.code == static_cast<uint8_t>(C::Float) && d.bits == 16) return Kind::f16;
  if (d.code == static_cast<uint8_t>(C::Bfloat) && d.bits == 16) return Kind::bf16;
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

// Where an array lives: CPU (host or pinned host memory) or a CUDA device.
struct Place {
  bool cuda = false;
  int device = 0;
  bool operator==(const Place& o) const { return cuda == o.cuda && (!cuda || device == o.device); }
};

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

// dtype among `allowed`, `dims` dimensions, C-contiguous; returns its place.
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

// ------------------------------------------------- exact widening to float32

// IEEE binary16 -> binary32: exact (every half is a float).
float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);  // inf, NaN (payload kept)
  } else if (exp != 0) {
    bits = sign | ((exp + 112u) << 23) | (mant << 13);
  } else {
    const float mag = std::ldexp(static_cast<float>(mant), -24);  // subnormal or zero: mant * 2^-24, exact
    uint32_t m;
    std::memcpy(&m, &mag, 4);
    bits = sign | m;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// bfloat16 -> float32: the top half of the float's bits.
float bf16_to_float(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// A host array of float32, float16 or bfloat16 as float32: the array itself
// for float32 (no copy), else a widened copy in *storage.
template <class A>
const float* host_floats(const A& a, size_t count, std::vector<float>* storage) {
  const Kind k = kind_of(a.dtype());
  if (k == Kind::f32) return static_cast<const float*>(a.data());
  storage->resize(count);
  const uint16_t* src = static_cast<const uint16_t*>(a.data());
  for (size_t i = 0; i < count; ++i) (*storage)[i] = k == Kind::f16 ? half_to_float(src[i]) : bf16_to_float(src[i]);
  return storage->data();
}

// ------------------------------------------------------------- options

cuis::SampleOptions make_options(bool replacement, int weighting, float k, float smooth, float adaptive_smooth,
                                 float mean_loss, float power, uint64_t seed, uint64_t offset) {
  cuis::SampleOptions o;
  o.replacement = replacement;
  if (weighting < 0 || weighting > 2) bad_argument("weighting code " + std::to_string(weighting) + " is not 0, 1 or 2");
  o.weighting = static_cast<cuis::Weighting>(weighting);
  o.k = k;
  o.smooth = smooth;
  o.adaptive_smooth = adaptive_smooth;
  o.mean_loss = mean_loss;
  o.power = power;
  o.rng = cuis::RngState{seed, offset};
  return o;
}

// The checks of the library's validate_sizes() and validate_options(), made
// before the Python layer allocates outputs (so that num_draws = 2^40 is an
// exception, not a 8 TiB allocation). The library checks again.
void check_sample_args(int64_t n, int64_t num_draws, const cuis::SampleOptions& o) {
  if (n <= 0) raise_error(cuis::Error::empty_input, "n is " + std::to_string(n) + "; need at least one score");
  if (num_draws <= 0)
    raise_error(cuis::Error::empty_input, "num_draws is " + std::to_string(num_draws) + "; need at least one");
  if (n > MAX_N) raise_error(cuis::Error::too_many_draws, "n " + std::to_string(n) + " exceeds 2^40");
  if (num_draws > MAX_DRAWS)
    raise_error(cuis::Error::too_many_draws, "num_draws " + std::to_string(num_draws) + " exceeds 2^31 - 1");
  if (!o.replacement && num_draws > n)
    raise_error(cuis::Error::too_many_draws, "num_draws " + std::to_string(num_draws) + " exceeds n " +
                                                 std::to_string(n) + " without replacement");
  check(cuis::validate_options(o));
}

StatusTuple to_tuple(const cuis::DeviceStatus& s) {
  return StatusTuple{static_cast<int>(s.code), s.index, s.value, s.positive_count};
}

cuis::DeviceStatus from_tuple(int code, int64_t index, float value, uint64_t positive) {
  cuis::DeviceStatus s{};
  s.code = static_cast<cuis::Error>(code);
  s.index = index;
  s.value = value;
  s.positive_count = positive;
  return s;
}

// Raises the input-data error a status holds (nothing for success).
void raise_status(const cuis::DeviceStatus& st) {
  if (st.code != cuis::Error::success) raise_error(st.code, cuis::describe(st), &st);
}

// ------------------------------------------------------------- CUDA helpers

// Makes `device` current for this module's CUDA runtime (statically linked,
// so it does not share the framework's notion of the current device) and
// restores the previous one.
class DeviceGuard {
 public:
  DeviceGuard(int device, const char* api) {
    int count = 0;
    const cudaError_t ce = cudaGetDeviceCount(&count);
    if (ce != cudaSuccess || count <= device) {
      (void)cudaGetLastError();
      const std::string why = ce != cudaSuccess ? std::string(cudaGetErrorString(ce))
                                                : std::to_string(count) + " device(s) seen";
      raise_error(cuis::Error::no_device, std::string(api) + ": no usable CUDA device cuda:" + std::to_string(device) +
                                              " (" + why +
                                              "); the CPU reference runs the same operations on CPU arrays");
    }
    if (cudaGetDevice(&previous_) != cudaSuccess) {
      (void)cudaGetLastError();
      previous_ = -1;
    }
    if (previous_ != device) {
      const cudaError_t e = cudaSetDevice(device);
      if (e != cudaSuccess) {
        (void)cudaGetLastError();
        raise_error(cuis::Error::cuda_error,
                    std::string(api) + ": cudaSetDevice(" + std::to_string(device) + "): " + cudaGetErrorString(e));
      }
    }
  }
  ~DeviceGuard() {
    if (previous_ >= 0) (void)cudaSetDevice(previous_);
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = -1;
};

cudaStream_t to_stream(uintptr_t handle) { return reinterpret_cast<cudaStream_t>(handle); }

template <class A>
cuis::DeviceStatus* status_ptr(A& a, const Place& where) {
  require(a, "status", {Kind::u8}, "uint8", 1);
  same_place(where, place_of(a, "status"), "scores", "status");
  require_extent(static_cast<int64_t>(a.shape(0)), sizeof(cuis::DeviceStatus), "status");
  return static_cast<cuis::DeviceStatus*>(a.data());
}

// ------------------------------------------------------------- functions

// A host [seed, offset] int64 array (the CPU side of SampleOptions::d_rng).
cuis::RngState* host_rng(std::optional<OutArray>& rng, const Place& where, const char* owner) {
  if (!rng) return nullptr;
  same_place(where, require(*rng, "rng", {Kind::i64}, "int64 ([seed, offset])", 1), owner, "rng");
  require_extent(static_cast<int64_t>(rng->shape(0)), 2, "rng");
  return static_cast<cuis::RngState*>(rng->data());
}

void sample_cpu(const Array& scores, int64_t num_draws, OutArray indices, OutArray weights,
                std::optional<Array> candidate_ids, std::optional<OutArray> rng, std::optional<Array> mean_loss_array,
                bool replacement, int weighting, float k, float smooth, float adaptive_smooth, float mean_loss,
                float power, uint64_t seed, uint64_t offset, bool advance_rng) {
  const Place where = require(scores, "scores", {Kind::f32, Kind::f16, Kind::bf16}, "float32, float16 or bfloat16", 1);
  if (where.cuda) bad_argument("sample_cpu: scores are on " + place_name(where));
  const int64_t n = static_cast<int64_t>(scores.shape(0));
  cuis::SampleOptions o = make_options(replacement, weighting, k, smooth, adaptive_smooth, mean_loss, power, seed,
                                       offset);
  check_sample_args(n, num_draws, o);
  same_place(where, require(indices, "indices", {Kind::i64}, "int64", 1), "scores", "indices");
  same_place(where, require(weights, "weights", {Kind::f32}, "float32", 1), "scores", "weights");
  require_extent(static_cast<int64_t>(indices.shape(0)), num_draws, "indices");
  require_extent(static_cast<int64_t>(weights.shape(0)), num_draws, "weights");
  const int64_t* ids = nullptr;
  if (candidate_ids) {
    same_place(where, require(*candidate_ids, "candidate_ids", {Kind::i64}, "int64", 1), "scores", "candidate_ids");
    require_extent(static_cast<int64_t>(candidate_ids->shape(0)), n, "candidate_ids");
    ids = static_cast<const int64_t*>(candidate_ids->data());
  }
  cuis::RngState* state = host_rng(rng, where, "scores");
  if (state) o.rng = *state;  // read as the device does, advanced below as the device does
  if (mean_loss_array) {
    same_place(where, require(*mean_loss_array, "mean_loss", {Kind::f32}, "float32", 1), "scores", "mean_loss");
    require_extent(static_cast<int64_t>(mean_loss_array->shape(0)), 1, "mean_loss");
    o.mean_loss = *static_cast<const float*>(mean_loss_array->data());
  }
  std::vector<float> widened;
  cuis::DeviceStatus st{};
  cuis::Error e;
  std::string msg;
  {
    nb::gil_scoped_release release;
    const float* s = host_floats(scores, static_cast<size_t>(n), &widened);
    const cuis::SampleArgs a{s,
                             n,
                             ids,
                             num_draws,
                             static_cast<int64_t*>(indices.data()),
                             static_cast<float*>(weights.data()),
                             &st};
    e = cuis::ref::sample(a, o);
    if (e != cuis::Error::success) msg = cuis::last_error_message();
  }
  if (e != cuis::Error::success) raise_error(e, msg.empty() ? cuis::error_string(e) : msg);
  // The device advances d_rng in the call's last kernel, whatever the scores held.
  if (state && advance_rng) state->offset += cuis::counters_consumed(n, num_draws, o);
  raise_status(st);
}

size_t sample_workspace_size(int64_t n, int64_t num_draws, int device, bool replacement, int weighting, float k,
                             float smooth, float adaptive_smooth, float power) {
  const cuis::SampleOptions o = make_options(replacement, weighting, k, smooth, adaptive_smooth, 0.0f, power, 0, 0);
  check_sample_args(n, num_draws, o);
  DeviceGuard guard(device, "sample_workspace_size");
  size_t bytes = 0;
  check(cuis::sample_workspace_size(n, num_draws, o, &bytes));
  return bytes;
}

void sample_cuda(const Array& scores, int64_t num_draws, OutArray indices, OutArray weights, OutArray status,
                 OutArray workspace, std::optional<Array> candidate_ids, std::optional<OutArray> rng,
                 std::optional<Array> mean_loss_array, bool replacement, int weighting, float k, float smooth,
                 float adaptive_smooth, float mean_loss, float power, uint64_t seed, uint64_t offset,
                 bool advance_rng, uintptr_t stream) {
  const Place where = require(scores, "scores", {Kind::f32}, "float32 (16-bit scores are widened before)", 1);
  if (!where.cuda) bad_argument("sample_cuda: scores are on the CPU");
  const int64_t n = static_cast<int64_t>(scores.shape(0));
  cuis::SampleOptions o = make_options(replacement, weighting, k, smooth, adaptive_smooth, mean_loss, power, seed,
                                       offset);
  check_sample_args(n, num_draws, o);
  same_place(where, require(indices, "indices", {Kind::i64}, "int64", 1), "scores", "indices");
  same_place(where, require(weights, "weights", {Kind::f32}, "float32", 1), "scores", "weights");
  require_extent(static_cast<int64_t>(indices.shape(0)), num_draws, "indices");
  require_extent(static_cast<int64_t>(weights.shape(0)), num_draws, "weights");
  cuis::DeviceStatus* d_status = status_ptr(status, where);
  same_place(where, require(workspace, "workspace", {Kind::u8}, "uint8", 1), "scores", "workspace");
  const int64_t* ids = nullptr;
  if (candidate_ids) {
    same_place(where, require(*candidate_ids, "candidate_ids", {Kind::i64}, "int64", 1), "scores", "candidate_ids");
    require_extent(static_cast<int64_t>(candidate_ids->shape(0)), n, "candidate_ids");
    ids = static_cast<const int64_t*>(candidate_ids->data());
  }
  if (rng) {
    same_place(where, require(*rng, "rng", {Kind::i64}, "int64 ([seed, offset])", 1), "scores", "rng");
    require_extent(static_cast<int64_t>(rng->shape(0)), 2, "rng");
    o.d_rng = static_cast<cuis::RngState*>(rng->data());
    o.advance_rng = advance_rng;
  }
  if (mean_loss_array) {
    same_place(where, require(*mean_loss_array, "mean_loss", {Kind::f32}, "float32", 1), "scores", "mean_loss");
    require_extent(static_cast<int64_t>(mean_loss_array->shape(0)), 1, "mean_loss");
    o.d_mean_loss = static_cast<const float*>(mean_loss_array->data());
  }
  DeviceGuard guard(where.device, "sample");
  const cuis::SampleArgs a{static_cast<const float*>(scores.data()),
                           n,
                           ids,
                           num_draws,
                           static_cast<int64_t*>(indices.data()),
                           static_cast<float*>(weights.data()),
                           d_status};
  check(cuis::sample(a, o, workspace.data(), workspace.shape(0), to_stream(stream)));
}

void uniform_indices_cpu(OutArray out, int64_t n, uint64_t seed, uint64_t offset, std::optional<OutArray> rng,
                         bool advance) {
  const Place where = require(out, "out", {Kind::i64}, "int64", 1);
  if (where.cuda) bad_argument("uniform_indices_cpu: out is on " + place_name(where));
  const int64_t count = static_cast<int64_t>(out.shape(0));
  cuis::RngState* state = host_rng(rng, where, "out");
  const cuis::RngState from = state ? *state : cuis::RngState{seed, offset};
  cuis::Error e;
  std::string msg;
  {
    nb::gil_scoped_release release;
    e = cuis::ref::uniform_indices(static_cast<int64_t*>(out.data()), count, n, from);
    if (e != cuis::Error::success) msg = cuis::last_error_message();
  }
  if (e != cuis::Error::success) raise_error(e, msg.empty() ? cuis::error_string(e) : msg);
  if (state && advance) state->offset += static_cast<uint64_t>(count);
}

void uniform_indices_cuda(OutArray out, int64_t n, uint64_t seed, uint64_t offset, std::optional<OutArray> rng,
                          bool advance, uintptr_t stream) {
  const Place where = require(out, "out", {Kind::i64}, "int64", 1);
  if (!where.cuda) bad_argument("uniform_indices_cuda: out is on the CPU");
  cuis::RngState* d_rng = nullptr;
  if (rng) {
    same_place(where, require(*rng, "rng", {Kind::i64}, "int64 ([seed, offset])", 1), "out", "rng");
    require_extent(static_cast<int64_t>(rng->shape(0)), 2, "rng");
    d_rng = static_cast<cuis::RngState*>(rng->data());
  }
  DeviceGuard guard(where.device, "uniform_indices");
  check(cuis::uniform_indices(static_cast<int64_t*>(out.data()), static_cast<int64_t>(out.shape(0)), n,
                              cuis::RngState{seed, offset}, d_rng, advance, to_stream(stream)));
}

// Shapes shared by both cross-entropy paths: (rows, classes).
template <class L>
std::pair<int64_t, int32_t> cross_entropy_shape(const Array& logits, const L& labels, const OutArray& loss,
                                                const OutArray& grad_norm, const Place& where,
                                                std::initializer_list<Kind> label_kinds, const char* label_text) {
  same_place(where, require(labels, "labels", label_kinds, label_text, 1), "logits", "labels");
  same_place(where, require(loss, "loss", {Kind::f32}, "float32", 1), "logits", "loss");
  same_place(where, require(grad_norm, "grad_norm", {Kind::f32}, "float32", 1), "logits", "grad_norm");
  const int64_t rows = static_cast<int64_t>(logits.shape(0));
  const int64_t classes = static_cast<int64_t>(logits.shape(1));
  if (rows <= 0) raise_error(cuis::Error::empty_input, "cross_entropy: logits has no rows");
  if (classes <= 0 || classes > std::numeric_limits<int32_t>::max())
    raise_error(cuis::Error::shape_mismatch,
                "cross_entropy: logits has " + std::to_string(classes) + " classes; expected 1 .. 2^31 - 1");
  require_extent(static_cast<int64_t>(labels.shape(0)), rows, "labels");
  require_extent(static_cast<int64_t>(loss.shape(0)), rows, "loss");
  require_extent(static_cast<int64_t>(grad_norm.shape(0)), rows, "grad_norm");
  return {rows, static_cast<int32_t>(classes)};
}

void cross_entropy_cpu(const Array& logits, const Array& labels, OutArray loss, OutArray grad_norm) {
  const Place where =
      require(logits, "logits", {Kind::f32, Kind::f16, Kind::bf16}, "float32, float16 or bfloat16", 2);
  if (where.cuda) bad_argument("cross_entropy_cpu: logits are on " + place_name(where));
  const auto [rows, classes] = cross_entropy_shape(logits, labels, loss, grad_norm, where, {Kind::i32, Kind::i64},
                                                   "int32 or int64");
  const bool labels64 = kind_of(labels.dtype()) == Kind::i64;
  cuis::DeviceStatus st{cuis::Error::success, 0, -1, 0.0f, 0.0f, 0};
  {
    nb::gil_scoped_release release;
    std::vector<float> widened;
    const float* z = host_floats(logits, static_cast<size_t>(rows) * static_cast<size_t>(classes), &widened);
    float* out_loss = static_cast<float*>(loss.data());
    float* out_norm = static_cast<float*>(grad_norm.data());
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t label = labels64 ? static_cast<const int64_t*>(labels.data())[r]
                                     : static_cast<const int32_t*>(labels.data())[r];
      // A label beyond int32 is out of range whatever the classes: -1 marks it.
      const int32_t y = label >= 0 && label <= std::numeric_limits<int32_t>::max() ? static_cast<int32_t>(label) : -1;
      const float* zr = z + r * classes;
      const cuis::Error e = cuis::ref::cross_entropy_row(zr, classes, y, 1.0f, &out_loss[r], &out_norm[r], nullptr);
      if (e != cuis::Error::success && st.code == cuis::Error::success) {
        // The status the GPU's loss_status_kernel writes for the lowest bad row.
        st.code = e;
        st.index = r;
        if (e == cuis::Error::invalid_label) {
          st.value = static_cast<float>(label);
        } else {
          for (int32_t c = 0; c < classes; ++c)
            if (!std::isfinite(zr[c])) {
              st.value = zr[c];
              break;
            }
        }
      }
    }
  }
  raise_status(st);
}

void cross_entropy_cuda(const Array& logits, const Array& labels, OutArray loss, OutArray grad_norm,
                        OutArray status, uintptr_t stream) {
  const Place where = require(logits, "logits", {Kind::f32}, "float32 (16-bit logits are widened before)", 2);
  if (!where.cuda) bad_argument("cross_entropy_cuda: logits are on the CPU");
  const auto [rows, classes] =
      cross_entropy_shape(logits, labels, loss, grad_norm, where, {Kind::i32}, "int32");
  cuis::DeviceStatus* d_status = status_ptr(status, where);
  DeviceGuard guard(where.device, "cross_entropy_scores");
  cuis::CrossEntropyArgs a;
  a.logits = static_cast<const float*>(logits.data());
  a.labels = static_cast<const int32_t*>(labels.data());
  a.rows = rows;
  a.classes = classes;
  a.loss = static_cast<float*>(loss.data());
  a.grad_norm = static_cast<float*>(grad_norm.data());
  a.status = d_status;
  check(cuis::cross_entropy(a, to_stream(stream)));
}

// The status an earlier call wrote: read on the host (CPU arrays) or copied
// from the device on `stream`, which it waits for (cuis::read_status).
StatusTuple read_status(const Array& status, uintptr_t stream) {
  const Place where = require(status, "status", {Kind::u8}, "uint8", 1);
  require_extent(static_cast<int64_t>(status.shape(0)), sizeof(cuis::DeviceStatus), "status");
  cuis::DeviceStatus st{};
  if (!where.cuda) {
    std::memcpy(&st, status.data(), sizeof st);
  } else {
    DeviceGuard guard(where.device, "read_status");
    cuis::Error e;
    std::string msg;
    {
      nb::gil_scoped_release release;
      e = cuis::read_status(static_cast<const cuis::DeviceStatus*>(status.data()), to_stream(stream), &st);
      if (e != cuis::Error::success) msg = cuis::last_error_message();
    }
    if (e != cuis::Error::success) raise_error(e, msg.empty() ? cuis::error_string(e) : msg);
  }
  return to_tuple(st);
}

// The checks a call makes on one input, made before the Python layer allocates
// outputs: returns (shape, is_cuda, device).
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

int device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return count;
}

void widen_cpu(const Array& src, OutArray out) {
  const Place where = require(src, "src", {Kind::f32, Kind::f16, Kind::bf16}, "float32, float16 or bfloat16", 1);
  same_place(where, require(out, "out", {Kind::f32}, "float32", 1), "src", "out");
  if (where.cuda) bad_argument("widen_cpu: src is on " + place_name(where));
  require_extent(static_cast<int64_t>(out.shape(0)), static_cast<int64_t>(src.shape(0)), "out");
  std::vector<float> storage;
  const float* f = host_floats(src, src.shape(0), &storage);
  if (src.shape(0) > 0) std::memcpy(out.data(), f, src.shape(0) * sizeof(float));
}

}  // namespace

NB_MODULE(_cuis, m) {
  m.doc() =
      "The compiled core of the cuis package (private: use the functions of the `cuis` package). Arrays come in "
      "through DLPack without a copy and are written in place.";

  nb::enum_<cuis::Error>(m, "ErrorCode", nb::is_arithmetic(), "The cuis::Error codes (include/cuis/error.h).")
      .value("success", cuis::Error::success)
      .value("null_pointer", cuis::Error::null_pointer)
      .value("invalid_argument", cuis::Error::invalid_argument)
      .value("empty_input", cuis::Error::empty_input)
      .value("too_many_draws", cuis::Error::too_many_draws)
      .value("invalid_k", cuis::Error::invalid_k)
      .value("invalid_power", cuis::Error::invalid_power)
      .value("invalid_smoothing", cuis::Error::invalid_smoothing)
      .value("workspace_too_small", cuis::Error::workspace_too_small)
      .value("misaligned_pointer", cuis::Error::misaligned_pointer)
      .value("nan_score", cuis::Error::nan_score)
      .value("inf_score", cuis::Error::inf_score)
      .value("negative_score", cuis::Error::negative_score)
      .value("zero_total", cuis::Error::zero_total)
      .value("not_enough_positive", cuis::Error::not_enough_positive)
      .value("invalid_mean_loss", cuis::Error::invalid_mean_loss)
      .value("invalid_label", cuis::Error::invalid_label)
      .value("index_out_of_range", cuis::Error::index_out_of_range)
      .value("non_finite_value", cuis::Error::non_finite_value)
      .value("shape_mismatch", cuis::Error::shape_mismatch)
      .value("io_error", cuis::Error::io_error)
      .value("corrupt_checkpoint", cuis::Error::corrupt_checkpoint)
      .value("corrupt_data", cuis::Error::corrupt_data)
      .value("cuda_error", cuis::Error::cuda_error)
      .value("out_of_memory", cuis::Error::out_of_memory)
      .value("no_device", cuis::Error::no_device)
      .value("internal_error", cuis::Error::internal_error);

  m.attr("STATUS_BYTES") = sizeof(cuis::DeviceStatus);
  m.attr("MAX_DRAWS") = MAX_DRAWS;
  m.attr("MAX_N") = MAX_N;

  m.def(
      "error_string", [](int code) { return std::string(cuis::error_string(static_cast<cuis::Error>(code))); },
      "code"_a, "cuis::error_string(): a short English name for an error code.");
  m.def(
      "describe",
      [](int code, int64_t index, float value, uint64_t positive_count) {
        return cuis::describe(from_tuple(code, index, value, positive_count));
      },
      "code"_a, "index"_a, "value"_a, "positive_count"_a,
      "cuis::describe(): one line naming the problem a DeviceStatus holds.");
  m.def("check_sample_args",
        [](int64_t n, int64_t num_draws, bool replacement, int weighting, float k, float smooth,
           float adaptive_smooth, float power) {
          check_sample_args(n, num_draws,
                            make_options(replacement, weighting, k, smooth, adaptive_smooth, 0.0f, power, 0, 0));
        },
        "n"_a, "num_draws"_a, "replacement"_a, "weighting"_a, "k"_a, "smooth"_a, "adaptive_smooth"_a, "power"_a,
        "The argument checks of cuis::sample() (sizes, then cuis::validate_options()); raises cuis.Error.");
  m.def("counters_consumed",
        [](int64_t n, int64_t num_draws, bool replacement) {
          cuis::SampleOptions o;
          o.replacement = replacement;
          return cuis::counters_consumed(n, num_draws, o);
        },
        "n"_a, "num_draws"_a, "replacement"_a,
        "cuis::counters_consumed(): RNG counters one call uses (num_draws with replacement, n without).");
  m.def("sample_cpu", &sample_cpu, "scores"_a, "num_draws"_a, "indices"_a, "weights"_a, "candidate_ids"_a.none(),
        "rng"_a.none(), "mean_loss_array"_a.none(), "replacement"_a, "weighting"_a, "k"_a, "smooth"_a,
        "adaptive_smooth"_a, "mean_loss"_a, "power"_a, "seed"_a, "offset"_a, "advance_rng"_a,
        "cuis::ref::sample() on host arrays (float16 and bfloat16 scores widened exactly); raises cuis.Error, "
        "a score error naming the index and value.");
  m.def("sample_workspace_size", &sample_workspace_size, "n"_a, "num_draws"_a, "device"_a, "replacement"_a,
        "weighting"_a, "k"_a, "smooth"_a, "adaptive_smooth"_a, "power"_a,
        "cuis::sample_workspace_size() on the given CUDA device, in bytes.");
  m.def("sample_cuda", &sample_cuda, "scores"_a, "num_draws"_a, "indices"_a, "weights"_a, "status"_a,
        "workspace"_a, "candidate_ids"_a.none(), "rng"_a.none(), "mean_loss_array"_a.none(), "replacement"_a,
        "weighting"_a, "k"_a, "smooth"_a, "adaptive_smooth"_a, "mean_loss"_a, "power"_a, "seed"_a, "offset"_a,
        "advance_rng"_a, "stream"_a,
        "cuis::sample() on device arrays: enqueues on `stream` and returns; score errors go to `status`.");
  m.def("uniform_indices_cpu", &uniform_indices_cpu, "out"_a, "n"_a, "seed"_a, "offset"_a, "rng"_a.none(),
        "advance"_a,
        "cuis::ref::uniform_indices() into a host int64 array.");
  m.def("uniform_indices_cuda", &uniform_indices_cuda, "out"_a, "n"_a, "seed"_a, "offset"_a, "rng"_a.none(),
        "advance"_a, "stream"_a, "cuis::uniform_indices() into a device int64 array, enqueued on `stream`.");
  m.def("cross_entropy_cpu", &cross_entropy_cpu, "logits"_a, "labels"_a, "loss"_a, "grad_norm"_a,
        "cuis::ref::cross_entropy_row() for every row; raises for the lowest bad row.");
  m.def("cross_entropy_cuda", &cross_entropy_cuda, "logits"_a, "labels"_a, "loss"_a, "grad_norm"_a, "status"_a,
        "stream"_a, "cuis::cross_entropy() on device arrays, enqueued on `stream`; a bad row goes to `status`.");
  m.def("read_status", &read_status, "status"_a, "stream"_a,
        "(code, index, value, positive_count) of a DeviceStatus buffer; waits for `stream` when on a device.");
  m.def("check_array", &check_array, "array"_a, "role"_a,
        "Checks one input as the calls do (dtype, dimensions, contiguity, device); returns (shape, is_cuda, device).");
  m.def("device_count", &device_count, "CUDA devices this module's runtime sees (0 without a GPU or driver).");
  m.def("widen_cpu", &widen_cpu, "src"_a, "out"_a,
        "Writes float32/float16/bfloat16 `src` into float32 `out`, exactly (the widening sample_cpu uses).");
}
