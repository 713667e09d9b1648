// Checkpoints: a model's shape, optimizer, step count, parameters and
// optimizer state in a versioned little-endian binary file with a checksum.
// Written atomically (a temporary file, flushed, then renamed over the
// target); read in full and checked before anything is handed back.
//
// Layout (version 1): "CUISCKPT" | u32 version | u32 layers+1 | i32 sizes[] |
// i32 activation | i32 loss | i32 optimizer | f32 lr, momentum, weight_decay,
// beta1, beta2, eps | u64 step | u64 params | f32 params[] | u64 state |
// f32 state[] | u64 FNV-1a of everything before it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cuis/nn/mlp_config.h"

namespace cuis {

struct Checkpoint {
  MlpShape shape;
  OptimizerConfig optimizer;
  uint64_t step = 0;
  std::vector<float> params;
  std::vector<float> state;  // optimizer_state_count(optimizer.kind, params.size()) floats
};

// io_error when the file cannot be written; the old file, if any, survives.
Error write_checkpoint(const std::string& path, const Checkpoint& c);

// io_error (cannot open or read), corrupt_checkpoint (bad magic, unknown
// version, truncated, sizes that disagree, checksum mismatch), with the detail
// in last_error_message(). *out is only written on success.
Error read_checkpoint(const std::string& path, Checkpoint* out);

}  // namespace cuis
