// Network checkpoints: the image (serialisation and checksum), shared with the
// trainer checkpoint that embeds it, the atomic write and the defensive read (every size is checked against the bytes
// actually present before anything is allocated).
#include "cuis/nn/checkpoint.h"

#include <cstring>

#include "core/binary_io.h"
#include "core/error_detail.h"
#include "nn/checkpoint_image.h"

namespace cuis {

using detail::set_error;

namespace {

constexpr char MAGIC[8] = {'C', 'U', 'I', 'S', 'C', 'K', 'P', 'T'};
constexpr uint32_t VERSION = 1;
constexpr uint32_t MAX_LAYERS = 1024;

}  // namespace

namespace detail {

Error network_image(const Checkpoint& c, std::vector<unsigned char>* out) {
  CUIS_TRY(validate_shape(c.shape));
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
  const OptimizerConfig& o = c.optimizer;
  for (float f : {o.lr, o.momentum, o.weight_decay, o.beta1, o.beta2, o.eps}) w.put(f);
  w.put(c.step);
  w.put_vector(c.params);
  w.put_vector(c.state);
  w.seal();
  *out = std::move(w.bytes);
  return set_error(Error::success, "");
}

Error parse_network_image(const std::vector<unsigned char>& bytes, const std::string& name, Checkpoint* out) {
  auto corrupt = [&](const std::string& why) { return set_error(Error::corrupt_checkpoint, name + ": " + why); };
  if (bytes.size() < 8 + 4 + 8 || std::memcmp(bytes.data(), MAGIC, 8) != 0) return corrupt("not a network image");
  detail::ByteReader r{bytes, 8};
  uint32_t version = 0, layers = 0;
  if (!r.get(&version) || version != VERSION) return corrupt("unsupported version " + std::to_string(version));
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
  OptimizerConfig& o = c.optimizer;
  for (float* f : {&o.lr, &o.momentum, &o.weight_decay, &o.beta1, &o.beta2, &o.eps})
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
}

bool is_network_image(const std::vector<unsigned char>& bytes) {
  return bytes.size() >= 8 && std::memcmp(bytes.data(), MAGIC, 8) == 0;
}

}  // namespace detail

Error write_checkpoint(const std::string& path, const Checkpoint& c) {
  return detail::guarded("write_checkpoint", [&]() -> Error {
    std::vector<unsigned char> bytes;
    CUIS_TRY(detail::network_image(c, &bytes));
    return detail::write_file_atomically(path, bytes);
  });
}

Error read_checkpoint(const std::string& path, Checkpoint* out) {
  return detail::guarded("read_checkpoint", [&]() -> Error {
    if (!out) return set_error(Error::null_pointer, "read_checkpoint: out must not be null");
    std::vector<unsigned char> bytes;
    CUIS_TRY(detail::read_whole_file(path, &bytes));
    return detail::parse_network_image(bytes, path, out);
  });
}

}  // namespace cuis
