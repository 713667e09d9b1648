// The CPU reference trainer: finite-difference gradients, the loss on extreme
// logits, training a tiny problem to near-zero loss, bad batches, and
// checkpoints (round trip and every corrupt case).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>

#include "cuis/nn/checkpoint.h"
#include "cuis/nn/reference.h"
#include "common/train_data.h"

namespace {

using cuis::Error;
using cuis_test::Data;
using cuis_test::make_data;

// (1/B) sum_j w_j loss_j for the current parameters.
double batch_loss(const cuis::ref::Mlp& m, const Data& d, const std::vector<int64_t>& idx, const std::vector<float>& w) {
  std::vector<float> out;
  double total = 0.0;
  const int32_t in = m.shape().sizes[0], classes = m.shape().sizes.back();
  for (size_t j = 0; j < idx.size(); ++j) {
    m.forward(d.x.data() + idx[j] * in, 1, &out);
    float loss = 0.0f;
    if (m.shape().loss == cuis::LossKind::cross_entropy) {
      EXPECT_EQ(cuis::ref::cross_entropy_row(out.data(), classes, d.labels[idx[j]], 1.0f, &loss, nullptr, nullptr),
                cuis::Error::success);
    } else {
      loss = (out[0] - d.targets[idx[j]]) * (out[0] - d.targets[idx[j]]);
    }
    total += static_cast<double>(w[j]) * loss / static_cast<double>(idx.size());
  }
  return total;
}

void check_gradients(cuis::MlpShape shape) {
  cuis::OptimizerConfig sgd;
  sgd.kind = cuis::OptimizerKind::sgd;
  sgd.lr = 0.0f;  // the step computes gradients and leaves the parameters alone
  sgd.momentum = 0.0f;
  cuis::ref::Mlp m;
  ASSERT_EQ(m.init(shape, sgd, 5), Error::success);
  const Data d = make_data(20, shape.sizes[0], shape.sizes.back(), 9);
  const std::vector<int64_t> idx = {3, 7, 7, 0, 19, 12};
  const std::vector<float> w = {1.0f, 0.5f, 2.0f, 1.5f, 0.25f, 1.0f};
  cuis::TrainBatch b;
  b.data = d.x.data();
  b.rows = d.rows;
  b.labels = d.labels.data();
  b.targets = d.targets.data();
  b.indices = idx.data();
  b.weights = w.data();
  b.batch = static_cast<int64_t>(idx.size());
  cuis::DeviceStatus st{};
  ASSERT_EQ(m.train_step(b, &st), Error::success);
  ASSERT_EQ(st.code, Error::success);
  const std::vector<float> g = m.grads();
  const double eps = 1e-3;
  for (size_t i = 0; i < g.size(); ++i) {
    const float keep = m.params()[i];
    m.params()[i] = static_cast<float>(keep + eps);
    const double up = batch_loss(m, d, idx, w);
    m.params()[i] = static_cast<float>(keep - eps);
    const double down = batch_loss(m, d, idx, w);
    m.params()[i] = keep;
    const double fd = (up - down) / (2 * eps);
    EXPECT_NEAR(g[i], fd, 2e-3 + 2e-2 * std::fabs(fd)) << "parameter " << i;
  }
}

TEST(MlpReference, FiniteDifferenceGradients) {
  check_gradients({{5, 7, 6, 3}, cuis::Activation::tanh, cuis::LossKind::cross_entropy});
  check_gradients({{5, 8, 4}, cuis::Activation::relu, cuis::LossKind::cross_entropy});
  check_gradients({{4, 6, 1}, cuis::Activation::tanh, cuis::LossKind::squared_error});
}

TEST(CrossEntropyRow, ExtremeLogitsAndClassCounts) {
  float loss = 0, gn = 0, dz[3];
  const float z[3] = {1e4f, -1e4f, 0.0f};
  ASSERT_EQ(cuis::ref::cross_entropy_row(z, 3, 1, 1.0f, &loss, &gn, dz), Error::success);
  EXPECT_FLOAT_EQ(loss, 2e4f);
  EXPECT_NEAR(gn, std::sqrt(2.0f), 1e-6);
  EXPECT_NEAR(dz[0], 1.0f, 1e-6);
  EXPECT_NEAR(dz[1], -1.0f, 1e-6);
  const float one[1] = {123.0f};
  ASSERT_EQ(cuis::ref::cross_entropy_row(one, 1, 0, 1.0f, &loss, &gn, nullptr), Error::success);
  EXPECT_EQ(loss, 0.0f);
  EXPECT_EQ(gn, 0.0f);
  const float two[2] = {0.0f, 0.0f};
  ASSERT_EQ(cuis::ref::cross_entropy_row(two, 2, 1, 1.0f, &loss, &gn, nullptr), Error::success);
  EXPECT_NEAR(loss, std::log(2.0f), 1e-7);
  EXPECT_NEAR(gn, std::sqrt(0.5f), 1e-7);
  std::vector<float> big(1000);
  for (int c = 0; c < 1000; ++c) big[c] = 0.01f * c;
  ASSERT_EQ(cuis::ref::cross_entropy_row(big.data(), 1000, 500, 1.0f, &loss, &gn, nullptr), Error::success);
  long double s = 0;
  for (int c = 0; c < 1000; ++c) s += std::exp(static_cast<long double>(big[c]));
  EXPECT_NEAR(loss, static_cast<double>(std::log(s) - big[500]), 1e-5);
  EXPECT_EQ(cuis::ref::cross_entropy_row(two, 2, 2, 1.0f, &loss, &gn, nullptr), Error::invalid_label);
  const float nan2[2] = {0.0f, NAN};
  EXPECT_EQ(cuis::ref::cross_entropy_row(nan2, 2, 0, 1.0f, &loss, &gn, nullptr), Error::non_finite_value);
  EXPECT_TRUE(std::isnan(loss));
}

// A tiny problem: 32 points with random labels memorised to near-zero loss.
TEST(MlpReference, TrainsTinyProblemToNearZeroLoss) {
  for (cuis::OptimizerKind kind : {cuis::OptimizerKind::adam, cuis::OptimizerKind::sgd}) {
    cuis::OptimizerConfig opt;
    opt.kind = kind;
    opt.lr = kind == cuis::OptimizerKind::adam ? 0.01f : 0.1f;
    cuis::ref::Mlp m;
    ASSERT_EQ(m.init({{8, 32, 4}, cuis::Activation::tanh, cuis::LossKind::cross_entropy}, opt, 1), Error::success);
    const Data d = make_data(32, 8, 4, 2);
    cuis::TrainBatch b;
    b.data = d.x.data();
    b.rows = 32;
    b.labels = d.labels.data();
    b.batch = 32;
    cuis::DeviceStatus st{};
    double before = 0, after = 0, err = 0;
    ASSERT_EQ(m.evaluate(d.x.data(), 32, d.labels.data(), nullptr, &before, &err), Error::success);
    for (int s = 0; s < 600; ++s) ASSERT_EQ(m.train_step(b, &st), Error::success);
    ASSERT_EQ(m.evaluate(d.x.data(), 32, d.labels.data(), nullptr, &after, &err), Error::success);
    EXPECT_LT(after, 0.05) << "from " << before;
    EXPECT_EQ(err, 0.0);
    EXPECT_EQ(m.step(), 600u);
  }
}

TEST(MlpReference, BadBatchLeavesModelUnchanged) {
  cuis::ref::Mlp m;
  ASSERT_EQ(m.init({{4, 5, 3}, cuis::Activation::relu, cuis::LossKind::cross_entropy}, {}, 3), Error::success);
  Data d = make_data(10, 4, 3, 4);
  const std::vector<float> before = m.params();
  std::vector<int64_t> idx = {1, 2, 10};
  cuis::TrainBatch b;
  b.data = d.x.data();
  b.rows = 10;
  b.labels = d.labels.data();
  b.indices = idx.data();
  b.batch = 3;
  cuis::DeviceStatus st{};
  ASSERT_EQ(m.train_step(b, &st), Error::success);
  EXPECT_EQ(st.code, Error::index_out_of_range);
  EXPECT_EQ(st.index, 2);
  idx[2] = -1;
  ASSERT_EQ(m.train_step(b, &st), Error::success);
  EXPECT_EQ(st.code, Error::index_out_of_range);
  idx[2] = 3;
  d.labels[2] = 7;
  ASSERT_EQ(m.train_step(b, &st), Error::success);
  EXPECT_EQ(st.code, Error::invalid_label);
  EXPECT_EQ(st.index, 1);
  EXPECT_EQ(st.value, 7.0f);
  d.labels[2] = 0;
  d.x[3 * 4 + 1] = NAN;
  ASSERT_EQ(m.train_step(b, &st), Error::success);
  EXPECT_EQ(st.code, Error::non_finite_value);
  EXPECT_EQ(st.index, 2);
  d.x[3 * 4 + 1] = 0.0f;
  const std::vector<float> w = {1.0f, -1.0f, 1.0f};
  b.weights = w.data();
  ASSERT_EQ(m.train_step(b, &st), Error::success);
  EXPECT_EQ(st.code, Error::non_finite_value);
  EXPECT_EQ(st.index, 1);
  EXPECT_EQ(m.params(), before);
  EXPECT_EQ(m.step(), 0u);
}

// The lowest bad position is named; at one position the gather problem first.
TEST(MlpReference, ReportsLowestBadPosition) {
  cuis::ref::Mlp m;
  ASSERT_EQ(m.init({{4, 5, 3}, cuis::Activation::relu, cuis::LossKind::cross_entropy}, {}, 3), Error::success);
  Data d = make_data(10, 4, 3, 4);
  d.labels[2] = 9;        // position 1: bad label
  d.x[6 * 4] = INFINITY;  // position 3: bad feature
  const std::vector<int64_t> idx = {0, 2, 5, 6};
  std::vector<float> loss(4);
  cuis::DeviceStatus st{};
  ASSERT_EQ(m.score(d.x.data(), 10, d.labels.data(), nullptr, idx.data(), 4, loss.data(), nullptr, &st), Error::success);
  EXPECT_EQ(st.code, Error::invalid_label);
  EXPECT_EQ(st.index, 1);
  EXPECT_TRUE(std::isnan(loss[1]) && std::isnan(loss[3]));
  EXPECT_FALSE(std::isnan(loss[0]) || std::isnan(loss[2]));
  d.x[2 * 4] = NAN;  // position 1 now also has a bad feature: named first
  ASSERT_EQ(m.score(d.x.data(), 10, d.labels.data(), nullptr, idx.data(), 4, loss.data(), nullptr, &st), Error::success);
  EXPECT_EQ(st.code, Error::non_finite_value);
  EXPECT_EQ(st.index, 1);
}

class CheckpointFile : public ::testing::Test {
 protected:
  void SetUp() override {
    path = ::testing::TempDir() + "cuis_ckpt_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
           "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".bin";
    cuis::OptimizerConfig opt;
    ASSERT_EQ(model.init({{6, 9, 4}, cuis::Activation::relu, cuis::LossKind::cross_entropy}, opt, 11), Error::success);
    const Data d = make_data(16, 6, 4, 5);
    cuis::TrainBatch b;
    b.data = d.x.data();
    b.rows = 16;
    b.labels = d.labels.data();
    b.batch = 16;
    cuis::DeviceStatus st{};
    for (int s = 0; s < 3; ++s) ASSERT_EQ(model.train_step(b, &st), Error::success);
    ASSERT_EQ(cuis::write_checkpoint(path, model.checkpoint()), Error::success);
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  void TearDown() override { std::remove(path.c_str()); }
  void write_bytes(const std::vector<char>& b) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(b.data(), static_cast<std::streamsize>(b.size()));
  }
  // Loading must fail with `code` and leave `fresh` exactly as it was.
  void expect_rejected(Error code, const char* what) {
    cuis::ref::Mlp fresh;
    ASSERT_EQ(fresh.init(model.shape(), {}, 99), Error::success);
    const std::vector<float> before = fresh.params();
    cuis::Checkpoint c;
    Error e = cuis::read_checkpoint(path, &c);
    if (e == Error::success) e = fresh.restore(c);
    EXPECT_EQ(e, code) << what << ": " << cuis::last_error_message();
    EXPECT_FALSE(cuis::last_error_message().empty()) << what;
    EXPECT_EQ(fresh.params(), before) << what;
    EXPECT_EQ(fresh.step(), 0u) << what;
  }
  static uint64_t fnv1a(const char* p, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<unsigned char>(p[i])) * 1099511628211ull;
    return h;
  }
  void reseal(std::vector<char>* b) {  // a valid checksum over altered content
    const uint64_t h = fnv1a(b->data(), b->size() - 8);
    std::memcpy(b->data() + b->size() - 8, &h, 8);
  }
  std::string path;
  cuis::ref::Mlp model;
  std::vector<char> bytes;
};

