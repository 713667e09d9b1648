// cuis's PyTorch ops: per-row cross-entropy scores (ops.h).
#include <cuis/nn/loss.h>
#include <torch/csrc/stable/ops.h>

#include <limits>
#include <string>
#include <vector>

#include "cuda_device.h"
#include "errors.h"
#include "host_calls.h"
#include "label_clamp.h"
#include "ops.h"

namespace cuis_python {

Tensors3 cross_entropy_scores_op(Tensor logits, Tensor labels) {
  const ArrayDesc desc = describe_tensor(logits, "logits");
  const Place where = require(desc, "logits", {Kind::f32, Kind::f16, Kind::bf16}, "float32, float16 or bfloat16", 2);
  const ArrayDesc label_desc = describe_tensor(labels, "labels");
  same_place(where, require(label_desc, "labels", {Kind::i32, Kind::i64}, "int32 or int64", 1), "logits", "labels");
  const int64_t rows = logits.size(0);
  const int64_t classes = logits.size(1);
  if (rows <= 0) raise_error(cuis::Error::empty_input, "cross_entropy: logits has no rows");
  if (classes <= 0 || classes > std::numeric_limits<int32_t>::max())
    raise_error(cuis::Error::shape_mismatch,
                "cross_entropy: logits has " + std::to_string(classes) + " classes; expected 1 .. 2^31 - 1");
  require_extent(labels.size(0), rows, "labels");
  Tensor loss = new_tensor(rows, Kind::f32, where);
  Tensor norm = new_tensor(rows, Kind::f32, where);
  if (!where.cuda) {
    std::vector<float> widened;
    const float* z = host_floats(logits.data_ptr(), desc.kind, static_cast<size_t>(rows * classes), &widened);
    raise_status(cross_entropy_host(z, labels.data_ptr(), label_desc.kind == Kind::i64, rows,
                                    static_cast<int32_t>(classes), static_cast<float*>(loss.data_ptr()),
                                    static_cast<float*>(norm.data_ptr())));
    return {loss, norm, success_status()};
  }
  const Tensor z32 = desc.kind == Kind::f32 ? logits : to_float32(logits, where);
  DeviceGuard guard(where.device, "cross_entropy_scores");
  const cudaStream_t stream = current_stream(where.device);
  Tensor y32 = labels;
  if (label_desc.kind == Kind::i64) {
    y32 = new_tensor(rows, Kind::i32, where);
    clamp_labels(static_cast<const int64_t*>(labels.data_ptr()), static_cast<int32_t*>(y32.data_ptr()), rows,
                 static_cast<int32_t>(classes), stream);
  }
  Tensor status = new_tensor(sizeof(cuis::DeviceStatus), Kind::u8, where);
  cuis::CrossEntropyArgs a;
  a.logits = static_cast<const float*>(z32.data_ptr());
  a.labels = static_cast<const int32_t*>(y32.data_ptr());
  a.rows = rows;
  a.classes = static_cast<int32_t>(classes);
  a.loss = static_cast<float*>(loss.data_ptr());
  a.grad_norm = static_cast<float*>(norm.data_ptr());
  a.status = static_cast<cuis::DeviceStatus*>(status.data_ptr());
  check(cuis::cross_entropy(a, stream));
  return {loss, norm, status};
}

}  // namespace cuis_python
