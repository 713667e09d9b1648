// Dataset loaders: defensive parsing of IDX and CIFAR-10 files, gzip through
// zlib, and the synthetic generator.
#include "cuis/data.h"

#if CUIS_HAVE_ZLIB
#include <zlib.h>
#endif

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>

#include "core/binary_io.h"
#include "core/error_detail.h"

namespace cuis {

using detail::set_error;

namespace {

Error corrupt(const std::string& name, const std::string& why) {
  return set_error(Error::corrupt_data, name + ": " + why);
}

uint32_t be32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

bool exists(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f) std::fclose(f);
  return f != nullptr;
}

// path, or path + ".gz" when only that exists.
std::string pick(const std::string& path) { return exists(path) || !exists(path + ".gz") ? path : path + ".gz"; }

}  // namespace

Error read_file(const std::string& path, std::vector<unsigned char>* out, size_t max_bytes) {
  return detail::guarded("read_file", [&]() -> Error {
    if (!out) return set_error(Error::null_pointer, "read_file: out must not be null");
    CUIS_TRY(detail::check_file(path, true));  // never waits on a FIFO
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return set_error(Error::io_error, path + ": cannot open (" + std::strerror(errno) + ")");
    unsigned char magic[2] = {0, 0};
    const size_t got = std::fread(magic, 1, 2, f);
    std::fclose(f);
    out->clear();
    if (got == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
#if !CUIS_HAVE_ZLIB
      return set_error(Error::io_error, path + ": is gzip-compressed, and this build of cuis has no zlib (rebuild "
                                               "with zlib's headers: apt-get install zlib1g-dev)");
#else
      gzFile gz = gzopen(path.c_str(), "rb");
      if (!gz) return set_error(Error::io_error, path + ": cannot open as gzip");
      std::vector<unsigned char> chunk(size_t{1} << 20);
      for (;;) {
        const int n = gzread(gz, chunk.data(), static_cast<unsigned>(chunk.size()));
        if (n < 0) {
          int code = 0;
          const std::string msg = gzerror(gz, &code);
          gzclose(gz);
          return set_error(Error::corrupt_data, path + ": corrupt gzip data (" + msg + ")");
        }
        if (n == 0) break;
        if (out->size() + static_cast<size_t>(n) > max_bytes) {
          gzclose(gz);
          return set_error(Error::corrupt_data,
                           path + ": decompresses to more than " + std::to_string(max_bytes) + " bytes");
        }
        out->insert(out->end(), chunk.begin(), chunk.begin() + n);
      }
      const int rc = gzclose(gz);
      if (rc != Z_OK) return set_error(Error::corrupt_data, path + ": truncated or corrupt gzip stream");
      return set_error(Error::success, "");
#endif
    }
    f = std::fopen(path.c_str(), "rb");
    if (!f) return set_error(Error::io_error, path + ": cannot open");
    std::vector<unsigned char> chunk(size_t{1} << 20);
    size_t n = 0;
    while ((n = std::fread(chunk.data(), 1, chunk.size(), f)) > 0) {
      if (out->size() + n > max_bytes) {
        std::fclose(f);
        return set_error(Error::corrupt_data, path + ": larger than " + std::to_string(max_bytes) + " bytes");
      }
      out->insert(out->end(), chunk.begin(), chunk.begin() + n);
    }
    const bool failed = std::ferror(f) != 0;
    std::fclose(f);
    if (failed) return set_error(Error::io_error, path + ": read failed");
    return set_error(Error::success, "");
  });
}

