// Strict decimal parsing: the syntax is checked here, the rounding is strtof's
// (correctly rounded, round to nearest even, in the "C" locale the tools keep).
#include "score_number.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace cuis_cli {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool equals_lower(const std::string& text, size_t from, const char* word) {
  size_t i = from;
  for (; *word; ++word, ++i) {
    if (i >= text.size()) return false;
    const char c = text[i];
    if ((c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c) != *word) return false;
  }
  return i == text.size();
}

// Length of the longest prefix of text that is a decimal number (0: none);
// *nonzero: a digit other than 0 in its significand.
size_t scan_decimal(const std::string& text, bool* nonzero) {
  size_t i = 0;
  *nonzero = false;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
  size_t digits = 0;
  for (; i < text.size() && is_digit(text[i]); ++i, ++digits) *nonzero = *nonzero || text[i] != '0';
  if (i < text.size() && text[i] == '.') {
    size_t j = i + 1, frac = 0;
    for (; j < text.size() && is_digit(text[j]); ++j, ++frac) *nonzero = *nonzero || text[j] != '0';
    if (digits + frac > 0) {
      i = j;
      digits += frac;
    }
  }
  if (digits == 0) {
    *nonzero = false;
    return 0;
  }
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    size_t j = i + 1;
    if (j < text.size() && (text[j] == '+' || text[j] == '-')) ++j;
    const size_t exp_begin = j;
    while (j < text.size() && is_digit(text[j])) ++j;
    if (j > exp_begin) i = j;
  }
  return i;
}

}  // namespace

ParsedNumber parse_float32(const std::string& text) {
  ParsedNumber p;
  const bool minus = !text.empty() && text[0] == '-';
  const size_t sign = !text.empty() && (text[0] == '-' || text[0] == '+') ? 1 : 0;
  if (equals_lower(text, sign, "nan")) {
    p.status = NumberStatus::nan_literal;
    p.value = std::numeric_limits<float>::quiet_NaN();
    return p;
  }
  if (equals_lower(text, sign, "inf") || equals_lower(text, sign, "infinity")) {
    p.status = NumberStatus::inf_literal;
    p.value = minus ? -std::numeric_limits<float>::infinity() : std::numeric_limits<float>::infinity();
    p.negative = minus;
    return p;
  }
  bool nonzero = false;
  const size_t len = scan_decimal(text, &nonzero);
  if (len == 0) return p;
  if (len != text.size()) {
    p.status = NumberStatus::trailing_text;
    return p;
  }
  p.negative = minus && nonzero;
  errno = 0;
  p.value = std::strtof(text.c_str(), nullptr);  // the syntax is a subset of strtof's
  if (std::isinf(p.value)) {
    p.status = NumberStatus::out_of_range;
  } else if (p.value == 0.0f && nonzero) {
    p.status = NumberStatus::underflow;
  } else {
    p.status = NumberStatus::ok;  // ERANGE for a subnormal result is not an error here
  }
  return p;
}

bool parse_uint64(const std::string& text, unsigned long long* value) {
  if (text.empty()) return false;
  for (const char c : text)
    if (!is_digit(c)) return false;
  errno = 0;
  char* end = nullptr;
  *value = std::strtoull(text.c_str(), &end, 10);
  return errno == 0 && *end == '\0';
}

std::string printable(const std::string& text, size_t max_chars) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (out.size() >= max_chars) {
      out += "...";
      break;
    }
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    }
  }
  return out;
}

}  // namespace cuis_cli
