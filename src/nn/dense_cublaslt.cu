// The cuBLASLt backend of the dense layers (MlpBackend::cublaslt): what
// PyTorch does for Linear + ReLU. Each product is one cublasLtMatmul with
// the work around it fused into its epilogue where cuBLASLt has an algorithm
// for it, else the plain GEMM and cuis's kernel (said in the note):
//   forward  hidden ReLU: RELU_AUX_BIAS (bias, ReLU, and a ReLU bit mask for
//            the backward pass); tanh or the last layer: BIAS (then tanh by kernel)
//   dW       BGRADB: the bias gradient (column sums of dY) from the same GEMM
//   dX       DRELU: times ReLU'(pre-activation) from the forward pass's mask
// Descriptors, layouts and algorithms are fixed at init for every planned row
// count (DenseContext::plan_rows), so a step allocates nothing, asks no
// heuristic and is capturable. Where cuBLASLt has no algorithm even for a
// plain GEMM the builder returns no ops and the model falls back to cuBLAS.
#include <cublasLt.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "core/error_detail.h"
#include "cuis/device_buffer.h"
#include "nn/blas_check.h"
#include "nn/dense_ops.h"

namespace cuis {
namespace detail {
namespace {

// The model's activation and gradient buffers are 256-byte aligned (Mlp::Impl).
constexpr uint32_t BUFFER_ALIGNMENT = 256;

uint32_t alignment_of(const void* p) {
  uint32_t a = BUFFER_ALIGNMENT;
  while (a > 4 && reinterpret_cast<uintptr_t>(p) % a != 0) a /= 2;
  return a;
}

// Bits per column of a ReLU mask (cuBLASLt: a multiple of 128, >= rows).
int64_t mask_ld(int32_t rows) { return (static_cast<int64_t>(rows) + 127) / 128 * 128; }

// One cublasLtMatmul with its descriptors and algorithm, D = op(A) op(B).
struct Gemm {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
  cublasLtMatmulAlgo_t algo{};
  cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;

  Gemm() = default;
  Gemm(const Gemm&) = delete;
  Gemm& operator=(const Gemm&) = delete;
  ~Gemm() { reset(); }
  void reset() {
    if (desc) cublasLtMatmulDescDestroy(desc);
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (d) cublasLtMatrixLayoutDestroy(d);
    desc = nullptr;
    a = b = d = nullptr;
  }
};

// What a GEMM computes: column-major D[m, n] = op(A) op(B), k the inner size.
struct GemmShape {
  cublasOperation_t ta, tb;
  int64_t m, n, k, lda, ldb, ldd;
  const void* a_ptr;  // A or D when fixed (weights, weight gradients), for their alignment;
  const void* d_ptr;  // null: an activation buffer, 256-byte aligned
};

struct Epilogue {
  cublasLtEpilogue_t kind;
  const void* bias;  // bias, or bias-gradient output
  void* aux;         // ReLU mask
  int64_t aux_ld;
};

struct LayerPlan {
  Gemm fwd, dw, dx;
};

class LtOps final : public DenseOps {
 public:
  explicit LtOps(const DenseContext& c) : m_c(c) {}
  ~LtOps() override {
    m_plans.clear();
    if (m_lt) cublasLtDestroy(m_lt);
  }

  // Builds every plan; *usable false (with *note) when some plain GEMM has no algorithm.
  Error build(bool* usable, std::string* note) {
    *usable = false;
    CUIS_BLAS_TRY(cublasLtCreate(&m_lt));
    const size_t L = m_c.layers.size();
    m_mask_offset.assign(L, -1);
    int64_t mask_bytes = 0;
    for (size_t l = 0; l + 1 < L; ++l)
      if (m_c.activation == Activation::relu) {
        m_mask_offset[l] = mask_bytes;
        mask_bytes += (mask_ld(m_c.layers[l].out) / 8 * m_c.max_batch + 255) / 256 * 256;
      }
    if (mask_bytes > 0) CUIS_TRY(m_mask.resize(mask_bytes));
    m_plans.resize(m_c.plan_rows.size());
    for (size_t p = 0; p < m_c.plan_rows.size(); ++p) {
      m_plans[p] = std::vector<LayerPlan>(L);
      for (size_t l = 0; l < L; ++l) {
        std::string why;
        const bool prev_mask = l > 0 && m_plans[p][l - 1].fwd.epilogue == CUBLASLT_EPILOGUE_RELU_AUX_BIAS;
        CUIS_TRY(plan_layer(l, m_c.plan_rows[p], prev_mask, &m_plans[p][l], &why));
        if (!why.empty()) {
          *note = why;
          return Error::success;
        }
      }
    }
    *usable = true;
    *note = summary();
    return Error::success;
  }

