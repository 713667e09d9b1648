// The cuDNN backend of the dense layers (MlpBackend::cudnn): cuDNN 9's graph
// API through the cudnn-frontend headers, one graph per layer, op and planned
// row count (DenseContext::plan_rows), all built at init:
//   forward  matmul + bias, then ReLU or tanh on hidden layers
//   dW, db   matmul(X^T, dY) and the reduction ADD of dY over the rows in one
//            graph; else a dW graph and a db graph (deterministic reduction)
//   dX       matmul, times ReLU'(x) in the same graph for ReLU; for tanh the
//            plain matmul, then cuis's kernel
// The graphs are described in cudnn_graph_parts.h. Where cuDNN has no engine
// for a fused graph, the plain one and cuis's kernel (the activation, ReLU'),
// or for db cuBLAS's GEMV with ones: said in the note.
// libcudnn.so.9 is loaded at run time (cudnn_library.h; never linked).
// Without the frontend headers at configure time this file is a stub that
// says so.
#include <cstdint>
#include <memory>
#include <string>

#include "nn/cudnn_library.h"
#include "nn/dense_ops.h"

#if defined(CUIS_WITH_CUDNN)
#include <algorithm>
#include <array>
#include <exception>
#include <new>
#include <vector>

// cudnn-frontend's inline code under a namespace of cuis's own, so that it
// cannot clash with another copy of the frontend in the same program (a
// different version in a library next to cuis, or the same one with its own
// cudnn_dlhandle).
#define cudnn_frontend cuis_cudnn_frontend
#include <cudnn_frontend.h>

#include "core/cuda_check.h"
#include "core/error_detail.h"
#include "cuis/device_buffer.h"
#include "nn/blas_check.h"
#include "nn/cudnn_graph_parts.h"

// The shim's dlsym handle (NV_CUDNN_FRONTEND_USE_DYNAMIC_LOADING), set by cudnn_parts::library().
namespace cudnn_frontend {
void* cudnn_dlhandle = nullptr;
}  // namespace cudnn_frontend

namespace cuis {
namespace detail {
namespace {

namespace fe = cudnn_frontend;
using Graph = fe::graph::Graph;
using namespace cudnn_parts;  // ops, plans, tensor descriptions, library(), finish()

class CudnnOps final : public DenseOps {
 public:
  explicit CudnnOps(const DenseContext& c) : m_c(c) {}
  ~CudnnOps() override {
    m_plans.clear();  // plans before the handle
    try {
      if (m_handle) (void)fe::detail::destroy_handle(m_handle);
    } catch (...) {
    }
  }

