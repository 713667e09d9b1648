// Dataset loaders: the real Fashion-MNIST files, in-memory IDX and CIFAR-10
// files, gzip, and every way a file can be truncated, corrupt or lying.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <cstdio>
#include <fstream>

#include "cuis/data.h"

namespace {

using cuis::Error;

std::vector<unsigned char> be(std::initializer_list<uint32_t> words) {
  std::vector<unsigned char> b;
  for (uint32_t w : words)
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<unsigned char>(w >> s));
  return b;
}

std::vector<unsigned char> idx_images(uint32_t count, uint32_t h, uint32_t w) {
  std::vector<unsigned char> b = be({0x803, count, h, w});
  for (uint32_t i = 0; i < count * h * w; ++i) b.push_back(static_cast<unsigned char>(i * 7));
  return b;
}

std::vector<unsigned char> idx_labels(std::vector<unsigned char> labels) {
  std::vector<unsigned char> b = be({0x801, static_cast<uint32_t>(labels.size())});
  b.insert(b.end(), labels.begin(), labels.end());
  return b;
}

void expect_refused(const std::vector<unsigned char>& img, const std::vector<unsigned char>& lab, const char* needle) {
  cuis::Dataset d;
  d.rows = 123;
  EXPECT_EQ(cuis::parse_idx(img, lab, "test.idx", &d), Error::corrupt_data) << needle;
  EXPECT_NE(cuis::last_error_message().find("test.idx"), std::string::npos) << cuis::last_error_message();
  EXPECT_NE(cuis::last_error_message().find(needle), std::string::npos) << cuis::last_error_message();
  EXPECT_EQ(d.rows, 123);  // untouched
}

TEST(Idx, ParsesAndScales) {
  cuis::Dataset d;
  ASSERT_EQ(cuis::parse_idx(idx_images(3, 2, 2), idx_labels({0, 9, 4}), "ok", &d), Error::success);
  EXPECT_EQ(d.rows, 3);
  EXPECT_EQ(d.features, 4);
  EXPECT_EQ(d.classes, 10);
  EXPECT_EQ(d.labels, (std::vector<int32_t>{0, 9, 4}));
  EXPECT_FLOAT_EQ(d.x[1], 7.0f / 255.0f);
}

TEST(Idx, RefusesBadFiles) {
  const auto img = idx_images(3, 2, 2);
  const auto lab = idx_labels({0, 1, 2});
  expect_refused({img.begin(), img.begin() + 10}, lab, "truncated header");
  expect_refused({img.begin(), img.end() - 1}, lab, "but the file has");
  auto bad = img;
  bad[3] = 0x01;
  expect_refused(bad, lab, "bad magic");
  auto lying = be({0x803, 0x80000000u, 28, 28});  // claims 2^31 images
  expect_refused(lying, lab, "2147483648 images");
  expect_refused(idx_images(0, 2, 2), idx_labels({}), "zero");
  expect_refused(img, idx_labels({0, 1}), "2 labels for 3 images");
  auto short_lab = lab;
  short_lab.pop_back();
  expect_refused(img, short_lab, "expected 11 bytes");
  auto bad_lab = lab;
  bad_lab[3] = 0x03;
  expect_refused(img, bad_lab, "bad magic");
}

std::string temp(const std::string& name) { return ::testing::TempDir() + "cuis_data_" + name; }