Error parse_idx(const std::vector<unsigned char>& images, const std::vector<unsigned char>& labels,
                const std::string& name, Dataset* out) {
  return detail::guarded("parse_idx", [&]() -> Error {
    if (!out) return set_error(Error::null_pointer, "parse_idx: out must not be null");
    const std::string img = name + " images", lab = name + " labels";
    if (images.size() < 16) return corrupt(img, "truncated header (" + std::to_string(images.size()) + " bytes)");
    if (be32(images.data()) != 0x00000803)
      return corrupt(
          img, "bad magic number 0x" + [&] {
            char b[9];
            std::snprintf(b, sizeof b, "%08x", be32(images.data()));
            return std::string(b);
          }() + " (expected 0x00000803, unsigned bytes in 3 dimensions)");
    const uint64_t count = be32(images.data() + 4), h = be32(images.data() + 8), w = be32(images.data() + 12);
    if (count == 0 || h == 0 || w == 0) return corrupt(img, "a dimension is zero");
    if (h * w > (uint64_t{1} << 24))
      return corrupt(img, "images of " + std::to_string(h) + "x" + std::to_string(w) + " are implausibly large");
    const uint64_t want = 16 + count * h * w;
    if (images.size() != want)
      return corrupt(img, "header claims " + std::to_string(count) + " images of " + std::to_string(h) + "x" +
                              std::to_string(w) + " (" + std::to_string(want) + " bytes) but the file has " +
                              std::to_string(images.size()) + " bytes");
    if (labels.size() < 8) return corrupt(lab, "truncated header");
    if (be32(labels.data()) != 0x00000801) return corrupt(lab, "bad magic number (expected 0x00000801)");
    const uint64_t label_count = be32(labels.data() + 4);
    if (label_count != count)
      return corrupt(lab, std::to_string(label_count) + " labels for " + std::to_string(count) + " images");
    if (labels.size() != 8 + count)
      return corrupt(lab, "expected " + std::to_string(8 + count) + " bytes, found " + std::to_string(labels.size()));
    Dataset d;
    d.name = name;
    d.rows = static_cast<int64_t>(count);
    d.features = static_cast<int32_t>(h * w);
    d.classes = 10;
    d.labels.resize(count);
    for (uint64_t i = 0; i < count; ++i) {
      d.labels[i] = labels[8 + i];
      if (d.labels[i] >= d.classes) d.classes = d.labels[i] + 1;
    }
    d.x.resize(count * h * w);
    for (uint64_t i = 0; i < count * h * w; ++i) d.x[i] = static_cast<float>(images[16 + i]) * (1.0f / 255.0f);
    *out = std::move(d);
    return set_error(Error::success, "");
  });
}

Error load_idx(const std::string& images_path, const std::string& labels_path, Dataset* out) {
  return detail::guarded("load_idx", [&]() -> Error {
    if (!out) return set_error(Error::null_pointer, "load_idx: out must not be null");
    std::vector<unsigned char> images, labels;
    if (const Error e = read_file(images_path, &images); e != Error::success) return e;
    if (const Error e = read_file(labels_path, &labels); e != Error::success) return e;
    return parse_idx(images, labels, images_path, out);
  });
}

Error load_mnist_dir(const std::string& dir, DataSplit* out) {
  return detail::guarded("load_mnist_dir", [&]() -> Error {
    if (!out) return set_error(Error::null_pointer, "load_mnist_dir: out must not be null");
    DataSplit s;
    if (const Error e =
            load_idx(pick(dir + "/train-images-idx3-ubyte"), pick(dir + "/train-labels-idx1-ubyte"), &s.train);
        e != Error::success)
      return e;
    if (const Error e = load_idx(pick(dir + "/t10k-images-idx3-ubyte"), pick(dir + "/t10k-labels-idx1-ubyte"), &s.test);
        e != Error::success)
      return e;
    if (s.train.features != s.test.features)
      return set_error(Error::shape_mismatch, dir + ": training and test images differ in size");
    s.test.classes = s.train.classes = std::max(s.train.classes, s.test.classes);
    *out = std::move(s);
    return set_error(Error::success, "");
  });
}

Error parse_cifar10(const std::vector<unsigned char>& bytes, const std::string& name, Dataset* out) {
  return detail::guarded("parse_cifar10", [&]() -> Error {
    if (!out) return set_error(Error::null_pointer, "parse_cifar10: out must not be null");
    constexpr size_t RECORD = 1 + 3072;
    if (bytes.empty()) return corrupt(name, "empty file");
    if (bytes.size() % RECORD != 0)
      return corrupt(name,
                     std::to_string(bytes.size()) + " bytes is not a whole number of 3073-byte records (truncated?)");
    Dataset d;
    d.name = name;
    d.rows = static_cast<int64_t>(bytes.size() / RECORD);
    d.features = 3072;
    d.classes = 10;
    d.x.resize(static_cast<size_t>(d.rows) * 3072);
    d.labels.resize(d.rows);
    for (int64_t r = 0; r < d.rows; ++r) {
      const unsigned char* rec = bytes.data() + r * RECORD;
      if (rec[0] >= 10)
        return corrupt(name, "record " + std::to_string(r) + " has label " + std::to_string(rec[0]) +
                                 " (CIFAR-10 labels are 0..9)");
      d.labels[r] = rec[0];
      for (int i = 0; i < 3072; ++i) d.x[r * 3072 + i] = static_cast<float>(rec[1 + i]) * (1.0f / 255.0f);
    }
    *out = std::move(d);
    return set_error(Error::success, "");
  });
}

namespace {
Error load_cifar_files(const std::vector<std::string>& paths, Dataset* out) {
  Dataset all;
  for (const std::string& p : paths) {
    std::vector<unsigned char> bytes;
    if (const Error e = read_file(p, &bytes, size_t{1} << 30); e != Error::success) return e;
    Dataset part;
    if (const Error e = parse_cifar10(bytes, p, &part); e != Error::success) return e;
    all.rows += part.rows;
    all.x.insert(all.x.end(), part.x.begin(), part.x.end());
    all.labels.insert(all.labels.end(), part.labels.begin(), part.labels.end());
  }
  all.name = paths.front();
  all.features = 3072;
  all.classes = 10;
  *out = std::move(all);
  return Error::success;
}
}  // namespace