  // Builds every graph; *usable false (with *note) when cuDNN cannot run the model.
  Error build(bool* usable, std::string* note) {
    *usable = false;
    const CudnnLibrary& lib = library();
    if (!lib.handle) {
      *note = lib.why;
      return Error::success;
    }
    int dev = 0, major = 0, minor = 0;
    CUIS_CUDA_TRY(cudaGetDevice(&dev));
    CUIS_CUDA_TRY(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
    CUIS_CUDA_TRY(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev));
    // Given to every graph: else check_support() asks a dlopen'ed libcudart.so for it.
    m_sm = major * 10 + minor;
    // The frontend's per-execute context check resolves cuCtxGetCurrent once, through a dlopen'ed
    // libcudart.so.12/13 where there is one: done here, not in a first execute under stream capture.
    (void)fe::detail::has_current_context();
    // Executing a runtime-compiled plan asks the CUDA runtime through a dlopen'ed libcudart (cuis links
    // its own statically): without one, fall back now rather than fail a step (a throw lands in the note).
    if (fe::detail::get_cuda_runtime_version() == 0) {
      *note = cudnn_library_name(lib) + ": the frontend found no shared libcudart (libcudart.so.12 or .13)";
      return Error::success;
    }
    const cudnnStatus_t st = fe::detail::create_handle(&m_handle);
    if (st != CUDNN_STATUS_SUCCESS) {
      m_handle = nullptr;
      *note = cudnn_library_name(lib) + ": cudnnCreate failed: " + fe::detail::get_error_string(st);
      return Error::success;
    }
    std::string db_why;  // non-empty: the bias gradients not yet planned (no DWB graph) by GEMV
    int64_t workspace = 0;
    m_plans.assign(m_c.plan_rows.size(), std::vector<std::array<Plan, OPS>>(m_c.layers.size()));
    for (size_t p = 0; p < m_c.plan_rows.size(); ++p)
      for (size_t l = 0; l < m_c.layers.size(); ++l)
        for (int op = 0; op < OPS; ++op) {
          if ((op == DX && l == 0) || (op == DB && !db_why.empty())) continue;
          if ((op == DW || op == DB) && m_plans[p][l][DWB].graph) continue;  // both in one graph
          Plan& plan = m_plans[p][l][op];
          std::string why, split_why;
          bool made = make_plan(static_cast<Op>(op), l, m_c.plan_rows[p], true, &plan, &why);
          if (!made && op == DWB) {  // then dW and db in graphs of their own
            plan = Plan{};
            if (m_two_graph_note.empty())
              m_two_graph_note = "weight and bias gradients in two graphs (" + one_line(why).substr(0, 200) + ")";
            continue;
          }
          if (!made &&
              splits(static_cast<Op>(op), l)) {  // the unfused graph, the activation or its derivative by cuis's kernel
            plan = Plan{};
            made = make_plan(static_cast<Op>(op), l, m_c.plan_rows[p], false, &plan, &split_why);
            if (made) note_split(std::string("layer ") + std::to_string(l) + "'s " + OP_NAME[op] + " unfused", why);
            if (!made) why = split_why;
          }
          if (!made) {
            plan = Plan{};
            const std::string what = std::string("no cuDNN engine for layer ") + std::to_string(l) + "'s " +
                                     OP_NAME[op] + " at " + std::to_string(m_c.plan_rows[p]) +
                                     " rows: " + one_line(why);
            if (op != DB) {
              *note = what + " [" + cudnn_library_name(lib) + "]";
              return Error::success;
            }
            db_why = what;
          }
          workspace = std::max(workspace, plan.workspace);
        }
    m_workspace = m_c.workspace;
    if (static_cast<size_t>(workspace) > m_c.workspace_bytes) {
      CUIS_TRY(m_own_workspace.resize(static_cast<size_t>(workspace)));
      m_workspace = m_own_workspace.data();
    }
    *note = cudnn_library_name(lib);
    for (const std::string& n : m_split_notes) *note += "; " + n;
    if (!m_two_graph_note.empty()) *note += "; " + m_two_graph_note;
    if (!db_why.empty()) *note += "; bias gradients without a cuDNN graph by cuBLAS GEMV (" + db_why + ")";
    *usable = true;
    return Error::success;
  }

  // Describes and validates every graph build() would make, fused and
  // unfused, with no handle and no GPU (cudnn_validate_graphs).
  bool validate_graphs(std::string* why) {
    if (!library().handle) {
      *why = library().why;
      return false;
    }
    m_validate_only = true;
    for (int64_t r : m_c.plan_rows)
      for (size_t l = 0; l < m_c.layers.size(); ++l)
        for (int op = 0; op < OPS; ++op)
          for (bool fused : {true, false}) {
            Plan plan;
            std::string w;
            if ((op == DX && l == 0) || (!fused && !splits(static_cast<Op>(op), l)) ||
                make_plan(static_cast<Op>(op), l, r, fused, &plan, &w))
              continue;
            *why = std::string(OP_NAME[op]) + (fused ? "" : " (unfused)") + " of layer " + std::to_string(l) + " at " +
                   std::to_string(r) + " rows: " + one_line(w);
            return false;
          }
    return true;
  }

  // Notes a graph built unfused (once per layer and kind, at most 4), with why the fused one was not.
  void note_split(const std::string& what, const std::string& why) {
    if (m_split_notes.size() < 4 && std::none_of(m_split_notes.begin(), m_split_notes.end(),
                                                 [&](const std::string& n) { return n.rfind(what, 0) == 0; }))
      m_split_notes.push_back(what + " (" + one_line(why).substr(0, 200) + ")");
  }

  // Whether op of layer l has an unfused form (the activation or ReLU' by cuis's kernel).
  bool splits(Op op, size_t l) const {
    return (op == FWD && l + 1 < m_c.layers.size()) || (op == DX && m_c.activation == Activation::relu);
  }

