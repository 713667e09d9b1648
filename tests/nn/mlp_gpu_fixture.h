// The GPU MLP tests' fixture: device copies of a test problem, batches for
// both paths, and compare_steps (several optimizer steps on cuis::Mlp and
// cuis::ref::Mlp: losses, gradient norms, gradients and parameters within
// FP32, or TF32, rounding; outputs start as garbage, statuses checked).
// Skips (with a message) where no GPU is present.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>

#include "common/gpu_fixture.h"
#include "common/train_data.h"
#include "cuis/mlp.h"
#include "cuis/nn/loss.h"
#include "cuis/nn/reference.h"

namespace cuis_test {

using cuis::DeviceBuffer;
using cuis::Error;

inline void expect_close(const std::vector<float>& got, const std::vector<float>& want, double rel, double abs,
                         const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int shown = 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (!(std::fabs(got[i] - want[i]) <= abs + rel * std::fabs(want[i])) && shown++ < 5)
      ADD_FAILURE() << what << "[" << i << "]: " << got[i] << " vs " << want[i];
}

class MlpGpu : public Gpu {
 protected:
  struct DeviceData {
    DeviceBuffer<float> x, targets, weights, loss, norm;
    DeviceBuffer<int32_t> labels;
    DeviceBuffer<int64_t> idx;
  };
  DeviceData put(const Data& d, const std::vector<int64_t>& idx, const std::vector<float>& w) {
    DeviceData dd;
    dd.x = upload(d.x);
    dd.targets = upload(d.targets);
    dd.labels = upload(d.labels);
    dd.idx = upload(idx);
    dd.weights = upload(w);
    EXPECT_EQ(dd.loss.resize(idx.size()), Error::success);
    EXPECT_EQ(dd.norm.resize(idx.size()), Error::success);
    return dd;
  }
  static cuis::TrainBatch batch(const Data& d, const DeviceData& dd, size_t b, bool device) {
    cuis::TrainBatch t;
    t.rows = static_cast<int64_t>(d.labels.size());
    t.batch = static_cast<int64_t>(b);
    if (device) {
      t.data = dd.x.data();
      t.labels = dd.labels.data();
      t.targets = dd.targets.data();
      t.indices = dd.idx.data();
      t.weights = dd.weights.data();
      t.loss = dd.loss.data();
      t.grad_norm = dd.norm.data();
    } else {
      t.data = d.x.data();
      t.labels = d.labels.data();
      t.targets = d.targets.data();
    }
    return t;
  }

  // One train_step of m captured on the test's stream, checked to hold no
  // allocation, instantiated for replay (null, with a failure, otherwise).
  cudaGraphExec_t capture_step(cuis::Mlp& m, const cuis::TrainBatch& b) {
    cudaGraph_t graph = nullptr;
    EXPECT_EQ(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal), cudaSuccess);
    const Error e = m.train_step(b, stream);
    EXPECT_EQ(cudaStreamEndCapture(stream, &graph), cudaSuccess);
    EXPECT_EQ(e, Error::success) << cuis::last_error_message();
    if (!graph || e != Error::success) {
      if (graph) cudaGraphDestroy(graph);
      return nullptr;
    }
    expect_no_allocation(graph, "a training step");
    cudaGraphExec_t exec = nullptr;
    EXPECT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
    cudaGraphDestroy(graph);
    return exec;
  }

  // Several steps on both paths; compares per-sample losses, gradients, parameters.
  // Tolerances: FP32 agrees with the reference to rounding; TF32 rounds every
  // GEMM input to 10 mantissa bits, so only to about 1e-2.
  // With a backend: batches of `batch` rows on a model of max_batch rows
  // planned for max_batch only (cuBLASLt and cuDNN then pad the batch; the
  // first step then takes all max_batch rows, so that the padded rows of the
  // next steps hold stale values unless zeroed). *used, *note: the backend in
  // use (it may have fallen back to cuBLAS) and its note.
  void compare_steps(const cuis::MlpShape& shape, cuis::OptimizerConfig opt, int steps,
                     cuis::Math math = cuis::Math::fp32, cuis::MlpBackend backend = cuis::MlpBackend::cublas,
                     int batch = 64, int max_batch = 64, cuis::MlpBackend* used = nullptr,
                     std::string* note = nullptr) {
    const bool tf32 = math == cuis::Math::tf32;
    const double loss_rel = tf32 ? 2e-2 : 1e-4, loss_abs = tf32 ? 1e-3 : 1e-5;
    const double grad_rel = tf32 ? 5e-2 : 1e-3, grad_abs = tf32 ? 1e-3 : 1e-5;
    const double param_rel = tf32 ? 1e-2 : 1e-3,
                 param_abs =
                     tf32 ? 2.5e-3 * steps : 1e-5;  // TF32: an Adam step of a near-zero gradient may flip (2 lr)
    const Data d = make_data(300, shape.sizes[0], shape.sizes.back(), 3);
    std::vector<int64_t> idx(max_batch);
    std::vector<float> w(max_batch);
    for (int j = 0; j < max_batch; ++j) {
      idx[j] = (j * 37) % 300;
      w[j] = 0.5f + 0.02f * j;
    }
    const DeviceData dd = put(d, idx, w);
    cuis::Mlp gpu;
    cuis::MlpOptions o;
    o.math = math;
    o.backend = backend;
    ASSERT_EQ(gpu.init(shape, opt, max_batch, 7, o), Error::success) << cuis::last_error_message();
    if (used) *used = gpu.backend();
    if (note) *note = gpu.backend_note();
    cuis::ref::Mlp cpu;
    CUIS_OK(cpu.init(shape, opt, 7));
    for (int s = 0; s < steps; ++s) {
      const int rows = s == 0 ? max_batch : batch;
      poison(dd.loss);
      poison(dd.norm);
      poison(gpu.status(), 1, POISON_AB);
      CUIS_OK(gpu.train_step(this->batch(d, dd, rows, true), stream));
      const cuis::DeviceStatus gst = download(gpu.status(), 1)[0];
      ASSERT_EQ(gst.code, Error::success) << "step " << s << ": " << cuis::describe(gst);
      cuis::TrainBatch hb = this->batch(d, dd, rows, false);
      hb.indices = idx.data();
      hb.weights = w.data();
      std::vector<float> loss(rows, NAN), norm(rows, NAN);
      hb.loss = loss.data();
      hb.grad_norm = norm.data();
      cuis::DeviceStatus st = unwritten_status();
      CUIS_OK(cpu.train_step(hb, &st));
      ASSERT_EQ(st.code, Error::success);
      expect_close(download(dd.loss.data(), rows), loss, loss_rel, loss_abs, "loss");
      expect_close(download(dd.norm.data(), rows), norm, loss_rel, loss_abs, "grad norm");
      std::vector<float> g;
      CUIS_OK(gpu.gradients(&g, stream));
      expect_close(g, cpu.grads(), grad_rel, grad_abs, "gradients");
    }
    cuis::Checkpoint c;
    CUIS_OK(gpu.checkpoint(&c, stream));
    EXPECT_EQ(c.step, static_cast<uint64_t>(steps));
    expect_close(c.params, cpu.params(), param_rel, param_abs, "parameters");
    cuis::DeviceStatus st = unwritten_status();
    CUDA_OK(cudaMemcpy(&st, gpu.status(), sizeof st, cudaMemcpyDeviceToHost));
    EXPECT_EQ(st.code, Error::success);
  }
};

}  // namespace cuis_test
