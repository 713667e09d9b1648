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

namespace cuis {
namespace detail {
namespace cudnn_parts {

namespace fe = cudnn_frontend;
using Tensor = std::shared_ptr<fe::graph::Tensor_attributes>;
constexpr fe::DataType_t F32 = fe::DataType_t::FLOAT;

enum Op { FWD = 0, DW, DB, DX, OPS };
const char* const OP_NAME[OPS] = {"forward", "weight gradient", "bias gradient (reduction)", "data gradient"};

// One built graph; its user tensors have uids 1..align.size(), passed in that order.
struct Plan {
  std::shared_ptr<fe::graph::Graph> graph;  // null: not built (db by GEMV, dX of layer 0)
  bool fused = true;             // false: the activation (forward) or ReLU' (dX) by cuis's kernel
  std::vector<int64_t> align;    // bytes, per pointer
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
inline fe::graph::Tensor_attributes desc(const char* name, int64_t uid, int64_t rows, int64_t cols,
                                         bool transposed, int64_t align) {
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
  return ok(g.check_support(), "check_support") && ok(g.build_plans(fe::BuildPlanPolicy_t::HEURISTICS_CHOICE), "build_plans");
}

}  // namespace cudnn_parts
}  // namespace detail
}  // namespace cuis
