// Checkpoint files: serialisation, the checksum, the atomic write and the
// defensive read (every size is checked against the bytes actually present
// before anything is allocated).
#include "cuis/checkpoint.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>

#include "error_detail.h"

namespace cuis {

using detail::set_error;

namespace {

constexpr char MAGIC[8] = {'C', 'U', 'I', 'S', 'C', 'K', 'P', 'T'};
constexpr uint32_t VERSION = 1;
constexpr uint32_t MAX_LAYERS = 1024;

uint64_t fnv1a(const unsigned char* p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

struct Writer {
  std::vector<unsigned char> bytes;
  template <class T>
  void put(const T& v) {
    const auto* p = reinterpret_cast<const unsigned char*>(&v);
    bytes.insert(bytes.end(), p, p + sizeof(T));
  }
  void put_floats(const std::vector<float>& v) {
    put(static_cast<uint64_t>(v.size()));
    const auto* p = reinterpret_cast<const unsigned char*>(v.data());
    bytes.insert(bytes.end(), p, p + v.size() * sizeof(float));
  }
};

struct Reader {
  const std::vector<unsigned char>& bytes;
  size_t pos = 0;
  template <class T>
  bool get(T* v) {
    if (bytes.size() - pos < sizeof(T)) return false;
    std::memcpy(v, bytes.data() + pos, sizeof(T));
    pos += sizeof(T);
    return true;
  }
  bool get_floats(std::vector<float>* v) {
    uint64_t count = 0;
    if (!get(&count) || count > (bytes.size() - pos) / sizeof(float)) return false;
    v->resize(count);
    std::memcpy(v->data(), bytes.data() + pos, count * sizeof(float));
    pos += count * sizeof(float);
    return true;
  }
};

}  // namespace

Error write_checkpoint(const std::string& path, const Checkpoint& c) {
  if (const Error e = validate_shape(c.shape); e != Error::success) return e;
  if (static_cast<int64_t>(c.params.size()) != param_count(c.shape) ||
      static_cast<int64_t>(c.state.size()) != optimizer_state_count(c.optimizer.kind, param_count(c.shape)))
    return set_error(Error::shape_mismatch, "checkpoint parameters or state do not match the shape");
  Writer w;
  w.bytes.insert(w.bytes.end(), MAGIC, MAGIC + 8);
  w.put(VERSION);
  w.put(static_cast<uint32_t>(c.shape.sizes.size()));
  for (int32_t s : c.shape.sizes) w.put(s);
  w.put(static_cast<int32_t>(c.shape.activation));
  w.put(static_cast<int32_t>(c.shape.loss));
  w.put(static_cast<int32_t>(c.optimizer.kind));
  for (float f : {c.optimizer.lr, c.optimizer.momentum, c.optimizer.weight_decay, c.optimizer.beta1,
                  c.optimizer.beta2, c.optimizer.eps})
    w.put(f);
  w.put(c.step);
  w.put_floats(c.params);
  w.put_floats(c.state);
  w.put(fnv1a(w.bytes.data(), w.bytes.size()));

  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) return set_error(Error::io_error, path + ": cannot create " + tmp);
  const bool written = std::fwrite(w.bytes.data(), 1, w.bytes.size(), f) == w.bytes.size() && std::fflush(f) == 0 &&
                       ::fsync(::fileno(f)) == 0;
  const bool closed = std::fclose(f) == 0;
  if (!written || !closed || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return set_error(Error::io_error, path + ": write failed (the previous file, if any, is unchanged)");
  }
  return set_error(Error::success, "");
}

Error read_checkpoint(const std::string& path, Checkpoint* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return set_error(Error::io_error, path + ": cannot open");
  const std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return set_error(Error::io_error, path + ": read failed");
  auto corrupt = [&](const std::string& why) { return set_error(Error::corrupt_checkpoint, path + ": " + why); };
  if (bytes.size() < 8 + 4 + 8 || std::memcmp(bytes.data(), MAGIC, 8) != 0) return corrupt("not a cuis checkpoint");
  uint64_t stored_sum = 0;
  std::memcpy(&stored_sum, bytes.data() + bytes.size() - 8, 8);
  Reader r{bytes, 8};
  uint32_t version = 0, layers = 0;
  r.get(&version);
  if (version != VERSION) return corrupt("unsupported version " + std::to_string(version));
  if (fnv1a(bytes.data(), bytes.size() - 8) != stored_sum) return corrupt("checksum mismatch (truncated or damaged)");
  Checkpoint c;
  if (!r.get(&layers) || layers < 2 || layers > MAX_LAYERS) return corrupt("bad layer count");
  c.shape.sizes.resize(layers);
  int32_t act = 0, loss = 0, kind = 0;
  for (auto& s : c.shape.sizes)
    if (!r.get(&s)) return corrupt("truncated");
  if (!r.get(&act) || !r.get(&loss) || !r.get(&kind)) return corrupt("truncated");
  c.shape.activation = static_cast<Activation>(act);
  c.shape.loss = static_cast<LossKind>(loss);
  c.optimizer.kind = static_cast<OptimizerKind>(kind);
  for (float* f : {&c.optimizer.lr, &c.optimizer.momentum, &c.optimizer.weight_decay, &c.optimizer.beta1,
                   &c.optimizer.beta2, &c.optimizer.eps})
    if (!r.get(f)) return corrupt("truncated");
  if (!r.get(&c.step)) return corrupt("truncated");
  if (validate_shape(c.shape) != Error::success || validate_optimizer(c.optimizer) != Error::success)
    return corrupt("invalid model description: " + last_error_message());
  if (!r.get_floats(&c.params) || static_cast<int64_t>(c.params.size()) != param_count(c.shape))
    return corrupt("parameter count does not match the shape");
  if (!r.get_floats(&c.state) ||
      static_cast<int64_t>(c.state.size()) != optimizer_state_count(c.optimizer.kind, param_count(c.shape)))
    return corrupt("optimizer state does not match");
  if (r.pos != bytes.size() - 8) return corrupt("unexpected trailing bytes");
  *out = std::move(c);
  return set_error(Error::success, "");
}

}  // namespace cuis
