// libFuzzer target for the dataset parsers: the first byte chooses where the
// input splits into an IDX image file and a label file; the whole input is
// also parsed as CIFAR-10 records. Run by tests/fuzz_test.sh under ASan and
// UBSan with a malloc limit, so an input that makes a loader allocate what the
// file does not hold fails the run.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "cuis/data.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t split = 1 + (size - 1) * data[0] / 256;
  const std::vector<unsigned char> images(data + 1, data + split), labels(data + split, data + size);
  cuis::Dataset d;
  if (cuis::parse_idx(images, labels, "fuzz", &d) == cuis::Error::success) {
    if (d.rows * d.features != static_cast<int64_t>(d.x.size()) || d.labels.size() != static_cast<size_t>(d.rows))
      __builtin_trap();
    for (int32_t y : d.labels)
      if (y < 0 || y >= d.classes) __builtin_trap();
  }
  const std::vector<unsigned char> all(data, data + size);
  if (cuis::parse_cifar10(all, "fuzz", &d) == cuis::Error::success && d.rows * 3072 != static_cast<int64_t>(d.x.size()))
    __builtin_trap();
  return 0;
}
