// The training loop's state file. The predictor's checkpoint is stored as its
// own checkpoint file beside it (path + ".predictor") so that one format
// serves both networks.
#include "trainer_state.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>

#include "error_detail.h"

namespace cuis {
namespace detail {

namespace {

constexpr char MAGIC[8] = {'C', 'U', 'I', 'S', 'L', 'O', 'O', 'P'};
constexpr uint32_t VERSION = 1;

uint64_t fnv1a(const unsigned char* p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

template <class T>
void put(std::vector<unsigned char>* b, const T& v) {
  const auto* p = reinterpret_cast<const unsigned char*>(&v);
  b->insert(b->end(), p, p + sizeof(T));
}
template <class T>
void put_vec(std::vector<unsigned char>* b, const std::vector<T>& v) {
  put(b, static_cast<uint64_t>(v.size()));
  const auto* p = reinterpret_cast<const unsigned char*>(v.data());
  b->insert(b->end(), p, p + v.size() * sizeof(T));
}

struct Reader {
  const std::vector<unsigned char>& b;
  size_t pos;
  template <class T>
  bool get(T* v) {
    if (b.size() - pos < sizeof(T)) return false;
    std::memcpy(v, b.data() + pos, sizeof(T));
    pos += sizeof(T);
    return true;
  }
  template <class T>
  bool get_vec(std::vector<T>* v) {
    uint64_t n = 0;
    if (!get(&n) || n > (b.size() - pos) / sizeof(T)) return false;
    v->resize(n);
    std::memcpy(v->data(), b.data() + pos, n * sizeof(T));
    pos += n * sizeof(T);
    return true;
  }
};

}  // namespace

Error write_loop_state(const std::string& path, const LoopState& s) {
  if (s.has_predictor)
    if (const Error e = write_checkpoint(path + ".predictor", s.predictor); e != Error::success) return e;
  std::vector<unsigned char> b(MAGIC, MAGIC + 8);
  put(&b, VERSION);
  put(&b, s.stats.step);
  put(&b, s.stats.batch_loss);
  put(&b, s.stats.mean_loss);
  put(&b, s.stats.tau);
  put(&b, static_cast<uint8_t>(s.stats.importance));
  put(&b, static_cast<uint8_t>(s.tau_seen));
  put(&b, static_cast<uint8_t>(s.has_predictor));
  put_vec(&b, s.history);
  put_vec(&b, s.seen);
  put(&b, fnv1a(b.data(), b.size()));
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) return set_error(Error::io_error, path + ": cannot create " + tmp);
  const bool ok = std::fwrite(b.data(), 1, b.size(), f) == b.size() && std::fflush(f) == 0 && ::fsync(::fileno(f)) == 0;
  const bool closed = std::fclose(f) == 0;
  if (!ok || !closed || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return set_error(Error::io_error, path + ": write failed");
  }
  return set_error(Error::success, "");
}

Error read_loop_state(const std::string& path, LoopState* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return set_error(Error::io_error, path + ": cannot open");
  const std::vector<unsigned char> b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto corrupt = [&](const char* why) { return set_error(Error::corrupt_checkpoint, path + ": " + why); };
  if (b.size() < 20 || std::memcmp(b.data(), MAGIC, 8) != 0) return corrupt("not a cuis training-state file");
  uint64_t sum = 0;
  std::memcpy(&sum, b.data() + b.size() - 8, 8);
  if (fnv1a(b.data(), b.size() - 8) != sum) return corrupt("checksum mismatch (truncated or damaged)");
  Reader r{b, 8};
  uint32_t version = 0;
  LoopState s;
  uint8_t importance = 0, tau_seen = 0, has_predictor = 0;
  if (!r.get(&version) || version != VERSION) return corrupt("unsupported version");
  if (!r.get(&s.stats.step) || !r.get(&s.stats.batch_loss) || !r.get(&s.stats.mean_loss) || !r.get(&s.stats.tau) ||
      !r.get(&importance) || !r.get(&tau_seen) || !r.get(&has_predictor) || !r.get_vec(&s.history) ||
      !r.get_vec(&s.seen) || r.pos != b.size() - 8)
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
