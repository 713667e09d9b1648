// cuis-train's loop: steps to the budget (the run's totals), evaluations at
// fixed points of the run (multiples of the step or time interval, so that a
// resumed run evaluates where the uninterrupted one would), each one logged
// and checkpointed; the progress bar on a terminal.
#pragma once

#include <cstdint>

#include "cuis/trainer.h"
#include "train_flags.h"
#include "train_log.h"

namespace cuis_train {

struct Budget {
  int64_t total_steps = 0;   // the run's last step; 0: no step budget
  double seconds = 0;        // the run's training time; 0: no time budget
  int64_t eval_every = 0;    // evaluate at multiples of this step; 0: not by steps
  double eval_seconds = 0;   // evaluate at multiples of this training time; 0: not by time
  int64_t steps_per_epoch = 1;
};

Budget make_budget(const Flags& f, int64_t train_rows);

// Trains from the trainer's state (step and train_seconds) to the budget.
// Returns the exit code (errors printed).
int train(cuis::Trainer& t, const Flags& f, const Budget& b, bool cuda, TrainLog* log);

}  // namespace cuis_train
