// Internal: the trainer checkpoint, one file (cuis/trainer.h describes the
// format): the run's configuration, its data's identity, the training time,
// the loop's state, the main network and the predictor with its histories.
// Versioned, checksummed, written atomically; read in full and checked
// before anything is handed back.
#pragma once

#include <string>
#include <vector>

#include "cuis/nn/checkpoint.h"
#include "cuis/trainer.h"

namespace cuis {
namespace detail {

// What the loop needs beyond the main network.
struct LoopState {
  TrainerStats stats;
  bool tau_seen = false;
  bool has_predictor = false;
  Checkpoint predictor;
  std::vector<float> history;
  std::vector<int32_t> seen;
};

struct TrainerFile {
  TrainerCheckpoint head;  // head.stats mirrors loop.stats
  LoopState loop;
};

Error write_trainer_file(const std::string& path, const TrainerFile& f);
Error read_trainer_file(const std::string& path, TrainerFile* out);
// The file's bytes, and back (name: what messages call it). parse_ checks
// everything read_ does; *out is only written on success.
Error trainer_file_image(const TrainerFile& f, std::vector<unsigned char>* out);
Error parse_trainer_file(const std::vector<unsigned char>& bytes, const std::string& name, TrainerFile* out);
// The loop state of a trainer checkpoint (read_trainer_file's).
Error read_loop_state(const std::string& path, LoopState* out);

}  // namespace detail
}  // namespace cuis
