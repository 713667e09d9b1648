// The CUDA training engine's loop state, in device memory: the step count,
// the running mean loss, tau and the importance decision, the RNG streams of
// the step. The loop kernels (kernels/train/loop.cuh) update it on the device;
// the host reads it between steps and writes it at a resume.
#pragma once

#include <cstdint>

#include "cuis/sampler.h"
#include "cuis/trainer.h"
#include "train/trainer_common.h"

namespace cuis {
namespace kernels {

struct LoopDevice {
  double batch_loss, mean_loss, tau;
  float mean_loss_f;  // what the sampler's adaptive smoothing reads
  int tau_seen, importance;
  unsigned long long step;
  int failed;  // a stage reported a problem: the loop kernels stop changing state
  int reserved;
  RngState candidates, draws;  // this step's streams: offsets step * (uniform draws per step) and step * B
};

// The loop state after `step` steps (the RNG offsets follow from the step and
// the uniform draws per step).
inline LoopDevice loop_at(const TrainerStats& s, bool tau_seen, const detail::RunSeeds& seeds, int64_t draws,
                          int64_t b) {
  return LoopDevice{s.batch_loss,
                    s.mean_loss,
                    s.tau,
                    static_cast<float>(s.mean_loss),
                    tau_seen ? 1 : 0,
                    s.importance ? 1 : 0,
                    s.step,
                    0,
                    0,
                    RngState{seeds.candidates, s.step * static_cast<uint64_t>(draws)},
                    RngState{seeds.draws, s.step * static_cast<uint64_t>(b)}};
}

}  // namespace kernels
}  // namespace cuis
