// The cuDNN library that the cuDNN backend of the MLP loads at run time
// (dlopen of libcudnn.so.9, no GPU needed): found, cuDNN 9, and a file that
// exists; in a build without the backend, a reason that says so. And every
// graph the backend describes (fused and unfused, several shapes, padded row
// counts, both maths) passes cudnn-frontend's validation, which needs no GPU:
// dimensions, strides and data types agree across each graph.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "cuis/nn/mlp_config.h"
#include "nn/dense_ops.h"

namespace {

TEST(CudnnLibrary, LoadsCudnn9) {
  int64_t version = -1;
  std::string path, why;
  const bool ok = cuis::detail::cudnn_library(&version, &path, &why);
  if (!ok && why.find("built without") != std::string::npos)
    GTEST_SKIP() << "cuis was built without the cuDNN backend: " << why;
  ASSERT_TRUE(ok) << why;
  // cudnnGetVersion() since cuDNN 9.0: major * 10000 + minor * 100 + patch (cudnn_version.h).
  EXPECT_EQ(version / 10000, 9) << version;  // e.g. 91900 for 9.19.0
  EXPECT_FALSE(path.empty());
  EXPECT_TRUE(std::filesystem::exists(path)) << path;
  EXPECT_TRUE(why.empty()) << why;

  int64_t again = -1;  // loaded once: the same library every time
  std::string path_again;
  EXPECT_TRUE(cuis::detail::cudnn_library(&again, &path_again, nullptr));
  EXPECT_EQ(again, version);
  EXPECT_EQ(path_again, path);
}

TEST(CudnnLibrary, NullOutputsAreAllowed) {
  std::string why;
  const bool ok = cuis::detail::cudnn_library(nullptr, nullptr, &why);
  EXPECT_EQ(ok, why.empty()) << why;
  EXPECT_EQ(cuis::detail::cudnn_library(nullptr, nullptr, nullptr), ok);
}

TEST(CudnnGraphs, DescriptionsValidate) {
  std::string why;
  if (!cuis::detail::cudnn_library(nullptr, nullptr, &why) && why.find("built without") != std::string::npos)
    GTEST_SKIP() << "cuis was built without the cuDNN backend: " << why;
  const std::vector<cuis::MlpShape> shapes = {
      {{784, 512, 512, 10}, cuis::Activation::relu, cuis::LossKind::cross_entropy},
      {{20, 24, 10}, cuis::Activation::tanh, cuis::LossKind::cross_entropy},
      {{30, 32, 32, 1}, cuis::Activation::relu, cuis::LossKind::squared_error}};
  for (const cuis::MlpShape& shape : shapes)
    for (cuis::Math math : {cuis::Math::fp32, cuis::Math::tf32}) {
      // Host stand-ins for the device buffers: the descriptions read only their alignment.
      std::vector<float> params(static_cast<size_t>(cuis::param_count(shape)) + 64);
      cuis::detail::DenseContext c;
      c.layers = cuis::param_layout(shape);
      c.activation = shape.activation;
      c.math = math;
      c.params = params.data();
      c.grads = params.data();
      c.max_batch = 64;
      c.plan_rows = {22, 50, 64};
      EXPECT_TRUE(cuis::detail::cudnn_validate_graphs(c, &why))
          << "sizes[0] " << shape.sizes[0] << ", math " << static_cast<int>(math) << ": " << why;
    }
}

}  // namespace
