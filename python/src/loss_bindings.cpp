// cuis._cuis: the loss functions (loss_bindings.h).
#include "loss_bindings.h"

#include "cuda_device.h"
#include "errors.h"
#include "host_calls.h"
#include "status.h"
#include "widen.h"

#include <cuis/nn/loss.h>

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace cuis_python {

namespace {

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

}  // namespace

void cross_entropy_cpu(const Array& logits, const Array& labels, OutArray loss, OutArray grad_norm) {
  const Place where =
      require(logits, "logits", {Kind::f32, Kind::f16, Kind::bf16}, "float32, float16 or bfloat16", 2);
  if (where.cuda) bad_argument("cross_entropy_cpu: logits are on " + place_name(where));
  const auto [rows, classes] = cross_entropy_shape(logits, labels, loss, grad_norm, where, {Kind::i32, Kind::i64},
                                                   "int32 or int64");
  const bool labels64 = kind_of(labels.dtype()) == Kind::i64;
  cuis::DeviceStatus st;
  {
    nb::gil_scoped_release release;
    std::vector<float> widened;
    const float* z = host_floats(logits, static_cast<size_t>(rows) * static_cast<size_t>(classes), &widened);
    st = cross_entropy_host(z, labels.data(), labels64, rows, classes, static_cast<float*>(loss.data()),
                            static_cast<float*>(grad_norm.data()));
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

}  // namespace cuis_python
