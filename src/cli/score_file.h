// Reading a score file for cuis-sample: raw little-endian float32 when the
// name ends in .f32, else text with one number per line.
#pragma once

#include <string>
#include <vector>

namespace cuis_cli {

// Fills scores, or returns false with a one-line reason in *error.
bool read_scores(const std::string& path, std::vector<float>* scores, std::string* error);

}  // namespace cuis_cli
