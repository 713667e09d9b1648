// Internal: the pieces every cuis binary file shares: a checksum, a byte
// writer and a bounds-checked reader, and the atomic write (temporary file,
// flushed and synced, then renamed over the target).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "cuis/error.h"

namespace cuis {
namespace detail {

// FNV-1a, 64-bit.
uint64_t fnv1a(const unsigned char* p, size_t n);

struct ByteWriter {
  std::vector<unsigned char> bytes;
  template <class T>
  void put(const T& v) {
    const auto* p = reinterpret_cast<const unsigned char*>(&v);
    bytes.insert(bytes.end(), p, p + sizeof(T));
  }
  // A u64 count, then the elements.
  template <class T>
  void put_vector(const std::vector<T>& v) {
    put(static_cast<uint64_t>(v.size()));
    const auto* p = reinterpret_cast<const unsigned char*>(v.data());
    bytes.insert(bytes.end(), p, p + v.size() * sizeof(T));
  }
  // Appends the checksum of everything so far.
  void seal() { put(fnv1a(bytes.data(), bytes.size())); }
};

struct ByteReader {
  const std::vector<unsigned char>& bytes;
  size_t pos = 0;
  template <class T>
  bool get(T* v) {
    if (bytes.size() - pos < sizeof(T)) return false;
    std::memcpy(v, bytes.data() + pos, sizeof(T));
    pos += sizeof(T);
    return true;
  }
  // Refuses a count larger than the bytes left, before allocating.
  template <class T>
  bool get_vector(std::vector<T>* v) {
    uint64_t n = 0;
    if (!get(&n) || n > (bytes.size() - pos) / sizeof(T)) return false;
    v->resize(n);
    if (n) std::memcpy(v->data(), bytes.data() + pos, n * sizeof(T));  // data() may be null when n == 0
    pos += n * sizeof(T);
    return true;
  }
};

// True when the last 8 bytes are the checksum of the rest.
bool checksum_ok(const std::vector<unsigned char>& bytes);

// success when path names a regular file (through links), or, unless
// must_exist, nothing; io_error saying what it is otherwise (a directory, a
// FIFO, a device), without opening it.
Error check_file(const std::string& path, bool must_exist);
// Where an atomic write of path goes: the target of a symbolic link, else path.
std::string write_target(const std::string& path);

// Writes bytes to path atomically (refusing a path that exists and is not a
// regular file; through a symbolic link, the link's target is replaced); io_error (naming path) on failure, and then
// the previous file, if any, is unchanged.
Error write_file_atomically(const std::string& path, const std::vector<unsigned char>& bytes);

// The whole file; io_error when it cannot be opened or read.
Error read_whole_file(const std::string& path, std::vector<unsigned char>* out);

}  // namespace detail
}  // namespace cuis
