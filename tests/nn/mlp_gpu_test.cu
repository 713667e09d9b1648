// The CUDA trainer and loss kernels against the CPU reference: per-sample
// losses, gradients, several optimizer steps, training a tiny problem, a
// graph-captured step, checkpoints, bad batches, chunked scoring.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>

#include "cuis/nn/loss.h"
#include "cuis/mlp.h"
#include "cuis/nn/reference.h"
#include "common/gpu_fixture.h"
#include "common/train_data.h"

namespace {

using cuis::DeviceBuffer;
using cuis::Error;
using namespace cuis_test;

void expect_close(const std::vector<float>& got, const std::vector<float>& want, double rel, double abs,
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

  // Several steps on both paths; compares per-sample losses, gradients, parameters.
  // Tolerances: FP32 agrees with the reference to rounding; TF32 rounds every
  // GEMM input to 10 mantissa bits, so only to about 1e-2.
  void compare_steps(const cuis::MlpShape& shape, cuis::OptimizerConfig opt, int steps,
                     cuis::Math math = cuis::Math::fp32) {
    const bool tf32 = math == cuis::Math::tf32;
    const double loss_rel = tf32 ? 2e-2 : 1e-4, loss_abs = tf32 ? 1e-3 : 1e-5;
    const double grad_rel = tf32 ? 5e-2 : 1e-3, grad_abs = tf32 ? 1e-3 : 1e-5;
    const double param_rel = tf32 ? 1e-2 : 1e-3, param_abs = tf32 ? 2.5e-3 * steps : 1e-5;  // TF32: an Adam step of a near-zero gradient may flip (2 lr)
    const Data d = make_data(300, shape.sizes[0], shape.sizes.back(), 3);
    std::vector<int64_t> idx(64);
    std::vector<float> w(64);
    for (int j = 0; j < 64; ++j) {
      idx[j] = (j * 37) % 300;
      w[j] = 0.5f + 0.02f * j;
    }
    const DeviceData dd = put(d, idx, w);
    cuis::Mlp gpu;
    CUIS_OK(gpu.init(shape, opt, 64, 7, math));
    cuis::ref::Mlp cpu;
    CUIS_OK(cpu.init(shape, opt, 7));
    for (int s = 0; s < steps; ++s) {
      CUIS_OK(gpu.train_step(batch(d, dd, 64, true), stream));
      cuis::TrainBatch hb = batch(d, dd, 64, false);
      hb.indices = idx.data();
      hb.weights = w.data();
      std::vector<float> loss(64), norm(64);
      hb.loss = loss.data();
      hb.grad_norm = norm.data();
      cuis::DeviceStatus st{};
      CUIS_OK(cpu.train_step(hb, &st));
      ASSERT_EQ(st.code, Error::success);
      expect_close(download(dd.loss.data(), 64), loss, loss_rel, loss_abs, "loss");
      expect_close(download(dd.norm.data(), 64), norm, loss_rel, loss_abs, "grad norm");
      std::vector<float> g;
      CUIS_OK(gpu.gradients(&g, stream));
      expect_close(g, cpu.grads(), grad_rel, grad_abs, "gradients");
    }
    cuis::Checkpoint c;
    CUIS_OK(gpu.checkpoint(&c, stream));
    EXPECT_EQ(c.step, static_cast<uint64_t>(steps));
    expect_close(c.params, cpu.params(), param_rel, param_abs, "parameters");
    cuis::DeviceStatus st{};
    CUDA_OK(cudaMemcpy(&st, gpu.status(), sizeof st, cudaMemcpyDeviceToHost));
    EXPECT_EQ(st.code, Error::success);
  }
};

TEST_F(MlpGpu, MatchesReferenceOverSeveralSteps) {
  cuis::OptimizerConfig adam;
  adam.weight_decay = 1e-4f;
  cuis::OptimizerConfig sgd;
  sgd.kind = cuis::OptimizerKind::sgd;
  sgd.lr = 0.05f;
  sgd.weight_decay = 1e-4f;
  compare_steps({{20, 32, 16, 10}, cuis::Activation::relu, cuis::LossKind::cross_entropy}, adam, 5);
  compare_steps({{20, 24, 10}, cuis::Activation::tanh, cuis::LossKind::cross_entropy}, sgd, 5);
  compare_steps({{20, 16, 1}, cuis::Activation::tanh, cuis::LossKind::squared_error}, adam, 5);
}

// TF32 GEMMs: the same steps within TF32's rounding, on shapes large enough
// for cuBLAS to pick tensor-core kernels. tanh, not ReLU: TF32's rounding
// flips the sign of a few pre-activations near 0, and ReLU's kink then moves
// whole gradient rows by more than any tolerance that still means something.
TEST_F(MlpGpu, Tf32MatchesReferenceLoosely) {
  cuis::OptimizerConfig adam;
  compare_steps({{256, 128, 10}, cuis::Activation::tanh, cuis::LossKind::cross_entropy}, adam, 3, cuis::Math::tf32);
  cuis::Mlp bad;
  EXPECT_EQ(bad.init({{4, 2}, cuis::Activation::relu, cuis::LossKind::cross_entropy}, adam, 8, 1,
                     static_cast<cuis::Math>(7)),
            Error::invalid_argument);
}

TEST_F(MlpGpu, LossKernelMatchesReference) {
  for (int32_t classes : {1, 2, 10, 1000}) {
    const int64_t rows = 77;
    std::vector<float> z(rows * classes);
    std::vector<int32_t> y(rows);
    std::mt19937_64 g(classes);
    std::normal_distribution<float> n(0.0f, 3.0f);
    for (auto& v : z) v = n(g);
    z[0] = 1e4f;  // extreme logits in row 0
    if (classes > 1) z[1] = -1e4f;
    for (auto& l : y) l = static_cast<int32_t>(g() % classes);
    DeviceBuffer<float> dz = upload(z), loss, norm, grad;
    DeviceBuffer<int32_t> dy = upload(y);
    DeviceBuffer<cuis::DeviceStatus> st;
    CUIS_OK(loss.resize(rows));
    CUIS_OK(norm.resize(rows));
    CUIS_OK(grad.resize(rows * classes));
    CUIS_OK(st.resize(1));
    cuis::CrossEntropyArgs a;
    a.logits = dz.data();
    a.labels = dy.data();
    a.rows = rows;
    a.classes = classes;
    a.grad_scale = 0.5f;
    a.loss = loss.data();
    a.grad_norm = norm.data();
    a.dlogits = grad.data();
    a.status = st.data();
    CUIS_OK(cuis::cross_entropy(a, stream));
    std::vector<float> want_loss(rows), want_norm(rows), want_grad(rows * classes);
    for (int64_t r = 0; r < rows; ++r)
      ASSERT_EQ(cuis::ref::cross_entropy_row(&z[r * classes], classes, y[r], 0.5f, &want_loss[r], &want_norm[r],
                                             &want_grad[r * classes]),
                Error::success);
    expect_close(download(loss.data(), rows), want_loss, 1e-5, 1e-5, "loss");
    expect_close(download(norm.data(), rows), want_norm, 1e-5, 1e-6, "norm");
    expect_close(download(grad.data(), rows * classes), want_grad, 1e-5, 1e-7, "dlogits");
    EXPECT_EQ(download(st.data(), 1)[0].code, Error::success);
    // A bad label in row 40 and a NaN in row 50: row 40 is reported.
    y[40] = classes;
    z[50 * classes] = NAN;
    dz = upload(z);
    dy = upload(y);
    a.logits = dz.data();
    a.labels = dy.data();
    CUIS_OK(cuis::cross_entropy(a, stream));
    const cuis::DeviceStatus s = download(st.data(), 1)[0];
    EXPECT_EQ(s.code, Error::invalid_label);
    EXPECT_EQ(s.index, 40);
    EXPECT_EQ(s.value, static_cast<float>(classes));
    const std::vector<float> l = download(loss.data(), rows);
    EXPECT_TRUE(std::isnan(l[40]) && std::isnan(l[50]));
    EXPECT_EQ(download(grad.data() + 50 * classes, classes), std::vector<float>(classes, 0.0f));
  }
}

// The public loss entry points with per-sample weights, against the reference.
TEST_F(MlpGpu, WeightedLossesMatchReference) {
  const int64_t rows = 300;
  const int32_t classes = 7;
  std::vector<float> z(rows * classes), w(rows), pred(rows), target(rows);
  std::vector<int32_t> y(rows);
  std::mt19937_64 g(4);
  std::normal_distribution<float> n(0.0f, 2.0f);
  for (auto& v : z) v = n(g);
  for (int64_t r = 0; r < rows; ++r) {
    y[r] = static_cast<int32_t>(g() % classes);
    w[r] = 0.1f + 0.01f * static_cast<float>(r % 50);
    pred[r] = n(g);
    target[r] = n(g);
  }
  DeviceBuffer<float> dz = upload(z), dw = upload(w), dp = upload(pred), dt = upload(target), loss, grad;
  DeviceBuffer<int32_t> dy = upload(y);
  DeviceBuffer<cuis::DeviceStatus> st;
  CUIS_OK(loss.resize(rows));
  CUIS_OK(grad.resize(rows * classes));
  CUIS_OK(st.resize(1));
  cuis::CrossEntropyArgs a;
  a.logits = dz.data();
  a.labels = dy.data();
  a.rows = rows;
  a.classes = classes;
  a.sample_weights = dw.data();
  a.grad_scale = 1.0f / rows;
  a.dlogits = grad.data();
  a.status = st.data();
  CUIS_OK(cuis::cross_entropy(a, stream));
  std::vector<float> want(rows * classes);
  float l = 0, gn = 0;
  for (int64_t r = 0; r < rows; ++r)
    ASSERT_EQ(cuis::ref::cross_entropy_row(&z[r * classes], classes, y[r], w[r] / rows, &l, &gn, &want[r * classes]),
              Error::success);
  expect_close(download(grad.data(), rows * classes), want, 1e-5, 1e-8, "weighted dlogits");
  cuis::SquaredErrorArgs q;
  q.prediction = dp.data();
  q.target = dt.data();
  q.rows = rows;
  q.sample_weights = dw.data();
  q.grad_scale = 0.5f;
  q.loss = loss.data();
  q.dprediction = grad.data();
  q.status = st.data();
  CUIS_OK(cuis::squared_error(q, stream));
  std::vector<float> want_loss(rows), want_grad(rows);
  for (int64_t r = 0; r < rows; ++r) {
    want_loss[r] = (pred[r] - target[r]) * (pred[r] - target[r]);
    want_grad[r] = w[r] * 0.5f * 2.0f * (pred[r] - target[r]);
  }
  expect_close(download(loss.data(), rows), want_loss, 1e-6, 1e-7, "squared error");
  expect_close(download(grad.data(), rows), want_grad, 1e-6, 1e-7, "squared error gradient");
  EXPECT_EQ(download(st.data(), 1)[0].code, Error::success);
}

TEST_F(MlpGpu, TrainsTinyProblemToNearZeroLoss) {
  const Data d = make_data(32, 8, 4, 2);
  std::vector<int64_t> idx(32);
  for (int j = 0; j < 32; ++j) idx[j] = j;
  const DeviceData dd = put(d, idx, std::vector<float>(32, 1.0f));
  cuis::OptimizerConfig opt;
  opt.lr = 0.01f;
  cuis::Mlp m;
  CUIS_OK(m.init({{8, 32, 4}, cuis::Activation::tanh, cuis::LossKind::cross_entropy}, opt, 32, 1));
  for (int s = 0; s < 600; ++s) CUIS_OK(m.train_step(batch(d, dd, 32, true), stream));
  double loss = 0, err = 1;
  CUIS_OK(m.evaluate(dd.x.data(), 32, dd.labels.data(), nullptr, &loss, &err, stream));
  EXPECT_LT(loss, 0.05);
  EXPECT_EQ(err, 0.0);
}

// One step captured in a graph and replayed three times equals three plain steps, bit for bit.
TEST_F(MlpGpu, CapturedStepEqualsPlainSteps) {
  const cuis::MlpShape shape{{16, 32, 5}, cuis::Activation::relu, cuis::LossKind::cross_entropy};
  const Data d = make_data(100, 16, 5, 4);
  std::vector<int64_t> idx(50);
  for (int j = 0; j < 50; ++j) idx[j] = (j * 7) % 100;
  const DeviceData dd = put(d, idx, std::vector<float>(50, 1.0f));
  cuis::Mlp plain, captured;
  CUIS_OK(plain.init(shape, {}, 50, 9));
  CUIS_OK(captured.init(shape, {}, 50, 9));
  for (int s = 0; s < 3; ++s) CUIS_OK(plain.train_step(batch(d, dd, 50, true), stream));
  cudaGraph_t graph;
  CUDA_OK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
  const Error e = captured.train_step(batch(d, dd, 50, true), stream);
  CUDA_OK(cudaStreamEndCapture(stream, &graph));
  CUIS_OK(e);
  size_t nodes = 0;
  CUDA_OK(cudaGraphGetNodes(graph, nullptr, &nodes));
  std::vector<cudaGraphNode_t> list(nodes);
  CUDA_OK(cudaGraphGetNodes(graph, list.data(), &nodes));
  for (cudaGraphNode_t node : list) {
    cudaGraphNodeType type;
    CUDA_OK(cudaGraphNodeGetType(node, &type));
    EXPECT_NE(type, cudaGraphNodeTypeMemAlloc) << "a training step must not allocate";
  }
  cudaGraphExec_t exec;
  CUDA_OK(cudaGraphInstantiate(&exec, graph, 0));
  for (int s = 0; s < 3; ++s) CUDA_OK(cudaGraphLaunch(exec, stream));
  CUDA_OK(cudaStreamSynchronize(stream));
  cuis::Checkpoint a, b;
  CUIS_OK(plain.checkpoint(&a, stream));
  CUIS_OK(captured.checkpoint(&b, stream));
  EXPECT_EQ(a.params, b.params);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(b.step, 3u);
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
}

TEST_F(MlpGpu, BadBatchSkipsUpdate) {
  Data d = make_data(40, 6, 3, 5);
  std::vector<int64_t> idx = {1, 2, 40, 3};
  DeviceData dd = put(d, idx, std::vector<float>(4, 1.0f));
  cuis::Mlp m;
  CUIS_OK(m.init({{6, 8, 3}, cuis::Activation::relu, cuis::LossKind::cross_entropy}, {}, 8, 2));
  cuis::Checkpoint before, after;
  CUIS_OK(m.checkpoint(&before, stream));
  CUIS_OK(m.train_step(batch(d, dd, 4, true), stream));
  cuis::DeviceStatus st = download(m.status(), 1)[0];
  EXPECT_EQ(st.code, Error::index_out_of_range);
  EXPECT_EQ(st.index, 2);
  EXPECT_EQ(st.value, 40.0f);
  idx[2] = 4;
  d.labels[3] = -5;
  dd = put(d, idx, std::vector<float>(4, 1.0f));
  CUIS_OK(m.train_step(batch(d, dd, 4, true), stream));
  st = download(m.status(), 1)[0];
  EXPECT_EQ(st.code, Error::invalid_label);
  EXPECT_EQ(st.index, 3);
  CUIS_OK(m.checkpoint(&after, stream));
  EXPECT_EQ(after.params, before.params);
  EXPECT_EQ(after.step, 0u);
}

// Bad batches on both paths: the same status (code, position, value) and no update.
TEST_F(MlpGpu, BadBatchesMatchReference) {
  for (cuis::LossKind loss : {cuis::LossKind::cross_entropy, cuis::LossKind::squared_error}) {
    const cuis::MlpShape shape{{6, 8, loss == cuis::LossKind::cross_entropy ? 3 : 1}, cuis::Activation::tanh, loss};
    for (int variant = 0; variant < 5; ++variant) {
      Data d = make_data(40, 6, 3, 5);
      std::vector<int64_t> idx = {1, 2, 3, 4, 5, 6};
      std::vector<float> w(6, 1.0f);
      switch (variant) {
        case 0: idx[4] = 40; break;                  // index out of range
        case 1: d.x[3 * 6 + 2] = NAN; break;         // feature of position 2
        case 2: w[5] = -1.0f; break;                 // negative weight
        case 3: d.labels[4] = 7; d.targets[4] = INFINITY; break;  // label / target of position 3
        case 4: d.x[2 * 6] = INFINITY; d.labels[2] = -1; d.targets[2] = NAN; break;  // row 2 = position 1, twice
      }
      const DeviceData dd = put(d, idx, w);
      cuis::Mlp gpu;
      CUIS_OK(gpu.init(shape, {}, 8, 2));
      cuis::ref::Mlp cpu;
      CUIS_OK(cpu.init(shape, {}, 2));
      CUIS_OK(gpu.train_step(batch(d, dd, 6, true), stream));
      cuis::TrainBatch hb = batch(d, dd, 6, false);
      hb.indices = idx.data();
      hb.weights = w.data();
      cuis::DeviceStatus want{};
      CUIS_OK(cpu.train_step(hb, &want));
      const cuis::DeviceStatus got = download(gpu.status(), 1)[0];
      ASSERT_NE(want.code, Error::success) << variant;
      EXPECT_EQ(got.code, want.code) << variant;
      EXPECT_EQ(got.index, want.index) << variant;
      EXPECT_TRUE(got.value == want.value || (std::isnan(got.value) && std::isnan(want.value))) << variant;
      cuis::Checkpoint c;
      CUIS_OK(gpu.checkpoint(&c, stream));
      EXPECT_EQ(c.params, cpu.params()) << variant;  // both unchanged from the same initialisation
      EXPECT_EQ(c.step, 0u);
    }
  }
}

// Both activations: ReLU must keep a bad row's NaN (row 250's bad index) too.
TEST_F(MlpGpu, ChunkedScoreAndEvaluateMatchReference) {
  for (cuis::Activation act : {cuis::Activation::tanh, cuis::Activation::relu}) {
  SCOPED_TRACE(act == cuis::Activation::relu ? "relu" : "tanh");
  const cuis::MlpShape shape{{12, 20, 7}, act, cuis::LossKind::cross_entropy};
  const Data d = make_data(1000, 12, 7, 6);
  std::vector<int64_t> idx(333);
  for (int j = 0; j < 333; ++j) idx[j] = (j * 13 + 5) % 1000;
  const DeviceData dd = put(d, idx, std::vector<float>(333, 1.0f));
  cuis::Mlp gpu;
  CUIS_OK(gpu.init(shape, {}, 64, 3));  // 333 candidates: six chunks
  cuis::ref::Mlp cpu;
  CUIS_OK(cpu.init(shape, {}, 3));
  DeviceBuffer<cuis::DeviceStatus> st;
  CUIS_OK(st.resize(1));
  CUIS_OK(gpu.score(dd.x.data(), 1000, dd.labels.data(), nullptr, dd.idx.data(), 333, dd.loss.data(), dd.norm.data(),
                    st.data(), stream));
  std::vector<float> loss(333), norm(333);
  cuis::DeviceStatus hs{};
  CUIS_OK(cpu.score(d.x.data(), 1000, d.labels.data(), nullptr, idx.data(), 333, loss.data(), norm.data(), &hs));
  expect_close(download(dd.loss.data(), 333), loss, 1e-4, 1e-5, "score loss");
  expect_close(download(dd.norm.data(), 333), norm, 1e-4, 1e-5, "score norm");
  EXPECT_EQ(download(st.data(), 1)[0].code, Error::success);
  // A bad label in a later chunk (position 200) and a bad index after it.
  std::vector<int64_t> bad_idx = idx;
  bad_idx[250] = -3;
  Data bad = d;
  bad.labels[bad_idx[200]] = 99;
  DeviceBuffer<int64_t> d_bad_idx = upload(bad_idx);
  DeviceBuffer<int32_t> d_bad_labels = upload(bad.labels);
  CUIS_OK(gpu.score(dd.x.data(), 1000, d_bad_labels.data(), nullptr, d_bad_idx.data(), 333, dd.loss.data(), nullptr,
                    st.data(), stream));
  CUIS_OK(cpu.score(d.x.data(), 1000, bad.labels.data(), nullptr, bad_idx.data(), 333, loss.data(), nullptr, &hs));
  const cuis::DeviceStatus gs = download(st.data(), 1)[0];
  EXPECT_EQ(hs.code, Error::invalid_label);
  EXPECT_EQ(gs.code, hs.code);
  EXPECT_EQ(gs.index, 200);
  EXPECT_EQ(gs.value, 99.0f);
  const std::vector<float> gl_rows = download(dd.loss.data(), 333);
  EXPECT_TRUE(std::isnan(gl_rows[200]) && std::isnan(gl_rows[250]));
  double gl = 0, ge = 0, cl = 0, ce = 0;
  CUIS_OK(gpu.evaluate(dd.x.data(), 1000, dd.labels.data(), nullptr, &gl, &ge, stream));
  CUIS_OK(cpu.evaluate(d.x.data(), 1000, d.labels.data(), nullptr, &cl, &ce));
  EXPECT_NEAR(gl, cl, 1e-5 * cl);
  EXPECT_NEAR(ge, ce, 2.0 / 1000);  // a near-tie may flip one arg-max
  }
}

TEST_F(MlpGpu, CheckpointRoundTripAndRejection) {
  const cuis::MlpShape shape{{6, 9, 4}, cuis::Activation::relu, cuis::LossKind::cross_entropy};
  cuis::Mlp a, b;
  CUIS_OK(a.init(shape, {}, 8, 1));
  CUIS_OK(b.init(shape, {}, 8, 2));
  const std::string path = ::testing::TempDir() + "cuis_gpu_ckpt.bin";
  CUIS_OK(a.save(path, stream));
  CUIS_OK(b.load(path, stream));
  cuis::Checkpoint ca, cb;
  CUIS_OK(a.checkpoint(&ca, stream));
  CUIS_OK(b.checkpoint(&cb, stream));
  EXPECT_EQ(ca.params, cb.params);
  cuis::Mlp other;
  CUIS_OK(other.init({{6, 10, 4}, cuis::Activation::relu, cuis::LossKind::cross_entropy}, {}, 8, 3));
  cuis::Checkpoint before, after;
  CUIS_OK(other.checkpoint(&before, stream));
  EXPECT_EQ(other.load(path, stream), Error::shape_mismatch);
  { std::ofstream(path, std::ios::binary | std::ios::trunc) << "CUISCKPT garbage"; }
  EXPECT_EQ(other.load(path, stream), Error::corrupt_checkpoint);
  CUIS_OK(other.checkpoint(&after, stream));
  EXPECT_EQ(before.params, after.params);
  std::remove(path.c_str());
}

}  // namespace
