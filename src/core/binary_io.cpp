// Checksums and atomic file writes for checkpoints and training-state files.
#include "core/binary_io.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>

#include "core/error_detail.h"

namespace cuis {
namespace detail {

uint64_t fnv1a(const unsigned char* p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

bool checksum_ok(const std::vector<unsigned char>& bytes) {
  if (bytes.size() < 8) return false;
  uint64_t stored = 0;
  std::memcpy(&stored, bytes.data() + bytes.size() - 8, 8);
  return fnv1a(bytes.data(), bytes.size() - 8) == stored;
}

Error write_file_atomically(const std::string& path, const std::vector<unsigned char>& bytes) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) return set_error(Error::io_error, path + ": cannot create " + tmp);
  const bool written = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size() && std::fflush(f) == 0 &&
                       ::fsync(::fileno(f)) == 0;
  const bool closed = std::fclose(f) == 0;
  if (!written || !closed || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return set_error(Error::io_error, path + ": write failed (the previous file, if any, is unchanged)");
  }
  return set_error(Error::success, "");
}

Error read_whole_file(const std::string& path, std::vector<unsigned char>* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return set_error(Error::io_error, path + ": cannot open");
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad()) return set_error(Error::io_error, path + ": read failed");
  return Error::success;
}

}  // namespace detail
}  // namespace cuis
