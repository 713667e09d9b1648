// Internal, for dense_cudnn.cpp only (its one translation unit, after it
// includes cudnn-frontend under its own namespace name): the ops and their
// built plans, the frontend's handle on libcudnn, FP32 tensor descriptions in the layouts the dense layers
// use, pointer alignment, a graph's validation and build with cuis's engine
// choice, and the frontend's messages on one line.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cuis/nn/mlp_config.h"
#include "nn/cudnn_library.h"
#include "nn/dense_ops.h"

namespace cuis {
namespace detail {
namespace cudnn_parts {

namespace fe = cudnn_frontend;
using Tensor = std::shared_ptr<fe::graph::Tensor_attributes>;
constexpr fe::DataType_t F32 = fe::DataType_t::FLOAT;

// DWB first: where cuDNN fuses dW and db, DW and DB are not built.
enum Op { DWB = 0, FWD, DW, DB, DX, OPS };
const char* const OP_NAME[OPS] = {"weight and bias gradients", "forward", "weight gradient",
                                  "bias gradient (reduction)", "data gradient"};

// One built graph; its user tensors have uids 1..align.size(), passed in that order.
struct Plan {
  std::shared_ptr<fe::graph::Graph> graph;  // null: not built (db by GEMV, dX of layer 0)
  bool fused = true;                        // false: the activation (forward) or ReLU' (dX) by cuis's kernel
  std::vector<int64_t> align;               // bytes, per pointer
  int64_t workspace = 0;
};

// libcudnn.so.9, and the shim's handle to it (cudnn_frontend::cudnn_dlhandle,
// defined in dense_cudnn.cpp).
inline const CudnnLibrary& library() {
  static const CudnnLibrary& lib = []() -> const CudnnLibrary& {
    const CudnnLibrary& loaded = cudnn_loaded();
    fe::cudnn_dlhandle = loaded.handle;
    return loaded;
  }();
  return lib;
}

// The frontend's multi-line messages as one bounded line.
inline std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  if (s.size() > 600) s = s.substr(0, 600) + "...";
  return s;
}

// The largest power of two (<= 16, what cuDNN's vector loads need) dividing p.
inline int64_t alignment_of(const void* p) {
  int64_t a = 16;
  while (a > 4 && reinterpret_cast<uintptr_t>(p) % static_cast<uintptr_t>(a) != 0) a /= 2;
  return a;
}

// An FP32 tensor [1, rows, cols]: row-major, or the transposed view of a
// row-major [cols, rows] matrix.
inline fe::graph::Tensor_attributes desc(const char* name, int64_t uid, int64_t rows, int64_t cols, bool transposed,
                                         int64_t align) {
  fe::graph::Tensor_attributes t;
  t.set_name(name).set_uid(uid).set_data_type(F32).set_alignment(align).set_dim({1, rows, cols});
  t.set_stride(transposed ? std::vector<int64_t>{rows * cols, 1, rows} : std::vector<int64_t>{rows * cols, cols, 1});
  return t;
}

// Marks an op's result as the graph's output [1, rows, cols], laid out as desc() does.
inline void output(const Tensor& t, const char* name, int64_t uid, int64_t rows, int64_t cols, bool transposed,
                   int64_t align) {
  const fe::graph::Tensor_attributes d = desc(name, uid, rows, cols, transposed, align);
  t->set_output(true).set_name(name).set_uid(uid).set_data_type(F32).set_alignment(align).set_dim(d.get_dim());
  t->set_stride(d.get_stride());
}

// The model's activation and gradient buffers are 256-byte aligned (Mlp::Impl): checked at each call.
constexpr int64_t ACT_ALIGN = 16;

// Describes op of layer l at r rows into g (fused: with the activation or
// ReLU'), and the alignment of each of its user tensors (uids 1..n) in plan.
inline bool describe(fe::graph::Graph& g, Op op, const DenseContext& c, size_t l, int64_t r, bool fused, Plan* plan) {
  const LayerParams& L = c.layers[l];
  const bool hidden = l + 1 < c.layers.size(), relu = c.activation == Activation::relu;
  const float* w = c.params + L.weight;
  const auto mm = fe::graph::Matmul_attributes().set_compute_data_type(F32);
  const auto red =  // sums in a fixed order
      fe::graph::Reduction_attributes()
          .set_mode(fe::ReductionMode_t::ADD)
          .set_is_deterministic(true)
          .set_compute_data_type(F32);
  const auto pw = [](fe::PointwiseMode_t m) {
    return fe::graph::Pointwise_attributes().set_mode(m).set_compute_data_type(F32);
  };
  switch (op) {
    // Forward and dX are described column-major (the transposed products, same memory): cuDNN's
    // cuBLASLt engine takes matmul + bias (+ ReLU, + dReLU) only so, as its epilogues; the row-major
    // form it rejects ("CublasLt only supports auxiliary input/output in COL_MAJOR").
    case FWD: {  // Y^T = act(W X^T + b); ReLU keeps NaN (CUDNN_PROPAGATE_NAN), as x < 0 ? 0 : x does
      const Tensor Xt = g.tensor(desc("X^T", 1, L.in, r, true, ACT_ALIGN));
      const Tensor W = g.tensor(desc("W", 2, L.out, L.in, false, alignment_of(w)));
      const Tensor B = g.tensor(desc("b", 3, L.out, 1, false, alignment_of(c.params + L.bias)));
      Tensor Y = g.pointwise(g.matmul(W, Xt, mm), B, pw(fe::PointwiseMode_t::ADD));
      if (hidden && fused) Y = g.pointwise(Y, pw(relu ? fe::PointwiseMode_t::RELU_FWD : fe::PointwiseMode_t::TANH_FWD));
      output(Y, "Y^T", 4, L.out, r, true, ACT_ALIGN);
      plan->align = {ACT_ALIGN, alignment_of(w), alignment_of(c.params + L.bias), ACT_ALIGN};
      break;
    }
    case DW: {  // dW = dY^T X
      const Tensor dYt = g.tensor(desc("dY^T", 1, L.out, r, true, ACT_ALIGN));
      const Tensor X = g.tensor(desc("X", 2, r, L.in, false, ACT_ALIGN));
      output(g.matmul(dYt, X, mm), "dW", 3, L.out, L.in, false, alignment_of(c.grads + L.weight));
      plan->align = {ACT_ALIGN, ACT_ALIGN, alignment_of(c.grads + L.weight)};
      break;
    }
    case DB: {  // db = sum of dY's rows, in a fixed order
      const Tensor dY = g.tensor(desc("dY", 1, r, L.out, false, ACT_ALIGN));
      output(g.reduction(dY, red), "db", 2, 1, L.out, false, alignment_of(c.grads + L.bias));
      plan->align = {ACT_ALIGN, alignment_of(c.grads + L.bias)};
      break;
    }
    case DWB: {  // dW^T = X^T dY with db = the column sums of dY (cuBLASLt's BGRADB pattern) in one graph
      const Tensor Xt = g.tensor(desc("X^T", 1, L.in, r, true, ACT_ALIGN));
      const Tensor dY = g.tensor(desc("dY", 2, r, L.out, false, ACT_ALIGN));
      output(g.matmul(Xt, dY, mm), "dW^T", 3, L.in, L.out, true, alignment_of(c.grads + L.weight));
      output(g.reduction(dY, red), "db", 4, 1, L.out, false, alignment_of(c.grads + L.bias));
      plan->align = {ACT_ALIGN, ACT_ALIGN, alignment_of(c.grads + L.weight), alignment_of(c.grads + L.bias)};
      break;
    }
    case DX: {  // dX^T = W^T dY^T, times ReLU'(x) = (x > 0) for ReLU (x: the activated output, > 0
                // iff pre-activation > 0). RELU_BWD gives 0 where x <= 0 even for a NaN in dY (cuis's
                // kernel: NaN * 0 = NaN); the forward pass already carried that NaN to the loss.
      const Tensor dYt = g.tensor(desc("dY^T", 1, L.out, r, true, ACT_ALIGN));
      const Tensor Wt = g.tensor(desc("W^T", 2, L.in, L.out, true, alignment_of(w)));
      Tensor dXt = g.matmul(Wt, dYt, mm);
      plan->align = {ACT_ALIGN, alignment_of(w)};
      if (relu && fused) {
        const Tensor Xt = g.tensor(desc("x^T", 3, L.in, r, true, ACT_ALIGN));
        dXt = g.pointwise(dXt, Xt, pw(fe::PointwiseMode_t::RELU_BWD));
        plan->align.push_back(ACT_ALIGN);
      }
      output(dXt, "dX^T", static_cast<int64_t>(plan->align.size()) + 1, L.in, r, true, ACT_ALIGN);
      plan->align.push_back(ACT_ALIGN);
      break;
    }
    case OPS:
      return false;
  }
  return true;
}

// Validates g, then (with a handle) builds it: heuristics A then fallback,
// deterministic engines only, and in FP32 also none with tensor cores or
// down-converted inputs. false with *why at the first step that fails.
inline bool finish(fe::graph::Graph& g, cudnnHandle_t handle, Math math, std::string* why) {
  const auto ok = [why](fe::error_t e, const char* step) {
    if (e.is_bad()) *why = std::string(step) + ": " + e.get_message();
    return e.is_good();
  };
  if (!ok(g.validate(), "validate")) return false;
  if (!handle) return true;  // validation only
  if (!ok(g.build_operation_graph(handle), "build_operation_graph") ||
      !ok(g.create_execution_plans({fe::HeurMode_t::A, fe::HeurMode_t::FALLBACK}), "heuristics"))
    return false;
  std::vector<fe::NumericalNote_t> barred{fe::NumericalNote_t::NONDETERMINISTIC,
                                          fe::NumericalNote_t::REDUCED_PRECISION_REDUCTION};
  if (math == Math::fp32) {
    barred.push_back(fe::NumericalNote_t::TENSOR_CORE);
    barred.push_back(fe::NumericalNote_t::DOWN_CONVERT_INPUTS);
  }
  g.deselect_numeric_notes(barred);
  return ok(g.check_support(), "check_support") &&
         ok(g.build_plans(fe::BuildPlanPolicy_t::HEURISTICS_CHOICE), "build_plans");
}

}  // namespace cudnn_parts
}  // namespace detail
}  // namespace cuis
