// Internal: a network checkpoint as bytes ("CUISCKPT", version, shape,
// optimizer, step, parameters, optimizer state, FNV-1a checksum), the format
// write_checkpoint() writes and trainer checkpoints embed.
#pragma once

#include <string>
#include <vector>

#include "cuis/nn/checkpoint.h"

namespace cuis {
namespace detail {

// The image of c; shape_mismatch when its parameters or state do not fit its shape.
Error network_image(const Checkpoint& c, std::vector<unsigned char>* out);
// Parses and checks an image (every size against the bytes present before
// allocating); corrupt_checkpoint naming `name` and the problem.
Error parse_network_image(const std::vector<unsigned char>& bytes, const std::string& name, Checkpoint* out);
// Whether bytes begin as a network checkpoint does (its magic).
bool is_network_image(const std::vector<unsigned char>& bytes);

}  // namespace detail
}  // namespace cuis
