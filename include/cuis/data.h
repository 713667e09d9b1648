// Datasets for the trainer: IDX files (MNIST / Fashion-MNIST layout, raw or
// gzip), CIFAR-10 binary batches, and a synthetic generator for tests. Every
// loader checks magic numbers, dimensions against the bytes actually present,
// and label ranges, and names the file and the problem when it refuses one;
// nothing is allocated beyond what the file really holds.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cuis/error.h"

namespace cuis {

struct Dataset {
  std::string name;
  int64_t rows = 0;
  int32_t features = 0;
  int32_t classes = 0;
  std::vector<float> x;         // [rows, features]; pixels scaled to [0, 1]
  std::vector<int32_t> labels;  // [rows], in [0, classes)
};

struct DataSplit {
  Dataset train, test;
};

// Where Debian's dataset-fashion-mnist package puts the files.
constexpr const char* FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist";

// Reads a whole file, gunzipping it when it starts with the gzip magic (a
// build without zlib, possible only with tests, benchmarks and tools off,
// refuses such a file with io_error). The output grows only as data really
// arrives (a lying size cannot make it allocate), up to max_bytes.
Error read_file(const std::string& path, std::vector<unsigned char>* out, size_t max_bytes = size_t{1} << 32);

// An IDX image file (magic 0x00000803, ubyte) and its label file (0x00000801)
// already in memory; `name` names them in errors. classes = 10 unless a
// label says more (up to 256).
Error parse_idx(const std::vector<unsigned char>& images, const std::vector<unsigned char>& labels,
                const std::string& name, Dataset* out);
Error load_idx(const std::string& images_path, const std::string& labels_path, Dataset* out);

// A directory holding train-images-idx3-ubyte, train-labels-idx1-ubyte,
// t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (each optionally .gz).
Error load_mnist_dir(const std::string& dir, DataSplit* out);

// CIFAR-10 binary records (1 label byte + 3072 pixel bytes) in memory.
Error parse_cifar10(const std::vector<unsigned char>& bytes, const std::string& name, Dataset* out);
// A directory with data_batch_1.bin .. data_batch_5.bin and test_batch.bin.
Error load_cifar10_dir(const std::string& dir, DataSplit* out);

// Per-feature standardisation with the training split's statistics:
// x <- (x - mean_f) / std_f on both splits, with std_f taken as 1 where the
// training split holds feature f constant (its features become 0). Means and
// deviations are accumulated in double. Without this the loaders' inputs are
// pixels in [0, 1]; standardised inputs train markedly faster (docs/METHOD.md
// section 7's numbers are for standardised Fashion-MNIST).
Error standardize(DataSplit* data);

// A learnable synthetic problem: `classes` Gaussian clusters in `features`
// dimensions, deterministic in seed.
DataSplit synthetic_data(int64_t train_rows, int64_t test_rows, int32_t features, int32_t classes, uint64_t seed);

}  // namespace cuis