  Error bind(cudaStream_t s) override {
    try {
      const cudnnStatus_t st = fe::detail::set_stream(m_handle, s);
      if (st != CUDNN_STATUS_SUCCESS)
        return set_error(Error::cuda_error, std::string("cudnnSetStream: ") + fe::detail::get_error_string(st));
      return Error::success;
    } catch (const std::exception& e) {
      return set_error(Error::internal_error, std::string("cudnnSetStream: ") + e.what());
    }
  }

  int64_t rows_for(int64_t n) const override { return planned_rows(m_c.plan_rows, n); }

  Error forward(size_t l, int64_t n, const float* x, float* y, cudaStream_t s) override {
    const LayerParams& L = m_c.layers[l];
    std::array<const void*, 4> ptrs{x, m_c.params + L.weight, m_c.params + L.bias, y};
    const Plan* p = nullptr;
    CUIS_TRY(plan(l, n, FWD, &p));
    CUIS_TRY(run(l, n, FWD, ptrs.data(), ptrs.size()));
    return p->fused ? Error::success : launch_bias_act(y, nullptr, n, L.out, m_c.activation, false, s);
  }

  Error backward(size_t l, int64_t n, const float* dy, const float* x, float* dx, cudaStream_t s) override {
    const LayerParams& L = m_c.layers[l];
    const Plan *wb = nullptr, *db = nullptr;
    CUIS_TRY(plan(l, n, DWB, &wb));
    CUIS_TRY(plan(l, n, DB, &db));
    if (wb->graph) {  // dW and db in one graph
      std::array<const void*, 4> ptrs{x, dy, m_c.grads + L.weight, m_c.grads + L.bias};
      CUIS_TRY(run(l, n, DWB, ptrs.data(), ptrs.size()));
    } else if (db->graph) {
      std::array<const void*, 3> dw{dy, x, m_c.grads + L.weight};
      CUIS_TRY(run(l, n, DW, dw.data(), dw.size()));
      std::array<const void*, 2> ptrs{dy, m_c.grads + L.bias};
      CUIS_TRY(run(l, n, DB, ptrs.data(), ptrs.size()));
    } else {  // dW, then the column sums of dY as dense_cublas.cu computes them (a GEMV with ones)
      std::array<const void*, 3> dw{dy, x, m_c.grads + L.weight};
      CUIS_TRY(run(l, n, DW, dw.data(), dw.size()));
      const float one = 1.0f, zero = 0.0f;
      CUIS_BLAS_TRY(cublasSgemv(m_c.blas, CUBLAS_OP_N, L.out, static_cast<int>(n), &one, dy, L.out, m_c.ones, 1, &zero,
                                m_c.grads + L.bias, 1));
    }
    if (!dx) return Error::success;
    const Plan* p = nullptr;
    CUIS_TRY(plan(l, n, DX, &p));
    const bool fused = m_c.activation == Activation::relu && p->fused;  // dX = (dY W) * (x > 0): one graph
    std::array<const void*, 4> ptrs{dy, m_c.params + L.weight, fused ? x : dx, dx};
    CUIS_TRY(run(l, n, DX, ptrs.data(), fused ? 4 : 3));
    return fused ? Error::success : launch_act_backward(dx, x, n * L.in, m_c.activation, s);
  }

 private:
  Error plan(size_t l, int64_t n, Op op, const Plan** out) const {
    const auto it = std::lower_bound(m_c.plan_rows.begin(), m_c.plan_rows.end(), n);
    if (it == m_c.plan_rows.end() || *it != n || l >= m_c.layers.size())
      return set_error(Error::internal_error,
                       "cuDNN backend: no plan for layer " + std::to_string(l) + " at " + std::to_string(n) + " rows");
    *out = &m_plans[static_cast<size_t>(it - m_c.plan_rows.begin())][l][op];
    return Error::success;
  }

