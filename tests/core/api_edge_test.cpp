// The API edge. Without a CUDA device every GPU entry point returns Error::no_device with a
// message for people (code that falls back to the CPU reference tests for
// no_device), never cuda_error with an internal path. Skipped where a device
// is present. Exceptions from the standard library become error codes.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "cuis/data.h"
#include "cuis/device_buffer.h"
#include "cuis/mlp.h"
#include "cuis/nn/checkpoint.h"
#include "cuis/nn/loss.h"
#include "cuis/sampler.h"
#include "core/error_detail.h"
#include "cuis/trainer.h"

namespace {

using cuis::Error;

std::vector<unsigned char>& bytes_sink() {
  static std::vector<unsigned char> b;
  return b;
}

bool device_present() {
  int count = 0;
  const bool present = cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
  (void)cudaGetLastError();
  return present;
}

void expect_no_device(Error e, const char* call) {
  EXPECT_EQ(e, Error::no_device) << call << ": " << cuis::last_error_message();
  const std::string m = cuis::last_error_message();
  EXPECT_NE(m.find("no usable CUDA device"), std::string::npos) << call << ": " << m;
  EXPECT_NE(m.find("CPU reference"), std::string::npos) << call << ": " << m;
  EXPECT_EQ(m.find(".cu:"), std::string::npos) << call << ": an internal path: " << m;
}

TEST(NoDevice, EveryGpuEntryPointSaysSo) {
  if (device_present()) GTEST_SKIP() << "a CUDA device is present";
  cuis::SampleOptions o;
  size_t bytes = 0;
  expect_no_device(cuis::sample_workspace_size(1000, 10, o, &bytes), "sample_workspace_size");
  float scores[4] = {1, 2, 3, 4};
  int64_t idx[2];
  float w[2];
  cuis::DeviceStatus st{};
  const cuis::SampleArgs a{scores, 4, nullptr, 2, idx, w, &st};
  char ws[64];
  expect_no_device(cuis::sample(a, o, ws, sizeof ws, nullptr), "sample");
  expect_no_device(cuis::uniform_indices(idx, 2, 10, cuis::RngState{}, nullptr, false, nullptr), "uniform_indices");
  expect_no_device(cuis::read_status(&st, nullptr, &st), "read_status");
  cuis::CrossEntropyArgs ce;
  ce.rows = 1;
  ce.classes = 2;
  expect_no_device(cuis::cross_entropy(ce, nullptr), "cross_entropy");
  cuis::SquaredErrorArgs se;
  se.rows = 1;
  expect_no_device(cuis::squared_error(se, nullptr), "squared_error");
  cuis::Mlp net;
  expect_no_device(net.init({{4, 8, 2}, cuis::Activation::relu, cuis::LossKind::cross_entropy}, cuis::OptimizerConfig{},
                            16, 1),
                   "Mlp::init");
  cuis::DeviceBuffer<float> buf;
  expect_no_device(buf.resize(16), "DeviceBuffer::resize");
  const cuis::DataSplit data = cuis::synthetic_data(256, 64, 8, 3, 1);
  cuis::TrainConfig c;
  c.hidden = {8};
  c.batch = 16;
  c.presample = 32;
  std::unique_ptr<cuis::Trainer> t;
  EXPECT_EQ(cuis::make_cuda_trainer(c, &data, &t), Error::no_device) << cuis::last_error_message();
  EXPECT_FALSE(t);
}


// The API edge: an exception from the standard library becomes an error code.
TEST(ApiEdge, ExceptionsBecomeErrorCodes) {
  EXPECT_EQ(cuis::detail::guarded("alloc", []() -> Error { throw std::bad_alloc(); }), Error::out_of_memory);
  EXPECT_EQ(cuis::last_error_message(), "alloc: out of host memory");
  EXPECT_EQ(cuis::detail::guarded("len", []() -> Error { throw std::length_error("vector too long"); }),
            Error::internal_error);
  EXPECT_EQ(cuis::last_error_message(), "len: vector too long");
  EXPECT_EQ(cuis::detail::guarded("fine", []() -> Error { return Error::shape_mismatch; }), Error::shape_mismatch);
}

// Bad arguments a C++ user can pass: error codes, never a crash.
TEST(ApiEdge, BadArgumentsAreErrorsNotCrashes) {
  EXPECT_EQ(cuis::load_mnist_dir("/nonexistent", nullptr), Error::null_pointer);
  EXPECT_EQ(cuis::load_idx("a", "b", nullptr), Error::null_pointer);
  EXPECT_EQ(cuis::read_file("/etc/hostname", nullptr), Error::null_pointer);
  EXPECT_EQ(cuis::read_checkpoint("/nonexistent", nullptr), Error::null_pointer);
  EXPECT_EQ(cuis::read_file("/tmp", &bytes_sink()), Error::io_error);  // a directory
  EXPECT_NE(cuis::last_error_message().find("is a directory"), std::string::npos) << cuis::last_error_message();
  for (const auto& bad : {cuis::synthetic_data(-5, -5, -1, 0, 1), cuis::synthetic_data(100, 10, 4, 0, 1)}) {
    EXPECT_EQ(bad.train.rows, 0);
    EXPECT_TRUE(bad.train.x.empty());
  }
  cuis::DataSplit data = cuis::synthetic_data(256, 64, 8, 3, 1);
  cuis::TrainConfig c;
  c.hidden = {8};
  c.batch = 16;
  c.presample = 32;
  std::unique_ptr<cuis::Trainer> t;
  cuis::TrainConfig bad_sampler = c;
  bad_sampler.sampler = static_cast<cuis::SamplerKind>(99);
  EXPECT_EQ(cuis::make_cpu_trainer(bad_sampler, &data, &t), Error::invalid_argument);
  data.train.x.resize(data.train.x.size() - 1);  // fewer features than rows x features
  EXPECT_EQ(cuis::make_cpu_trainer(c, &data, &t), Error::shape_mismatch) << cuis::last_error_message();
  EXPECT_FALSE(t);
  cuis::SampleOptions o;
  o.weighting = static_cast<cuis::Weighting>(42);
  EXPECT_EQ(cuis::validate_options(o), Error::invalid_argument);
}

}  // namespace
