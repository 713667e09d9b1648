// libFuzzer target for cuis-sample's score files (src/cli/score_file.h) and
// its number parser (src/cli/score_number.h). The first byte chooses (mod 4):
// 0, a text file; 1, a .f32 file (the rest is the file, written to a
// temporary file and read back); 2, parse_float32 of the rest against strtof;
// 3, parse_uint64 against strtoull. A file that is accepted holds what the
// format promises (at least one score; a .f32 file exactly its bytes, whose
// values the sampler checks; text only finite scores that are not negative,
// no more than its lines); a refused one says why, naming the file. A number
// is accepted exactly when strtof (strtoull) reads all of it in the decimal
// syntax, with strtof's value. A text file fed to the parser in chunks of 1 to 7
// bytes (read_scores feeds it 64 KiB reads) gives the same outcome. Run by
// tests/cli/fuzz_test.sh through
// tests/common/run_fuzz.sh.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cli/score_file.h"
#include "cli/score_number.h"

namespace {

bool decimal_alphabet(const std::string& t) {
  for (char c : t)
    if (!((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.' || c == 'e' || c == 'E')) return false;
  return true;
}

void check_float(const std::string& t) {
  const cuis_cli::ParsedNumber p = cuis_cli::parse_float32(t);
  char* end = nullptr;
  const float v = std::strtof(t.c_str(), &end);
  const bool all = !t.empty() && t.find('\0') == std::string::npos && end == t.c_str() + t.size();
  const bool numeric = p.status == cuis_cli::NumberStatus::ok || p.status == cuis_cli::NumberStatus::out_of_range ||
                       p.status == cuis_cli::NumberStatus::underflow;
  if (numeric && (!all || !decimal_alphabet(t))) __builtin_trap();  // accepted more than the decimal syntax
  if (all && decimal_alphabet(t) && !numeric) __builtin_trap();     // refused a decimal number
  if (p.status == cuis_cli::NumberStatus::ok &&
      (std::memcmp(&p.value, &v, sizeof v) != 0 || !std::isfinite(v) || p.negative != (v < 0.0f)))
    __builtin_trap();
  if (p.status == cuis_cli::NumberStatus::out_of_range && !std::isinf(v)) __builtin_trap();
  if (p.status == cuis_cli::NumberStatus::underflow && v != 0.0f) __builtin_trap();
}

void check_uint(const std::string& t) {
  unsigned long long got = 0;
  const bool ok = cuis_cli::parse_uint64(t, &got);
  bool digits = !t.empty();
  for (char c : t) digits = digits && c >= '0' && c <= '9';
  errno = 0;
  const unsigned long long want = digits ? std::strtoull(t.c_str(), nullptr, 10) : 0;
  const bool fits = digits && errno == 0;
  if (ok != fits || (ok && got != want)) __builtin_trap();
}

// The file reader feeds the text parser 64 KiB reads, more than a fuzz input
// holds: the same bytes fed in small chunks (1 to 7 bytes, chosen by the
// input) must give the same outcome, so that every place a read can end (in
// a CRLF, a byte-order mark, a number) is tried.
void check_chunked(const std::string& path, const char* text, size_t n, bool ok, const std::vector<float>& scores,
                   const std::string& error) {
  const size_t chunk = 1 + (n > 0 ? static_cast<unsigned char>(text[n / 2]) % 7 : 0);
  std::vector<float> again;
  std::string why;
  const bool ok_again = cuis_cli::parse_score_text(path, text, n, chunk, &again, &why);
  if (ok_again != ok) __builtin_trap();
  if (ok && (again.size() != scores.size() ||
             (!again.empty() && std::memcmp(again.data(), scores.data(), again.size() * sizeof(float)) != 0)))
    __builtin_trap();
  if (!ok && why != error) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  if (data[0] % 4 >= 2) {
    const std::string t(reinterpret_cast<const char*>(data + 1), size - 1);
    if (data[0] % 4 == 2)
      check_float(t);
    else
      check_uint(t);
    return 0;
  }
  const bool raw = data[0] % 4 == 1;
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
  if (!raw) check_chunked(path, reinterpret_cast<const char*>(data + 1), n, ok, scores, error);
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
