// Score file parsing: every failure names the file and what is wrong with it.
#include "score_file.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>

namespace cuis_cli {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool read_raw(const std::string& path, std::ifstream& in, std::vector<float>* out, std::string* error) {
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  in.seekg(0, std::ios::beg);
  if (size < 0) {
    *error = path + ": cannot determine the file size";
    return false;
  }
  if (size % 4 != 0) {
    *error = path + ": truncated float32 file (" + std::to_string(size) + " bytes is not a multiple of 4)";
    return false;
  }
  out->resize(static_cast<size_t>(size / 4));
  // Little-endian float32 on a little-endian host (x86-64, AArch64): a plain read.
  if (!in.read(reinterpret_cast<char*>(out->data()), size)) {
    *error = path + ": read failed";
    return false;
  }
  return true;
}

bool read_text(const std::string& path, std::ifstream& in, std::vector<float>* out, std::string* error) {
  std::string line;
  long long number = 0;
  while (std::getline(in, line)) {
    ++number;
    const char* begin = line.c_str();
    char* end = nullptr;
    errno = 0;
    const float v = std::strtof(begin, &end);
    while (*end == ' ' || *end == '\t' || *end == '\r') ++end;
    if (end == begin || *end != '\0') {
      *error = path + ": line " + std::to_string(number) + ": not a number: '" + line + "'";
      return false;
    }
    out->push_back(v);  // out-of-range values become +-inf and are reported by the sampler
  }
  if (in.bad()) {
    *error = path + ": read failed";
    return false;
  }
  return true;
}

}  // namespace

bool read_scores(const std::string& path, std::vector<float>* scores, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = path + ": cannot open (" + std::strerror(errno) + ")";
    return false;
  }
  scores->clear();
  const bool ok = ends_with(path, ".f32") ? read_raw(path, in, scores, error) : read_text(path, in, scores, error);
  if (ok && scores->empty()) {
    *error = path + ": no scores in file";
    return false;
  }
  return ok;
}

}  // namespace cuis_cli