TEST_F(CheckpointFile, RoundTrip) {
  cuis::Checkpoint c;
  ASSERT_EQ(cuis::read_checkpoint(path, &c), Error::success);
  cuis::ref::Mlp other;
  ASSERT_EQ(other.init(model.shape(), {}, 1), Error::success);
  ASSERT_EQ(other.restore(c), Error::success);
  EXPECT_EQ(other.params(), model.params());
  EXPECT_EQ(other.step(), 3u);
  EXPECT_EQ(other.checkpoint().state, model.checkpoint().state);
}

TEST_F(CheckpointFile, CorruptTruncatedAndMismatched) {
  for (size_t cut : {size_t{0}, size_t{5}, size_t{12}, bytes.size() / 2, bytes.size() - 1}) {
    write_bytes(std::vector<char>(bytes.begin(), bytes.begin() + cut));
    expect_rejected(Error::corrupt_checkpoint, ("truncated at " + std::to_string(cut)).c_str());
  }
  std::vector<char> b = bytes;
  b[bytes.size() / 2] ^= 0x10;
  write_bytes(b);
  expect_rejected(Error::corrupt_checkpoint, "flipped bit");
  b = bytes;
  b[0] = 'X';
  write_bytes(b);
  expect_rejected(Error::corrupt_checkpoint, "bad magic");
  b = bytes;
  b[8] = 9;  // version 9
  reseal(&b);
  write_bytes(b);
  expect_rejected(Error::corrupt_checkpoint, "unknown version");
  b = bytes;
  const uint32_t lie = 0x7fffffff;  // a header claiming 2^31 layers
  std::memcpy(b.data() + 12, &lie, 4);
  reseal(&b);
  write_bytes(b);
  expect_rejected(Error::corrupt_checkpoint, "lying layer count");
  b = bytes;
  const int32_t wide = 1 << 20;  // first layer 2^20 wide: the parameters cannot be there
  std::memcpy(b.data() + 16, &wide, 4);
  reseal(&b);
  write_bytes(b);
  expect_rejected(Error::corrupt_checkpoint, "lying layer size");
  b = bytes;
  b.push_back(0);
  write_bytes(b);
  expect_rejected(Error::corrupt_checkpoint, "trailing byte");

  // A valid checkpoint of another shape.
  cuis::ref::Mlp other;
  ASSERT_EQ(other.init({{6, 10, 4}, cuis::Activation::relu, cuis::LossKind::cross_entropy}, {}, 1), Error::success);
  ASSERT_EQ(cuis::write_checkpoint(path, other.checkpoint()), Error::success);
  expect_rejected(Error::shape_mismatch, "other shape");
  std::remove(path.c_str());
  expect_rejected(Error::io_error, "missing file");
}