  Error bind(cudaStream_t) override { return Error::success; }  // the stream goes with each call
  int64_t rows_for(int64_t n) const override { return planned_rows(m_c.plan_rows, n); }

  Error forward(size_t l, int64_t n, const float* x, float* y, cudaStream_t s) override {
    const LayerPlan* p = nullptr;
    CUIS_TRY(plan(l, n, &p));
    const LayerParams& L = m_c.layers[l];
    CUIS_TRY(run(p->fwd, m_c.params + L.weight, x, y, s));
    const bool last = l + 1 == m_c.layers.size();
    switch (p->fwd.epilogue) {
      case CUBLASLT_EPILOGUE_RELU_AUX_BIAS:
        return Error::success;
      case CUBLASLT_EPILOGUE_BIAS:  // tanh (or the last layer: nothing)
        return last ? Error::success : launch_bias_act(y, nullptr, n, L.out, m_c.activation, false, s);
      default:
        return launch_bias_act(y, m_c.params + L.bias, n, L.out, m_c.activation, last, s);
    }
  }

  Error backward(size_t l, int64_t n, const float* dy, const float* x, float* dx, cudaStream_t s) override {
    const LayerPlan* p = nullptr;
    CUIS_TRY(plan(l, n, &p));
    const LayerParams& L = m_c.layers[l];
    CUIS_TRY(run(p->dw, x, dy, m_c.grads + L.weight, s));
    if (p->dw.epilogue != CUBLASLT_EPILOGUE_BGRADB) {
      const float one = 1.0f, zero = 0.0f;
      CUIS_BLAS_TRY(cublasSgemv(m_c.blas, CUBLAS_OP_N, L.out, static_cast<int>(n), &one, dy, L.out, m_c.ones, 1, &zero,
                                m_c.grads + L.bias, 1));
    }
    if (!dx) return Error::success;
    CUIS_TRY(run(p->dx, m_c.params + L.weight, dy, dx, s));
    if (p->dx.epilogue == CUBLASLT_EPILOGUE_DRELU) return Error::success;
    return launch_act_backward(dx, x, n * L.in, m_c.activation, s);
  }

 private:
  Error plan(size_t l, int64_t n, const LayerPlan** out) const {
    const auto it = std::lower_bound(m_c.plan_rows.begin(), m_c.plan_rows.end(), n);
    if (it == m_c.plan_rows.end() || *it != n)
      return set_error(Error::internal_error, "cuBLASLt backend: no plan for " + std::to_string(n) + " rows");
    *out = &m_plans[static_cast<size_t>(it - m_c.plan_rows.begin())][l];
    return Error::success;
  }

  Error run(const Gemm& g, const void* a, const void* b, void* d, cudaStream_t s) const {
    const float one = 1.0f, zero = 0.0f;
    CUIS_BLAS_TRY(cublasLtMatmul(m_lt, g.desc, &one, a, g.a, b, g.b, &zero, d, g.d, d, g.d, &g.algo, m_c.workspace,
                                 m_c.workspace_bytes, s));
    return Error::success;
  }

  uint8_t* mask(size_t l) const { return m_mask_offset[l] < 0 ? nullptr : m_mask.data() + m_mask_offset[l]; }

