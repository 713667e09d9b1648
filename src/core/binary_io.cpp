// Checksums and atomic file writes for checkpoints and training-state files.
#include "core/binary_io.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

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

Error check_file(const std::string& path, bool must_exist) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT && !must_exist) return Error::success;
    return set_error(Error::io_error, path + ": " + std::strerror(errno));
  }
  const char* what = S_ISDIR(st.st_mode)                           ? "a directory"
                     : S_ISFIFO(st.st_mode)                        ? "a FIFO"
                     : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device"
                     : S_ISSOCK(st.st_mode)                        ? "a socket"
                     : S_ISREG(st.st_mode)                         ? nullptr
                                                                   : "not a regular file";
  if (what) return set_error(Error::io_error, path + " is " + what + ", not a regular file");
  return Error::success;
}

std::string write_target(const std::string& path) {
  char resolved[PATH_MAX];
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode) && ::realpath(path.c_str(), resolved)) return resolved;
  return path;
}

Error write_file_atomically(const std::string& requested, const std::vector<unsigned char>& bytes) {
  CUIS_TRY(check_file(requested, false));
  const std::string path = write_target(requested);  // a symbolic link keeps pointing at the new file
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
  if (!out) return set_error(Error::null_pointer, path + ": the output must not be null");
  CUIS_TRY(check_file(path, true));  // never waits on a FIFO, never reads a directory
  std::ifstream in(path, std::ios::binary);
  if (!in) return set_error(Error::io_error, path + ": cannot open");
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad()) return set_error(Error::io_error, path + ": read failed");
  return Error::success;
}

}  // namespace detail
}  // namespace cuis
