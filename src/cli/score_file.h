// Reading a score file for cuis-sample (docs/cuis-sample.md "Score files" is the definition):
//  - a name ending in .f32: raw little-endian float32, at least one, so a
//    size that is a positive multiple of 4 bytes;
//  - any other name: text, one decimal number per line. LF or CRLF line ends;
//    a UTF-8 byte-order mark at the very start is skipped; lines that are
//    empty or hold only spaces and tabs, and lines whose first character
//    other than a space or tab is '#', are ignored (they hold no score but
//    count for line numbers); spaces and tabs around a number are allowed;
//    anything else is refused with its line number. A line is at most
//    MAX_LINE_BYTES bytes. nan, inf and negative values are refused (as the
//    sampler refuses them), naming the line and the score's index; so is a
//    value that rounds to infinity in float32, or a non-zero value that
//    rounds to 0 (subnormal float32 values are accepted).
// The file must be a regular file (or a link to one): a directory, FIFO or
// device is refused, saying which.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace cuis_cli {

constexpr size_t MAX_LINE_BYTES = 4096;

// Fills scores, or returns false with a one-line reason in *error (starting
// with the path). Throws std::bad_alloc when the scores do not fit in memory.
bool read_scores(const std::string& path, std::vector<float>* scores, std::string* error);

// The text format's parser on `size` bytes in memory, fed `chunk` bytes at a
// time (read_scores feeds it 64 KiB reads), messages naming `path`. For the
// fuzz test, which checks that the outcome does not depend on where the reads
// end (a CRLF, a byte-order mark or a line split across two reads).
bool parse_score_text(const std::string& path, const char* data, size_t size, size_t chunk,
                      std::vector<float>* scores, std::string* error);

}  // namespace cuis_cli
