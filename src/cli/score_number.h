// Strict decimal numbers for cuis-sample, shared by the score-file reader and
// the flag parser. The accepted syntax, nothing more (no hexadecimal, no
// surrounding spaces, no locale):
//   [+-]? ( DIGITS [ "." DIGITS? ] | "." DIGITS ) ( [eE] [+-]? DIGITS )?
// plus the literals nan, inf and infinity (any case, optional sign), which are
// recognised so that the caller can name them, never accepted as a plain value.
#pragma once

#include <string>

namespace cuis_cli {

enum class NumberStatus {
  ok,             // a finite float32 (subnormals included, rounded to nearest)
  not_a_number,   // nothing numeric at the start of the text
  trailing_text,  // a number followed by other characters
  nan_literal,    // nan
  inf_literal,    // inf / infinity (value is +-inf)
  out_of_range,   // finite in decimal but rounds to +-infinity in float32
  underflow,      // not zero in decimal but rounds to 0 in float32
};

struct ParsedNumber {
  NumberStatus status = NumberStatus::not_a_number;
  float value = 0.0f;     // the float32 for ok (and +-inf / nan for the literals)
  bool negative = false;  // a '-' sign on a non-zero value ("-0" is not negative)
};

// Parses all of `text` as one number.
ParsedNumber parse_float32(const std::string& text);

// Parses all of `text` as an integer in [0, 2^64 - 1]: decimal digits only.
// Returns false for anything else, including a value above 2^64 - 1.
bool parse_uint64(const std::string& text, unsigned long long* value);

// `text` fit for a one-line message: control bytes and non-ASCII as \xNN,
// cut to about max_chars with "...".
std::string printable(const std::string& text, size_t max_chars = 60);

}  // namespace cuis_cli