  // The layer's three GEMMs at `rows` rows, each with the most fused epilogue
  // cuBLASLt has an algorithm for (DRELU only when the previous layer's
  // forward GEMM at these rows writes the mask). *why: a plain GEMM with none.
  Error plan_layer(size_t l, int64_t rows, bool prev_mask, LayerPlan* p, std::string* why) {
    const LayerParams& L = m_c.layers[l];
    const bool last = l + 1 == m_c.layers.size();
    const float* w = m_c.params + L.weight;
    float* db = m_c.grads + L.bias;
    const GemmShape fwd{CUBLAS_OP_T, CUBLAS_OP_N, L.out, rows, L.in, L.in, L.in, L.out, w, nullptr};
    std::vector<Epilogue> fwd_try;
    if (!last && m_c.activation == Activation::relu)
      fwd_try.push_back({CUBLASLT_EPILOGUE_RELU_AUX_BIAS, m_c.params + L.bias, mask(l), mask_ld(L.out)});
    fwd_try.push_back({CUBLASLT_EPILOGUE_BIAS, m_c.params + L.bias, nullptr, 0});
    const GemmShape dw{CUBLAS_OP_N, CUBLAS_OP_T, L.in, L.out, rows, L.in, L.out, L.in, nullptr, m_c.grads + L.weight};
    const std::vector<Epilogue> dw_try{{CUBLASLT_EPILOGUE_BGRADB, db, nullptr, 0}};
    const GemmShape dx{CUBLAS_OP_N, CUBLAS_OP_N, L.in, rows, L.out, L.in, L.out, L.in, w, nullptr};
    std::vector<Epilogue> dx_try;
    if (prev_mask) dx_try.push_back({CUBLASLT_EPILOGUE_DRELU, nullptr, mask(l - 1), mask_ld(L.in)});
    bool found = false;
    CUIS_TRY(choose(fwd, fwd_try, &p->fwd, &found));
    if (!found) *why = "no cuBLASLt algorithm for layer " + std::to_string(l) + "'s forward GEMM";
    CUIS_TRY(choose(dw, dw_try, &p->dw, &found));
    if (!found && why->empty()) *why = "no cuBLASLt algorithm for layer " + std::to_string(l) + "'s weight gradient";
    if (l > 0) {
      CUIS_TRY(choose(dx, dx_try, &p->dx, &found));
      if (!found && why->empty()) *why = "no cuBLASLt algorithm for layer " + std::to_string(l) + "'s data gradient";
    }
    record(p->fwd.epilogue != (fwd_try.front().kind), "forward epilogue " + epilogue_name(fwd_try.front().kind));
    record(p->dw.epilogue != CUBLASLT_EPILOGUE_BGRADB, "BGRADB (bias gradients by cuBLAS GEMV)");
    if (!dx_try.empty()) record(p->dx.epilogue != CUBLASLT_EPILOGUE_DRELU, "DRELU (ReLU' by cuis's kernel)");
    return Error::success;
  }

  // Tries the epilogues in order, then the plain GEMM; *found false when none has an algorithm.
  Error choose(const GemmShape& s, std::vector<Epilogue> order, Gemm* g, bool* found) {
    order.push_back({CUBLASLT_EPILOGUE_DEFAULT, nullptr, nullptr, 0});
    for (const Epilogue& e : order) {
      CUIS_TRY(describe(s, e, g));
      cublasLtMatmulPreference_t pref = nullptr;
      CUIS_BLAS_TRY(cublasLtMatmulPreferenceCreate(&pref));
      const uint64_t ws = m_c.workspace_bytes;
      const uint32_t align_a = s.a_ptr ? alignment_of(s.a_ptr) : BUFFER_ALIGNMENT;
      const uint32_t align_d = s.d_ptr ? alignment_of(s.d_ptr) : BUFFER_ALIGNMENT;
      cublasLtMatmulHeuristicResult_t result{};
      int count = 0;
      cublasStatus_t st =
          cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws);
      if (st == CUBLAS_STATUS_SUCCESS)
        st = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &align_a,
                                                  sizeof align_a);
      for (const auto attr : {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES})
        if (st == CUBLAS_STATUS_SUCCESS)
          st = cublasLtMatmulPreferenceSetAttribute(pref, attr, &align_d, sizeof align_d);
      if (st == CUBLAS_STATUS_SUCCESS)
        st = cublasLtMatmulAlgoGetHeuristic(m_lt, g->desc, g->a, g->b, g->d, g->d, pref, 1, &result, &count);
      cublasLtMatmulPreferenceDestroy(pref);
      if (st == CUBLAS_STATUS_SUCCESS && count > 0 && result.state == CUBLAS_STATUS_SUCCESS) {
        g->algo = result.algo;
        g->epilogue = e.kind;
        *found = true;
        return Error::success;
      }
      // A real failure (allocation, initialisation) is an error; any other answer means "no algorithm".
      if (st == CUBLAS_STATUS_ALLOC_FAILED || st == CUBLAS_STATUS_NOT_INITIALIZED || st == CUBLAS_STATUS_INTERNAL_ERROR)
        CUIS_BLAS_TRY(st);
      g->reset();
    }
    *found = false;
    return Error::success;
  }

