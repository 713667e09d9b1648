// Internal: the training loop's state file (path + ".trainer"): step, running
// means, and for the predicted sampler the predictor's checkpoint and the loss
// histories. Versioned, checksummed, written atomically, like checkpoints.
#pragma once

#include <string>
#include <vector>

#include "cuis/nn/checkpoint.h"
#include "cuis/trainer.h"

namespace cuis {
namespace detail {

struct LoopState {
  TrainerStats stats;
  bool tau_seen = false;
  bool has_predictor = false;
  Checkpoint predictor;
  std::vector<float> history;
  std::vector<int32_t> seen;
};

Error write_loop_state(const std::string& path, const LoopState& s);
Error read_loop_state(const std::string& path, LoopState* out);

}  // namespace detail
}  // namespace cuis
