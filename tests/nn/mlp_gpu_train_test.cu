// cuis::Mlp training against the CPU reference: several optimizer steps in
// FP32 and TF32, a tiny problem trained to near-zero loss, a graph-captured
// step, bad batches skipped with the same status.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <random>

#include "common/gpu_fixture.h"
#include "common/train_data.h"
#include "cuis/mlp.h"
#include "cuis/nn/loss.h"
#include "cuis/nn/reference.h"
#include "mlp_gpu_fixture.h"

namespace {

using cuis::DeviceBuffer;
using cuis::Error;
using namespace cuis_test;

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
  EXPECT_EQ(
      bad.init({{4, 2}, cuis::Activation::relu, cuis::LossKind::cross_entropy}, adam, 8, 1, static_cast<cuis::Math>(7)),
      Error::invalid_argument);
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
  for (int s = 0; s < 600; ++s) {
    if (s == 599) poison(m.status(), 1, POISON_AB);
    CUIS_OK(m.train_step(batch(d, dd, 32, true), stream));
  }
  const cuis::DeviceStatus st = download(m.status(), 1)[0];
  ASSERT_EQ(st.code, Error::success) << cuis::describe(st);
  cuis::Checkpoint c;
  CUIS_OK(m.checkpoint(&c, stream));
  EXPECT_EQ(c.step, 600u);
  double loss = NAN, err = NAN;
  CUIS_OK(m.evaluate(dd.x.data(), 32, dd.labels.data(), nullptr, &loss, &err, stream));
  EXPECT_LT(loss, 0.05);
  EXPECT_EQ(err, 0.0);
}

// One step captured in a graph and replayed three times equals three plain
// steps, bit for bit (parameters, optimizer state, the last step's per-sample
// losses and gradient norms); and the plain steps equal the CPU reference's.
TEST_F(MlpGpu, CapturedStepEqualsPlainSteps) {
  const cuis::MlpShape shape{{16, 32, 5}, cuis::Activation::relu, cuis::LossKind::cross_entropy};
  const Data d = make_data(100, 16, 5, 4);
  std::vector<int64_t> idx(50);
  for (int j = 0; j < 50; ++j) idx[j] = (j * 7) % 100;
  std::vector<float> w(50, 1.0f);
  const DeviceData dd = put(d, idx, w);
  cuis::Mlp plain, captured;
  CUIS_OK(plain.init(shape, {}, 50, 9));
  CUIS_OK(captured.init(shape, {}, 50, 9));
  cuis::ref::Mlp cpu;
  CUIS_OK(cpu.init(shape, {}, 9));
  std::vector<float> cpu_loss(50, NAN), cpu_norm(50, NAN);
  for (int s = 0; s < 3; ++s) {
    poison(dd.loss);
    poison(dd.norm);
    poison(plain.status(), 1, POISON_AB);
    CUIS_OK(plain.train_step(batch(d, dd, 50, true), stream));
    const cuis::DeviceStatus st = download(plain.status(), 1)[0];
    ASSERT_EQ(st.code, Error::success) << "plain step " << s << ": " << cuis::describe(st);
    cuis::TrainBatch hb = batch(d, dd, 50, false);
    hb.indices = idx.data();
    hb.weights = w.data();
    hb.loss = cpu_loss.data();
    hb.grad_norm = cpu_norm.data();
    cuis::DeviceStatus hs = unwritten_status();
    CUIS_OK(cpu.train_step(hb, &hs));
    ASSERT_EQ(hs.code, Error::success);
    expect_close(download(dd.loss.data(), 50), cpu_loss, 1e-4, 1e-5, "plain loss vs reference");
    expect_close(download(dd.norm.data(), 50), cpu_norm, 1e-4, 1e-5, "plain grad norm vs reference");
  }
  const std::vector<float> plain_loss = download(dd.loss.data(), 50), plain_norm = download(dd.norm.data(), 50);
  cudaGraphExec_t exec = capture_step(captured, batch(d, dd, 50, true));
  ASSERT_TRUE(exec);
  for (int s = 0; s < 3; ++s) {
    // Garbage before each replay: else the plain steps' outputs would pass.
    poison(dd.loss);
    poison(dd.norm);
    poison(captured.status(), 1, POISON_AB);
    CUDA_OK(cudaGraphLaunch(exec, stream));
  }
  CUDA_OK(cudaStreamSynchronize(stream));
  const cuis::DeviceStatus replayed = download(captured.status(), 1)[0];
  ASSERT_EQ(replayed.code, Error::success) << cuis::describe(replayed);
  EXPECT_EQ(download(dd.loss.data(), 50), plain_loss);
  EXPECT_EQ(download(dd.norm.data(), 50), plain_norm);
  cuis::Checkpoint a, b;
  CUIS_OK(plain.checkpoint(&a, stream));
  CUIS_OK(captured.checkpoint(&b, stream));
  EXPECT_EQ(a.params, b.params);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.step, 3u);
  EXPECT_EQ(b.step, 3u);
  expect_close(a.params, cpu.params(), 1e-3, 1e-5, "plain parameters vs reference");
  cudaGraphExecDestroy(exec);
}

TEST_F(MlpGpu, BadBatchSkipsUpdate) {
  Data d = make_data(40, 6, 3, 5);
  std::vector<int64_t> idx = {1, 2, 40, 3};
  DeviceData dd = put(d, idx, std::vector<float>(4, 1.0f));
  const cuis::MlpShape shape{{6, 8, 3}, cuis::Activation::relu, cuis::LossKind::cross_entropy};
  cuis::Mlp m;
  CUIS_OK(m.init(shape, {}, 8, 2));
  cuis::Checkpoint before, after;
  CUIS_OK(m.checkpoint(&before, stream));
  EXPECT_EQ(before.params, cuis::init_params(shape, 2));  // so that "unchanged" below means the initialisation
  poison(m.status(), 1, POISON_AB);
  CUIS_OK(m.train_step(batch(d, dd, 4, true), stream));
  cuis::DeviceStatus st = download(m.status(), 1)[0];
  EXPECT_EQ(st.code, Error::index_out_of_range);
  EXPECT_EQ(st.index, 2);
  EXPECT_EQ(st.value, 40.0f);
  idx[2] = 4;
  d.labels[3] = -5;
  dd = put(d, idx, std::vector<float>(4, 1.0f));
  poison(m.status(), 1, POISON_AB);
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
        case 0:
          idx[4] = 40;
          break;  // index out of range
        case 1:
          d.x[3 * 6 + 2] = NAN;
          break;  // feature of position 2
        case 2:
          w[5] = -1.0f;
          break;  // negative weight
        case 3:
          d.labels[4] = 7;
          d.targets[4] = INFINITY;
          break;  // label / target of position 3
        case 4:
          d.x[2 * 6] = INFINITY;
          d.labels[2] = -1;
          d.targets[2] = NAN;
          break;  // row 2 = position 1, twice
      }
      const DeviceData dd = put(d, idx, w);
      cuis::Mlp gpu;
      CUIS_OK(gpu.init(shape, {}, 8, 2));
      cuis::ref::Mlp cpu;
      CUIS_OK(cpu.init(shape, {}, 2));
      poison(gpu.status(), 1, POISON_AB);
      CUIS_OK(gpu.train_step(batch(d, dd, 6, true), stream));
      cuis::TrainBatch hb = batch(d, dd, 6, false);
      hb.indices = idx.data();
      hb.weights = w.data();
      cuis::DeviceStatus want;  // another garbage pattern than the device's, so that two unwritten statuses differ
      std::memset(static_cast<void*>(&want), 0x5C, sizeof want);
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

}  // namespace
