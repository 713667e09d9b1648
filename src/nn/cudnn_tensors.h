// Internal, for dense_cudnn.cpp only (after it includes cudnn-frontend under
// its own namespace name): FP32 tensor descriptions in the layouts the dense
// layers use, pointer alignment, and the frontend's messages on one line.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace cuis {
namespace detail {
namespace cudnn_parts {

namespace fe = cudnn_frontend;
using Tensor = std::shared_ptr<fe::graph::Tensor_attributes>;
constexpr fe::DataType_t F32 = fe::DataType_t::FLOAT;

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

}  // namespace cudnn_parts
}  // namespace detail
}  // namespace cuis
