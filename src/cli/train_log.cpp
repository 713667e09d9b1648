// The CSV log and its continuation on resume. The kept part is written to a
// temporary file that replaces the log, so an interruption leaves the old log
// or the new one, never half of it.
#include "train_log.h"

#include <unistd.h>

#include <charconv>
#include <fstream>
#include <iterator>

#include "core/binary_io.h"

namespace cuis_train {

const char* const LOG_HEADER = "step,epoch,wall_s,samples,batch_loss,train_loss,test_loss,test_error,sampler,tau,score_rank_corr";

TrainLog::~TrainLog() {
  if (m_file) std::fclose(m_file);
}

bool TrainLog::open(const std::string& requested, bool resuming, uint64_t step, std::string* error) {
  // A device, a FIFO or a directory is refused (the log is rewritten by a
  // rename, which would replace it); through a link, the target is written.
  if (cuis::detail::check_file(requested, false) != cuis::Error::success) {
    *error = "--log: " + cuis::last_error_message();
    return false;
  }
  const std::string path = cuis::detail::write_target(requested);
  std::string kept = std::string(LOG_HEADER) + "\n";
  std::ifstream in(path, std::ios::binary);
  if (resuming && in) {
    const std::string old((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) {
      *error = "--log: cannot read " + path;
      return false;
    }
    if (old.compare(0, kept.size(), kept) != 0) {
      *error = "--log: " + path + " is not a cuis-train log (its first line is not the header); resuming leaves it alone";
      return false;
    }
    // Whole rows, in order, up to the checkpoint's step; a row cut short by
    // the interruption (no newline) or a later step ends the kept part.
    size_t pos = kept.size();
    for (;;) {
      const size_t end = old.find('\n', pos);
      if (end == std::string::npos) break;
      uint64_t row = 0;
      const auto r = std::from_chars(old.data() + pos, old.data() + end, row);
      if (r.ec != std::errc() || *r.ptr != ',' || row > step) break;
      m_last = row;
      m_last_valid = true;
      pos = end + 1;
    }
    kept = old.substr(0, pos);
  }
  in.close();
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "w");
  const bool ok = f && std::fwrite(kept.data(), 1, kept.size(), f) == kept.size() && std::fflush(f) == 0;
  if (f) std::fclose(f);
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    *error = "--log: cannot write " + path;
    return false;
  }
  m_file = std::fopen(path.c_str(), "a");
  if (!m_file) {
    *error = "--log: cannot write " + path;
    return false;
  }
  return true;
}

bool TrainLog::write(const LogRow& r) {
  if (!m_file) return true;
  char corr[32] = "";  // empty when not measured
  if (r.has_rank_corr) std::snprintf(corr, sizeof corr, "%.4f", r.rank_corr);
  std::fprintf(m_file, "%llu,%.4f,%.4f,%llu,%.6g,%.6g,%.6g,%.6g,%s,%.6g,%s\n", static_cast<unsigned long long>(r.step),
               r.epoch, r.wall_s, static_cast<unsigned long long>(r.samples), r.batch_loss, r.train_loss, r.test_loss,
               r.test_error, r.sampler, r.tau, corr);
  m_last = r.step;
  m_last_valid = true;
  return std::fflush(m_file) == 0 && !std::ferror(m_file);
}

}  // namespace cuis_train
