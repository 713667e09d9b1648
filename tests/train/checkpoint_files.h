// Files for the trainer checkpoint tests: whole-file bytes, writing bytes
// back, and resealing an edited file's FNV-1a checksum.
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace cuis_test {

inline std::vector<char> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void write_bytes(const std::string& path, const std::vector<char>& b) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(b.data(), static_cast<std::streamsize>(b.size()));
}

inline bool file_exists(const std::string& path) { return std::ifstream(path).good(); }

// Recomputes the last 8 bytes: FNV-1a of everything before them.
inline void reseal(std::vector<char>* b) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i + 8 < b->size(); ++i) h = (h ^ static_cast<unsigned char>((*b)[i])) * 1099511628211ull;
  std::memcpy(b->data() + b->size() - 8, &h, 8);
}

}  // namespace cuis_test
