// cuis's PyTorch ops: the library `cuis` (its schemas) and its kernels,
// registered through PyTorch's stable ABI when torch.ops.load_library loads
// libcuis_torch.so (cuis/_torch_ops.py). The schemas are those the Python
// fallback (torch.library.custom_op) registers, with int for SymInt; the fake
// (meta) implementations are registered from Python for both. One kernel per
// op for every device (CompositeExplicitAutograd, as custom_op registers a
// function without device_types): it branches on CPU and CUDA itself.
#include <torch/csrc/stable/library.h>

#include "op_errors.h"
#include "ops.h"

namespace cuis_python {

namespace {

// An op's function with CallError turned into a tagged std::runtime_error.
template <auto F>
struct Tagged;

template <class R, class... A, R (*F)(A...)>
struct Tagged<F> {
  static R call(A... a) {
    return rethrow_tagged([&] { return F(a...); });
  }
};

}  // namespace

}  // namespace cuis_python

STABLE_TORCH_LIBRARY(cuis, m) {
  m.def(
      "sample(Tensor scores, int num_draws, bool replacement, int weighting, float k, float smooth, "
      "float adaptive_smooth, float mean_loss, float power, Tensor? candidate_ids, int seed, int offset) "
      "-> (Tensor, Tensor, Tensor)");
  m.def(
      "sample_rng(Tensor scores, int num_draws, bool replacement, int weighting, float k, float smooth, "
      "float adaptive_smooth, float mean_loss, float power, Tensor? candidate_ids, Tensor(a!) rng, "
      "Tensor? mean_loss_tensor, bool advance_rng) -> (Tensor, Tensor, Tensor)");
  m.def("uniform_indices(int count, int n, int seed, int offset, Device device) -> Tensor");
  m.def("uniform_indices_rng(Tensor(a!) rng, int count, int n, bool advance_rng) -> Tensor");
  m.def("cross_entropy_scores(Tensor logits, Tensor labels) -> (Tensor, Tensor, Tensor)");
}

STABLE_TORCH_LIBRARY_IMPL(cuis, CompositeExplicitAutograd, m) {
  using cuis_python::Tagged;
  m.impl("sample", TORCH_BOX(&Tagged<&cuis_python::sample_op>::call));
  m.impl("sample_rng", TORCH_BOX(&Tagged<&cuis_python::sample_rng_op>::call));
  m.impl("uniform_indices", TORCH_BOX(&Tagged<&cuis_python::uniform_indices_op>::call));
  m.impl("uniform_indices_rng", TORCH_BOX(&Tagged<&cuis_python::uniform_indices_rng_op>::call));
  m.impl("cross_entropy_scores", TORCH_BOX(&Tagged<&cuis_python::cross_entropy_scores_op>::call));
}
