// libFuzzer target for cuis-sample's score files (src/cli/score_file.h): the
// first byte chooses the kind (even: text, odd: a .f32 file), the rest is the
// file, written to a temporary file and read back. A file that is accepted
// holds what the format promises (at least one score; a .f32 file exactly its
// bytes, whose values the sampler checks; text only finite scores that are not
// negative, no more than its lines); a refused one says why, naming the file.
// Run by
// tests/cli/fuzz_test.sh through tests/common/run_fuzz.sh.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cli/score_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool raw = data[0] % 2 == 1;
  const std::string path = "/tmp/cuis_score_fuzz_" + std::to_string(::getpid()) + (raw ? ".f32" : ".txt");
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  const size_t n = size - 1;
  if (n > 0 && std::fwrite(data + 1, 1, n, f) != n) __builtin_trap();
  std::fclose(f);
  std::vector<float> scores;
  std::string error;
  const bool ok = cuis_cli::read_scores(path, &scores, &error);
  std::remove(path.c_str());
  if (!ok) {
    if (error.compare(0, path.size(), path) != 0) __builtin_trap();  // names the file
    return 0;
  }
  if (scores.empty()) __builtin_trap();
  if (raw) {
    if (n != scores.size() * 4 || std::memcmp(scores.data(), data + 1, n) != 0) __builtin_trap();
    return 0;
  }
  for (float s : scores)
    if (!std::isfinite(s) || s < 0.0f) __builtin_trap();
  if (scores.size() > static_cast<size_t>(std::count(data + 1, data + size, '\n')) + 1) __builtin_trap();
  return 0;
}
