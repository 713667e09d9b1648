// The training loop's state file. The predictor's checkpoint is stored as its
// own checkpoint file beside it (path + ".predictor") so that one format
// serves both networks.
#include "train/trainer_state.h"

#include <cstring>

#include "core/binary_io.h"
#include "core/error_detail.h"

namespace cuis {
namespace detail {

namespace {
constexpr char MAGIC[8] = {'C', 'U', 'I', 'S', 'L', 'O', 'O', 'P'};
constexpr uint32_t VERSION = 1;
}  // namespace

Error write_loop_state(const std::string& path, const LoopState& s) {
  if (s.has_predictor)
    if (const Error e = write_checkpoint(path + ".predictor", s.predictor); e != Error::success) return e;
  ByteWriter w;
  w.bytes.assign(MAGIC, MAGIC + 8);
  w.put(VERSION);
  w.put(s.stats.step);
  w.put(s.stats.batch_loss);
  w.put(s.stats.mean_loss);
  w.put(s.stats.tau);
  w.put(static_cast<uint8_t>(s.stats.importance));
  w.put(static_cast<uint8_t>(s.tau_seen));
  w.put(static_cast<uint8_t>(s.has_predictor));
  w.put_vector(s.history);
  w.put_vector(s.seen);
  w.seal();
  return write_file_atomically(path, w.bytes);
}

Error read_loop_state(const std::string& path, LoopState* out) {
  std::vector<unsigned char> b;
  if (const Error e = read_whole_file(path, &b); e != Error::success) return e;
  auto corrupt = [&](const char* why) { return set_error(Error::corrupt_checkpoint, path + ": " + why); };
  if (b.size() < 20 || std::memcmp(b.data(), MAGIC, 8) != 0) return corrupt("not a cuis training-state file");
  if (!checksum_ok(b)) return corrupt("checksum mismatch (truncated or damaged)");
  ByteReader r{b, 8};
  uint32_t version = 0;
  LoopState s;
  uint8_t importance = 0, tau_seen = 0, has_predictor = 0;
  if (!r.get(&version) || version != VERSION) return corrupt("unsupported version");
  if (!r.get(&s.stats.step) || !r.get(&s.stats.batch_loss) || !r.get(&s.stats.mean_loss) || !r.get(&s.stats.tau) ||
      !r.get(&importance) || !r.get(&tau_seen) || !r.get(&has_predictor) || !r.get_vector(&s.history) ||
      !r.get_vector(&s.seen) || r.pos != b.size() - 8)
    return corrupt("truncated or malformed");
  s.stats.importance = importance != 0;
  s.tau_seen = tau_seen != 0;
  s.has_predictor = has_predictor != 0;
  if (s.has_predictor)
    if (const Error e = read_checkpoint(path + ".predictor", &s.predictor); e != Error::success) return e;
  *out = std::move(s);
  return set_error(Error::success, "");
}

}  // namespace detail
}  // namespace cuis
