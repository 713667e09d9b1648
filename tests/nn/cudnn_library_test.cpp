// The cuDNN library that the cuDNN backend of the MLP loads at run time
// (dlopen of libcudnn.so.9, no GPU needed): found, cuDNN 9, and a file that
// exists; in a build without the backend, a reason that says so.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <string>

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

}  // namespace