TEST_F(CheckpointFile, FailedWriteKeepsOldFile) {
  EXPECT_EQ(cuis::write_checkpoint("/nonexistent-dir/x.ckpt", model.checkpoint()), Error::io_error);
  cuis::Checkpoint bad = model.checkpoint();
  bad.params.pop_back();
  EXPECT_EQ(cuis::write_checkpoint(path, bad), Error::shape_mismatch);
  cuis::Checkpoint c;
  EXPECT_EQ(cuis::read_checkpoint(path, &c), Error::success);  // the earlier file is intact
}

}  // namespace

// The backend names round-trip, and an unknown one is refused by name.
TEST(MlpBackendName, RoundTripsAndRefusesUnknown) {
  for (cuis::MlpBackend b : {cuis::MlpBackend::cublas, cuis::MlpBackend::cublaslt, cuis::MlpBackend::cudnn}) {
    cuis::MlpBackend back = cuis::MlpBackend::cublas;
    EXPECT_EQ(cuis::parse_backend(cuis::backend_name(b), &back), cuis::Error::success);
    EXPECT_EQ(back, b);
  }
  cuis::MlpBackend out = cuis::MlpBackend::cudnn;
  EXPECT_EQ(cuis::parse_backend("cuDNN", &out), cuis::Error::invalid_argument);
  EXPECT_NE(cuis::last_error_message().find("'cuDNN'"), std::string::npos) << cuis::last_error_message();
  EXPECT_EQ(out, cuis::MlpBackend::cudnn);
  EXPECT_EQ(cuis::parse_backend(nullptr, &out), cuis::Error::null_pointer);
}
