// cuis-train's command line (CLI11): the flags, their defaults and ranges,
// and the one-line errors for anything else (an unknown flag, a stray
// argument, a repeated flag, a value out of range: refused, never clamped).
#pragma once

#include <cstdint>
#include <string>

#include "cuis/trainer.h"

namespace cuis_train {

struct Flags {
  std::string data = "fashion-mnist", device = "auto", log, checkpoint, resume;
  double epochs = 0, seconds = 0, eval_seconds = 0;  // 0: not given
  int64_t steps = 0, eval_every = 0;                 // 0: not given
  bool tau_auto = false, standardize = true, eval_scores = false;
  cuis::TrainConfig cfg;
};

// Fills *f from argv. Returns -1 to go on; otherwise the exit code: 0 after
// --help (printed on stdout), 2 after a one-line error on stderr.
int parse_flags(int argc, char** argv, Flags* f);

// Prints "cuis-train: error: MSG" on stderr and returns code.
int fail(int code, const std::string& msg);

// A compare_configs difference in cuis-train's words: "the checkpoint was
// written with --batch 128, this run asks for --batch 64" (a setting no flag
// sets is named by its TrainConfig field).
std::string describe_difference(const cuis::ConfigDifference& d);

}  // namespace cuis_train
