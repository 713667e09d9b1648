// cuis::Mlp outside training: chunked scoring and evaluation against the CPU
// reference, checkpoints written, read back and rejected.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>

#include "common/temp_path.h"
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
    poison(dd.loss);
    poison(dd.norm);
    poison(st, POISON_AB);
    CUIS_OK(gpu.score(dd.x.data(), 1000, dd.labels.data(), nullptr, dd.idx.data(), 333, dd.loss.data(), dd.norm.data(),
                      st.data(), stream));
    const cuis::DeviceStatus good = download(st.data(), 1)[0];
    ASSERT_EQ(good.code, Error::success) << cuis::describe(good);
    std::vector<float> loss(333, NAN), norm(333, NAN);
    cuis::DeviceStatus hs = unwritten_status();
    CUIS_OK(cpu.score(d.x.data(), 1000, d.labels.data(), nullptr, idx.data(), 333, loss.data(), norm.data(), &hs));
    ASSERT_EQ(hs.code, Error::success);
    expect_close(download(dd.loss.data(), 333), loss, 1e-4, 1e-5, "score loss");
    expect_close(download(dd.norm.data(), 333), norm, 1e-4, 1e-5, "score norm");
    // A bad label in a later chunk (position 200) and a bad index after it.
    std::vector<int64_t> bad_idx = idx;
    bad_idx[250] = -3;
    Data bad = d;
    bad.labels[bad_idx[200]] = 99;
    DeviceBuffer<int64_t> d_bad_idx = upload(bad_idx);
    DeviceBuffer<int32_t> d_bad_labels = upload(bad.labels);
    poison(dd.loss, POISON_AB);  // not NaN: rows 200 and 250 are expected NaN
    poison(st, POISON_AB);
    hs = unwritten_status();
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
    double gl = NAN, ge = NAN, cl = NAN, ce = NAN;
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
  const std::string path = cuis_test::temp_path("cuis_gpu_ckpt.bin");
  cuis::Checkpoint cb0;
  CUIS_OK(b.checkpoint(&cb0, stream));
  EXPECT_EQ(cb0.params, cuis::init_params(shape, 2));
  CUIS_OK(a.save(path, stream));
  CUIS_OK(b.load(path, stream));
  cuis::Checkpoint ca, cb;
  CUIS_OK(a.checkpoint(&ca, stream));
  CUIS_OK(b.checkpoint(&cb, stream));
  EXPECT_EQ(ca.params, cuis::init_params(shape, 1));  // independently known: the initialisation
  EXPECT_NE(ca.params, cb0.params);                   // so that a load that changed nothing shows
  EXPECT_EQ(ca.params, cb.params);
  const cuis::MlpShape other_shape{{6, 10, 4}, cuis::Activation::relu, cuis::LossKind::cross_entropy};
  cuis::Mlp other;
  CUIS_OK(other.init(other_shape, {}, 8, 3));
  cuis::Checkpoint before, after;
  CUIS_OK(other.checkpoint(&before, stream));
  EXPECT_EQ(before.params, cuis::init_params(other_shape, 3));
  EXPECT_EQ(other.load(path, stream), Error::shape_mismatch);
  { std::ofstream(path, std::ios::binary | std::ios::trunc) << "CUISCKPT garbage"; }
  EXPECT_EQ(other.load(path, stream), Error::corrupt_checkpoint);
  CUIS_OK(other.checkpoint(&after, stream));
  EXPECT_EQ(before.params, after.params);
  std::remove(path.c_str());
}

}  // namespace
