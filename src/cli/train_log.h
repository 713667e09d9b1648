// cuis-train's CSV log: one row per evaluation. A resumed run continues its
// log: the rows up to the checkpoint's step stay, the rows after it (written
// by the interrupted run after its last checkpoint) go.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace cuis_train {

extern const char* const LOG_HEADER;

struct LogRow {
  uint64_t step = 0;
  double epoch = 0, wall_s = 0;
  uint64_t samples = 0;
  double batch_loss = 0, train_loss = 0, test_loss = 0, test_error = 0;
  const char* sampler = "";
  double tau = 0;
  bool has_rank_corr = false;  // --eval-scores
  double rank_corr = 0;        // Trainer::score_quality
};

class TrainLog {
 public:
  TrainLog() = default;
  TrainLog(const TrainLog&) = delete;
  TrainLog& operator=(const TrainLog&) = delete;
  ~TrainLog();

  // A new log at path (replacing any file there), or with resuming, the
  // existing log at path cut after the last row at or before `step` (a new
  // one if there is none). false with *error set when the file cannot be
  // read or written, or is not a cuis-train log (then it is left alone).
  bool open(const std::string& path, bool resuming, uint64_t step, std::string* error);
  // Whether the log already holds the row of `step` (its last kept row).
  bool has_row(uint64_t step) const { return m_last_valid && m_last == step; }
  bool write(const LogRow& r);
  bool is_open() const { return m_file != nullptr; }

 private:
  std::FILE* m_file = nullptr;
  bool m_last_valid = false;
  uint64_t m_last = 0;
};

}  // namespace cuis_train