  // Executes a built graph on the handle's stream: no allocation, no synchronisation.
  Error run(size_t l, int64_t n, Op op, const void* const* ptrs, size_t count) const {
    const Plan* p = nullptr;
    CUIS_TRY(plan(l, n, op, &p));
    const auto fail = [&](Error code, const std::string& what) {  // only on failure: no string per call
      return set_error(code, std::string("cuDNN ") + OP_NAME[op] + " of layer " + std::to_string(l) + ": " + what);
    };
    if (!p->graph || p->align.size() != count) return fail(Error::internal_error, "no graph");
    std::array<void*, 4> args{};
    for (size_t i = 0; i < count; ++i) {
      if (reinterpret_cast<uintptr_t>(ptrs[i]) % static_cast<uintptr_t>(p->align[i]) != 0)
        return fail(Error::misaligned_pointer, "operand " + std::to_string(i) + " is not aligned as planned");
      args[i] = const_cast<void*>(ptrs[i]);
    }
    try {
      auto e = p->graph->execute(m_handle, args.data(), static_cast<int>(count), m_workspace);
      return e.is_good() ? Error::success : fail(Error::cuda_error, one_line(e.get_message()));
    } catch (const std::exception& e) {
      return fail(Error::internal_error, e.what());
    }
  }

  // Describes, validates and builds one graph (heuristics A then fallback,
  // deterministic engines only; FP32 math also without tensor cores or
  // down-converted inputs). false with *why when cuDNN cannot.
  bool make_plan(Op op, size_t l, int64_t r, bool fused, Plan* plan, std::string* why) {
    plan->fused = fused;
    try {
      auto g = std::make_shared<Graph>();
      g->set_io_data_type(F32).set_intermediate_data_type(F32).set_compute_data_type(F32).set_sm_version(m_sm);
      if (!describe(*g, op, m_c, l, r, fused, plan)) return false;
      if (!cudnn_parts::finish(*g, m_validate_only ? nullptr : m_handle, m_c.math, why)) return false;
      if (m_validate_only) return true;  // the variant pack exists once plans are built
      const std::vector<int64_t> uids = g->get_variant_pack_uids_sorted();  // sorted, unique
      if (uids.size() != plan->align.size() || uids.front() != 1 || uids.back() != static_cast<int64_t>(uids.size())) {
        *why = "unexpected variant pack";
        return false;
      }
      auto e = g->get_workspace_size(plan->workspace);
      if (e.is_bad()) {
        *why = "get_workspace_size: " + e.get_message();
        return false;
      }
      plan->graph = std::move(g);
      return true;
    } catch (const std::exception& e) {
      *why = std::string("exception: ") + e.what();
      return false;
    }
  }

  DenseContext m_c;
  cudnnHandle_t m_handle = nullptr;
  int32_t m_sm = 0;
  bool m_validate_only = false;            // validate_graphs(): describe and validate, no handle
  std::string m_two_graph_note;            // why dW and db are not one graph (the first layer that asked)
  std::vector<std::string> m_split_notes;  // the graphs built unfused (at most 4 named)
  std::vector<std::vector<std::array<Plan, OPS>>> m_plans;  // [planned row count][layer][op]
  // c.workspace, or m_own_workspace when the plans need more.
  void* m_workspace = nullptr;
  DeviceBuffer<char> m_own_workspace;
};

}  // namespace

bool cudnn_validate_graphs(const DenseContext& c, std::string* why) {
  try {
    return CudnnOps(c).validate_graphs(why);
  } catch (const std::exception& e) {
    *why = std::string("exception: ") + e.what();
    return false;
  }
}

Error make_cudnn_ops(const DenseContext& c, std::unique_ptr<DenseOps>* out, std::string* note) {
  out->reset();
  try {
    auto ops = std::make_unique<CudnnOps>(c);
    bool usable = false;
    CUIS_TRY(ops->build(&usable, note));
    if (usable) *out = std::move(ops);
    return Error::success;
  } catch (const std::bad_alloc&) {
    return set_error(Error::out_of_memory, "cuDNN backend: out of host memory");
  } catch (const std::exception& e) {  // from the frontend (a missing symbol): fall back
    *note = std::string("cuDNN: ") + e.what();
    return Error::success;
  }
}

}  // namespace detail
}  // namespace cuis

#else  // !CUIS_WITH_CUDNN: the stub

namespace cuis {
namespace detail {

bool cudnn_validate_graphs(const DenseContext&, std::string* why) {
  *why = cudnn_loaded().why;
  return false;
}

Error make_cudnn_ops(const DenseContext&, std::unique_ptr<DenseOps>* out, std::string* note) {
  out->reset();
  *note = cudnn_loaded().why;  // "built without the cuDNN backend (...)"
  return Error::success;
}

}  // namespace detail
}  // namespace cuis

#endif