void write_gz(const std::string& path, const std::vector<unsigned char>& bytes) {
  gzFile gz = gzopen(path.c_str(), "wb");
  ASSERT_NE(gz, nullptr);
  ASSERT_EQ(gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  gzclose(gz);
}

TEST(Idx, GzipFilesAndDirectories) {
  const std::string dir = ::testing::TempDir() + "cuis_mnist_dir";
  std::remove((dir + "/x").c_str());
  ASSERT_EQ(system(("mkdir -p " + dir).c_str()), 0);
  write_gz(dir + "/train-images-idx3-ubyte.gz", idx_images(5, 3, 3));
  write_gz(dir + "/train-labels-idx1-ubyte.gz", idx_labels({1, 2, 3, 4, 5}));
  {
    std::ofstream a(dir + "/t10k-images-idx3-ubyte", std::ios::binary);
    const auto b = idx_images(2, 3, 3);
    a.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    std::ofstream l(dir + "/t10k-labels-idx1-ubyte", std::ios::binary);
    const auto c = idx_labels({0, 11});
    l.write(reinterpret_cast<const char*>(c.data()), static_cast<std::streamsize>(c.size()));
  }
  cuis::DataSplit s;
  ASSERT_EQ(cuis::load_mnist_dir(dir, &s), Error::success) << cuis::last_error_message();
  EXPECT_EQ(s.train.rows, 5);
  EXPECT_EQ(s.test.rows, 2);
  EXPECT_EQ(s.train.classes, 12);  // a label of 11 widens both splits
  EXPECT_EQ(s.test.classes, 12);
  // A truncated gzip stream is refused.
  std::vector<unsigned char> bytes;
  ASSERT_EQ(cuis::read_file(dir + "/train-images-idx3-ubyte.gz", &bytes), Error::success);
  std::ifstream in(dir + "/train-images-idx3-ubyte.gz", std::ios::binary);
  std::vector<char> gz((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  {
    std::ofstream out(temp("cut.gz"), std::ios::binary);
    out.write(gz.data(), static_cast<std::streamsize>(gz.size() - 6));
  }
  EXPECT_EQ(cuis::read_file(temp("cut.gz"), &bytes), Error::corrupt_data);
  EXPECT_EQ(cuis::read_file(temp("missing"), &bytes), Error::io_error);
  cuis::DataSplit none;
  EXPECT_EQ(cuis::load_mnist_dir(temp("nowhere"), &none), Error::io_error);
  EXPECT_NE(cuis::last_error_message().find("nowhere"), std::string::npos);
}

TEST(Cifar10, ParsesAndRefuses) {
  std::vector<unsigned char> b(2 * 3073, 0);
  b[0] = 3;
  b[3073] = 9;
  b[3074] = 255;
  cuis::Dataset d;
  ASSERT_EQ(cuis::parse_cifar10(b, "cifar", &d), Error::success);
  EXPECT_EQ(d.rows, 2);
  EXPECT_EQ(d.labels, (std::vector<int32_t>{3, 9}));
  EXPECT_FLOAT_EQ(d.x[3072], 1.0f);
  EXPECT_EQ(cuis::parse_cifar10({b.begin(), b.end() - 1}, "cifar", &d), Error::corrupt_data);
  EXPECT_NE(cuis::last_error_message().find("3073-byte records"), std::string::npos);
  b[3073] = 10;
  EXPECT_EQ(cuis::parse_cifar10(b, "cifar", &d), Error::corrupt_data);
  EXPECT_NE(cuis::last_error_message().find("record 1 has label 10"), std::string::npos);
  EXPECT_EQ(cuis::parse_cifar10({}, "cifar", &d), Error::corrupt_data);
}

TEST(FashionMnist, RealFilesLoad) {
  std::FILE* f = std::fopen((std::string(cuis::FASHION_MNIST_DIR) + "/train-images-idx3-ubyte.gz").c_str(), "rb");
  if (!f) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  std::fclose(f);
  cuis::DataSplit s;
  ASSERT_EQ(cuis::load_mnist_dir(cuis::FASHION_MNIST_DIR, &s), Error::success) << cuis::last_error_message();
  EXPECT_EQ(s.train.rows, 60000);
  EXPECT_EQ(s.test.rows, 10000);
  EXPECT_EQ(s.train.features, 784);
  EXPECT_EQ(s.train.classes, 10);
  std::vector<int64_t> per_class(10);
  for (int32_t y : s.train.labels) ++per_class[y];
  for (int64_t c : per_class) EXPECT_EQ(c, 6000);
}

TEST(Synthetic, DeterministicAndShaped) {
  const cuis::DataSplit a = cuis::synthetic_data(100, 20, 8, 3, 5), b = cuis::synthetic_data(100, 20, 8, 3, 5);
  EXPECT_EQ(a.train.x, b.train.x);
  EXPECT_EQ(a.train.rows, 100);
  EXPECT_EQ(a.test.features, 8);
  for (int32_t y : a.train.labels) EXPECT_TRUE(y >= 0 && y < 3);
}

// Training features end with mean 0 and deviation 1 (constant ones at 0); the
// test split is moved by the training statistics, not its own.
TEST(Standardize, UsesTrainingStatistics) {
  cuis::DataSplit s;
  s.train.rows = 4;
  s.train.features = 2;
  s.train.x = {1, 5, 2, 5, 3, 5, 4, 5};  // feature 0: mean 2.5, sd sqrt(1.25); feature 1 constant
  s.test.rows = 1;
  s.test.features = 2;
  s.test.x = {2.5f, 7};
  ASSERT_EQ(cuis::standardize(&s), Error::success);
  double m = 0, v = 0;
  for (int r = 0; r < 4; ++r) m += s.train.x[2 * r];
  for (int r = 0; r < 4; ++r) v += s.train.x[2 * r] * s.train.x[2 * r];
  EXPECT_NEAR(m / 4, 0.0, 1e-6);
  EXPECT_NEAR(v / 4, 1.0, 1e-6);
  EXPECT_FLOAT_EQ(s.train.x[0], static_cast<float>(-1.5 / std::sqrt(1.25)));
  for (int r = 0; r < 4; ++r) EXPECT_EQ(s.train.x[2 * r + 1], 0.0f);
  EXPECT_EQ(s.test.x[0], 0.0f);
  EXPECT_EQ(s.test.x[1], 2.0f);

  cuis::DataSplit bad = s;
  bad.train.x[3] = NAN;
  EXPECT_EQ(cuis::standardize(&bad), Error::non_finite_value);
  EXPECT_NE(cuis::last_error_message().find("feature 1"), std::string::npos);
  cuis::DataSplit empty;
  EXPECT_EQ(cuis::standardize(&empty), Error::empty_input);
  bad = s;
  bad.test.features = 3;
  EXPECT_EQ(cuis::standardize(&bad), Error::shape_mismatch);
}

}  // namespace
