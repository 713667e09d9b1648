// Checkpoint files: serialisation, the checksum, the atomic write and the
// defensive read (every size is checked against the bytes actually present
// before anything is allocated).
#include "cuis/nn/checkpoint.h"

#include <cstring>

#include "core/binary_io.h"
#include "core/error_detail.h"

namespace cuis {

using detail::set_error;

namespace {

constexpr char MAGIC[8] = {'C', 'U', 'I', 'S', 'C', 'K', 'P', 'T'};
constexpr uint32_t VERSION = 1;
constexpr uint32_t MAX_LAYERS = 1024;

}  // namespace

Error write_checkpoint(const std::string& path, const Checkpoint& c) {
  return detail::guarded("write_checkpoint", [&]() -> Error {
    if (const Error e = validate_shape(c.shape); e != Error::success) return e;
    if (static_cast<int64_t>(c.params.size()) != param_count(c.shape) ||
        static_cast<int64_t>(c.state.size()) != optimizer_state_count(c.optimizer.kind, param_count(c.shape)))
      return set_error(Error::shape_mismatch, "checkpoint parameters or state do not match the shape");
    detail::ByteWriter w;
    w.bytes.assign(MAGIC, MAGIC + 8);
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
    w.put_vector(c.params);
    w.put_vector(c.state);
    w.seal();
    return detail::write_file_atomically(path, w.bytes);
  });
}

Error read_checkpoint(const std::string& path, Checkpoint* out) {
  return detail::guarded("read_checkpoint", [&]() -> Error {
    std::vector<unsigned char> bytes;
    if (const Error e = detail::read_whole_file(path, &bytes); e != Error::success) return e;
    auto corrupt = [&](const std::string& why) { return set_error(Error::corrupt_checkpoint, path + ": " + why); };
    if (bytes.size() < 8 + 4 + 8 || std::memcmp(bytes.data(), MAGIC, 8) != 0) return corrupt("not a cuis checkpoint");
    detail::ByteReader r{bytes, 8};
    uint32_t version = 0, layers = 0;
    r.get(&version);
    if (version != VERSION) return corrupt("unsupported version " + std::to_string(version));
    if (!detail::checksum_ok(bytes)) return corrupt("checksum mismatch (truncated or damaged)");
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
    if (!r.get_vector(&c.params) || static_cast<int64_t>(c.params.size()) != param_count(c.shape))
      return corrupt("parameter count does not match the shape");
    if (!r.get_vector(&c.state) ||
        static_cast<int64_t>(c.state.size()) != optimizer_state_count(c.optimizer.kind, param_count(c.shape)))
      return corrupt("optimizer state does not match");
    if (r.pos != bytes.size() - 8) return corrupt("unexpected trailing bytes");
    *out = std::move(c);
    return set_error(Error::success, "");
  });
}

}  // namespace cuis