Error load_cifar10_dir(const std::string& dir, DataSplit* out) {
  return detail::guarded("load_cifar10_dir", [&]() -> Error {
    if (!out) return set_error(Error::null_pointer, "load_cifar10_dir: out must not be null");
    DataSplit s;
    std::vector<std::string> train;
    for (int i = 1; i <= 5; ++i) train.push_back(dir + "/data_batch_" + std::to_string(i) + ".bin");
    if (const Error e = load_cifar_files(train, &s.train); e != Error::success) return e;
    if (const Error e = load_cifar_files({dir + "/test_batch.bin"}, &s.test); e != Error::success) return e;
    *out = std::move(s);
    return set_error(Error::success, "");
  });
}

namespace {
DataSplit synthetic_split(int64_t train_rows, int64_t test_rows, int32_t features, int32_t classes, uint64_t seed);
}  // namespace

DataSplit synthetic_data(int64_t train_rows, int64_t test_rows, int32_t features, int32_t classes, uint64_t seed) {
  // Bad arguments or no memory give an empty split (0 rows), which every
  // consumer refuses with a message ("the training or test split is empty");
  // last_error_message() says why. Nothing throws.
  DataSplit s;
  const Error e = detail::guarded("synthetic_data", [&]() -> Error {
    if (train_rows < 1 || test_rows < 1 || features < 1 || classes < 1 || train_rows > (int64_t{1} << 40) ||
        test_rows > (int64_t{1} << 40))
      return set_error(Error::invalid_argument, "synthetic_data: rows, features and classes must be positive");
    s = synthetic_split(train_rows, test_rows, features, classes, seed);
    return set_error(Error::success, "");
  });
  if (e != Error::success) s = DataSplit{};
  return s;
}

namespace {
DataSplit synthetic_split(int64_t train_rows, int64_t test_rows, int32_t features, int32_t classes, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::normal_distribution<float> n(0.0f, 1.0f);
  std::vector<float> centers(static_cast<size_t>(classes) * features);
  for (auto& c : centers) c = n(g);
  auto make = [&](int64_t rows, const char* name) {
    Dataset d;
    d.name = name;
    d.rows = rows;
    d.features = features;
    d.classes = classes;
    d.x.resize(static_cast<size_t>(rows) * features);
    d.labels.resize(rows);
    for (int64_t r = 0; r < rows; ++r) {
      const int32_t y = static_cast<int32_t>(g() % classes);
      d.labels[r] = y;
      for (int32_t f = 0; f < features; ++f) d.x[r * features + f] = centers[y * features + f] + 1.5f * n(g);
    }
    return d;
  };
  DataSplit s;
  s.train = make(train_rows, "synthetic (train)");
  s.test = make(test_rows, "synthetic (test)");
  return s;
}
}  // namespace

Error standardize(DataSplit* data) {
  return detail::guarded("standardize", [&]() -> Error {
    if (!data) return set_error(Error::null_pointer, "standardize: data must not be null");
    const Dataset& tr = data->train;
    const int64_t f = tr.features;
    if (tr.rows <= 0 || f <= 0) return set_error(Error::empty_input, "standardize: the training split is empty");
    if (data->test.features != f)
      return set_error(Error::shape_mismatch, "standardize: train and test features differ");
    std::vector<double> mean(static_cast<size_t>(f), 0.0), var(static_cast<size_t>(f), 0.0);
    for (int64_t r = 0; r < tr.rows; ++r)
      for (int64_t k = 0; k < f; ++k) mean[k] += tr.x[r * f + k];
    for (double& m : mean) m /= static_cast<double>(tr.rows);
    for (int64_t r = 0; r < tr.rows; ++r)
      for (int64_t k = 0; k < f; ++k) {
        const double d = tr.x[r * f + k] - mean[k];
        var[k] += d * d;
      }
    std::vector<double> inv(static_cast<size_t>(f));
    for (int64_t k = 0; k < f; ++k) {
      const double sd = std::sqrt(var[k] / static_cast<double>(tr.rows));
      if (!std::isfinite(sd) || !std::isfinite(mean[k]))
        return set_error(Error::non_finite_value, "standardize: feature " + std::to_string(k) + " is not finite");
      inv[k] = sd > 0.0 ? 1.0 / sd : 1.0;
    }
    for (Dataset* d : {&data->train, &data->test})
      for (int64_t r = 0; r < d->rows; ++r)
        for (int64_t k = 0; k < f; ++k) {
          float& x = d->x[r * f + k];
          x = static_cast<float>((x - mean[k]) * inv[k]);
        }
    return set_error(Error::success, "");
  });
}

}  // namespace cuis