  Error describe(const GemmShape& s, const Epilogue& e, Gemm* g) const {
    g->reset();
    const cublasComputeType_t compute = m_c.math == Math::tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    CUIS_BLAS_TRY(cublasLtMatmulDescCreate(&g->desc, compute, CUDA_R_32F));
    CUIS_BLAS_TRY(cublasLtMatmulDescSetAttribute(g->desc, CUBLASLT_MATMUL_DESC_TRANSA, &s.ta, sizeof s.ta));
    CUIS_BLAS_TRY(cublasLtMatmulDescSetAttribute(g->desc, CUBLASLT_MATMUL_DESC_TRANSB, &s.tb, sizeof s.tb));
    CUIS_BLAS_TRY(cublasLtMatmulDescSetAttribute(g->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &e.kind, sizeof e.kind));
    if (e.bias)
      CUIS_BLAS_TRY(cublasLtMatmulDescSetAttribute(g->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &e.bias, sizeof e.bias));
    if (e.aux) {
      CUIS_BLAS_TRY(
          cublasLtMatmulDescSetAttribute(g->desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &e.aux, sizeof e.aux));
      CUIS_BLAS_TRY(
          cublasLtMatmulDescSetAttribute(g->desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, &e.aux_ld, sizeof e.aux_ld));
    }
    // Stored shapes (column-major): A is m x k, or k x m when transposed; B likewise.
    const bool ta = s.ta == CUBLAS_OP_T, tb = s.tb == CUBLAS_OP_T;
    CUIS_BLAS_TRY(cublasLtMatrixLayoutCreate(&g->a, CUDA_R_32F, ta ? s.k : s.m, ta ? s.m : s.k, s.lda));
    CUIS_BLAS_TRY(cublasLtMatrixLayoutCreate(&g->b, CUDA_R_32F, tb ? s.n : s.k, tb ? s.k : s.n, s.ldb));
    CUIS_BLAS_TRY(cublasLtMatrixLayoutCreate(&g->d, CUDA_R_32F, s.m, s.n, s.ldd));
    return Error::success;
  }

  static std::string epilogue_name(cublasLtEpilogue_t e) {
    return e == CUBLASLT_EPILOGUE_RELU_AUX_BIAS ? "RELU_AUX_BIAS" : e == CUBLASLT_EPILOGUE_BIAS ? "BIAS" : "DEFAULT";
  }

  void record(bool missed, const std::string& what) {
    if (missed && std::find(m_missed.begin(), m_missed.end(), what) == m_missed.end()) m_missed.push_back(what);
  }

  std::string summary() const {
    if (m_missed.empty()) return "";
    std::string s = "cublaslt: no algorithm for";
    for (size_t i = 0; i < m_missed.size(); ++i) s += (i ? "; " : " ") + m_missed[i];
    return s;
  }

  DenseContext m_c;
  cublasLtHandle_t m_lt = nullptr;
  DeviceBuffer<uint8_t> m_mask;                 // ReLU masks of the hidden layers, max_batch columns each
  std::vector<int64_t> m_mask_offset;           // per layer, -1: none
  std::vector<std::vector<LayerPlan>> m_plans;  // [planned row count][layer]
  std::vector<std::string> m_missed;
};

}  // namespace

Error make_cublaslt_ops(const DenseContext& c, std::unique_ptr<DenseOps>* out, std::string* note) {
  auto ops = std::make_unique<LtOps>(c);
  bool usable = false;
  CUIS_TRY(ops->build(&usable, note));
  if (usable) *out = std::move(ops);
  return Error::success;
}

}  // namespace detail
}  // namespace cuis
