// The per-sample loss kernels against the CPU reference: cross-entropy (loss,
// gradient-norm bound, logit gradient, bad rows) and the weighted public
// entry points.
#include <gtest/gtest.h>

#include <cmath>
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
    poison(loss);
    poison(norm);
    poison(grad);
    poison(st, POISON_AB);
    CUIS_OK(cuis::cross_entropy(a, stream));
    const cuis::DeviceStatus good = download(st.data(), 1)[0];
    ASSERT_EQ(good.code, Error::success) << cuis::describe(good);
    std::vector<float> want_loss(rows, NAN), want_norm(rows, NAN), want_grad(rows * classes, NAN);
    for (int64_t r = 0; r < rows; ++r)
      ASSERT_EQ(cuis::ref::cross_entropy_row(&z[r * classes], classes, y[r], 0.5f, &want_loss[r], &want_norm[r],
                                             &want_grad[r * classes]),
                Error::success);
    expect_close(download(loss.data(), rows), want_loss, 1e-5, 1e-5, "loss");
    expect_close(download(norm.data(), rows), want_norm, 1e-5, 1e-6, "norm");
    expect_close(download(grad.data(), rows * classes), want_grad, 1e-5, 1e-7, "dlogits");
    // A bad label in row 40 and a NaN in row 50: row 40 is reported.
    y[40] = classes;
    z[50 * classes] = NAN;
    dz = upload(z);
    dy = upload(y);
    a.logits = dz.data();
    a.labels = dy.data();
    // 0xAB garbage, not NaN: NaN losses and zero gradients are expected here.
    poison(loss, POISON_AB);
    poison(norm, POISON_AB);
    poison(grad, POISON_AB);
    poison(st, POISON_AB);
    CUIS_OK(cuis::cross_entropy(a, stream));
    const cuis::DeviceStatus s = download(st.data(), 1)[0];
    EXPECT_EQ(s.code, Error::invalid_label);
    EXPECT_EQ(s.index, 40);
    EXPECT_EQ(s.value, static_cast<float>(classes));
    const std::vector<float> l = download(loss.data(), rows);
    EXPECT_TRUE(std::isnan(l[40]) && std::isnan(l[50]));
    const std::vector<float> n2 = download(norm.data(), rows);
    EXPECT_TRUE(std::isnan(n2[40]) && std::isnan(n2[50]));
    EXPECT_EQ(download(grad.data() + 40 * classes, classes), std::vector<float>(classes, 0.0f));
    EXPECT_EQ(download(grad.data() + 50 * classes, classes), std::vector<float>(classes, 0.0f));
    // Every other row as before (each row is its own).
    std::vector<float> good_loss, good_want;
    for (int64_t r = 0; r < rows; ++r)
      if (r != 40 && r != 50) {
        good_loss.push_back(l[r]);
        good_want.push_back(want_loss[r]);
      }
    expect_close(good_loss, good_want, 1e-5, 1e-5, "loss of the good rows");
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
  poison(grad);
  poison(st, POISON_AB);
  CUIS_OK(cuis::cross_entropy(a, stream));
  const cuis::DeviceStatus ce_status = download(st.data(), 1)[0];
  ASSERT_EQ(ce_status.code, Error::success) << cuis::describe(ce_status);
  std::vector<float> want(rows * classes, NAN);
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
  poison(loss);
  poison(grad);
  poison(st, POISON_AB);
  CUIS_OK(cuis::squared_error(q, stream));
  const cuis::DeviceStatus se_status = download(st.data(), 1)[0];
  ASSERT_EQ(se_status.code, Error::success) << cuis::describe(se_status);
  std::vector<float> want_loss(rows), want_grad(rows);
  for (int64_t r = 0; r < rows; ++r) {
    want_loss[r] = (pred[r] - target[r]) * (pred[r] - target[r]);
    want_grad[r] = w[r] * 0.5f * 2.0f * (pred[r] - target[r]);
  }
  expect_close(download(loss.data(), rows), want_loss, 1e-6, 1e-7, "squared error");
  expect_close(download(grad.data(), rows), want_grad, 1e-6, 1e-7, "squared error gradient");
  EXPECT_EQ(download(st.data(), 1)[0].code, Error::success);
}

}  // namespace
