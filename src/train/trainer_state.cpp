// The trainer checkpoint file (the format: cuis/trainer.h, TrainerCheckpoint)
// (the network checkpoint images it embeds: src/nn/checkpoint.cpp).
#include "train/trainer_state.h"

#include <cstring>
#include <string>
#include <utility>

#include "core/binary_io.h"
#include "core/error_detail.h"
#include "nn/checkpoint_image.h"
#include "train/trainer_common.h"

namespace cuis {
namespace detail {

namespace {

constexpr char MAGIC[8] = {'C', 'U', 'I', 'S', 'T', 'R', 'N', 'R'};
// Version 2 added the cache sampler and TrainConfig::predictor_log; version 1
// files read as predictor_log off.
constexpr uint32_t VERSION = 2;

void put_string(ByteWriter* w, const std::string& s) { w->put_vector(std::vector<char>(s.begin(), s.end())); }
bool get_string(ByteReader* r, std::string* s) {
  std::vector<char> v;
  if (!r->get_vector(&v)) return false;
  s->assign(v.begin(), v.end());
  return true;
}

void put_config(ByteWriter* w, const TrainConfig& c) {
  w->put(static_cast<int32_t>(c.sampler));
  for (float f : {c.k, c.smooth, c.adaptive_smooth, c.power}) w->put(f);
  w->put(c.presample);
  w->put(c.warmup);
  w->put(c.tau_th);
  w->put(c.batch);
  w->put_vector(c.hidden);
  w->put(static_cast<int32_t>(c.activation));
  w->put(static_cast<int32_t>(c.optimizer.kind));
  const OptimizerConfig& o = c.optimizer;
  for (float f : {o.lr, o.momentum, o.weight_decay, o.beta1, o.beta2, o.eps}) w->put(f);
  w->put(c.seed);
  w->put(c.history);
  w->put_vector(c.predictor_hidden);
  w->put(static_cast<uint8_t>(c.cuda_graph));
  w->put(static_cast<int32_t>(c.math));
  w->put(static_cast<uint8_t>(c.predictor_log));
}

// False when truncated or an enumeration is out of range.
bool get_config(ByteReader* r, uint32_t version, TrainConfig* c) {
  int32_t sampler = 0, act = 0, kind = 0, math = 0;
  uint8_t graph = 0, predictor_log = 0;
  OptimizerConfig& o = c->optimizer;
  bool ok = r->get(&sampler) && r->get(&c->k) && r->get(&c->smooth) && r->get(&c->adaptive_smooth) &&
            r->get(&c->power) && r->get(&c->presample) && r->get(&c->warmup) && r->get(&c->tau_th) &&
            r->get(&c->batch) && r->get_vector(&c->hidden) && r->get(&act) && r->get(&kind);
  for (float* f : {&o.lr, &o.momentum, &o.weight_decay, &o.beta1, &o.beta2, &o.eps}) ok = ok && r->get(f);
  ok = ok && r->get(&c->seed) && r->get(&c->history) && r->get_vector(&c->predictor_hidden) && r->get(&graph) &&
       r->get(&math) && (version < 2 || r->get(&predictor_log));
  if (!ok || sampler < 0 || sampler > (version < 2 ? 3 : 4) || act < 0 || act > 1 || kind < 0 || kind > 1 || math < 0 ||
      math > 1)
    return false;
  c->sampler = static_cast<SamplerKind>(sampler);
  c->activation = static_cast<Activation>(act);
  o.kind = static_cast<OptimizerKind>(kind);
  c->cuda_graph = graph != 0;
  c->math = static_cast<Math>(math);
  c->predictor_log = predictor_log != 0;
  return true;
}

void put_identity(ByteWriter* w, const DataIdentity& d) {
  put_string(w, d.train_name);
  put_string(w, d.test_name);
  w->put(d.train_rows);
  w->put(d.test_rows);
  w->put(d.features);
  w->put(d.classes);
  w->put(d.checksum);
}

bool get_identity(ByteReader* r, DataIdentity* d) {
  return get_string(r, &d->train_name) && get_string(r, &d->test_name) && r->get(&d->train_rows) &&
         r->get(&d->test_rows) && r->get(&d->features) && r->get(&d->classes) && r->get(&d->checksum);
}

// Bit for bit: a checkpoint holds exactly the settings its trainer trains with.
bool same_optimizer(const OptimizerConfig& a, const OptimizerConfig& b) {
  return a.kind == b.kind && std::memcmp(&a.lr, &b.lr, sizeof a.lr) == 0 &&
         std::memcmp(&a.momentum, &b.momentum, sizeof a.momentum) == 0 &&
         std::memcmp(&a.weight_decay, &b.weight_decay, sizeof a.weight_decay) == 0 &&
         std::memcmp(&a.beta1, &b.beta1, sizeof a.beta1) == 0 && std::memcmp(&a.beta2, &b.beta2, sizeof a.beta2) == 0 &&
         std::memcmp(&a.eps, &b.eps, sizeof a.eps) == 0;
}

bool same_shape(const MlpShape& a, const MlpShape& b) {
  return a.sizes == b.sizes && a.activation == b.activation && a.loss == b.loss;
}

}  // namespace

Error trainer_file_image(const TrainerFile& f, std::vector<unsigned char>* out) {
  const TrainerCheckpoint& h = f.head;
  const LoopState& s = f.loop;
  std::vector<unsigned char> main, predictor;
  CUIS_TRY(network_image(h.network, &main));
  if (s.has_predictor) CUIS_TRY(network_image(s.predictor, &predictor));
  ByteWriter w;
  w.bytes.assign(MAGIC, MAGIC + 8);
  w.put(VERSION);
  w.put(h.train_seconds);  // bytes 12..19
  put_string(&w, h.engine);
  put_config(&w, h.config);
  put_identity(&w, h.data);
  w.put(s.stats.step);
  w.put(s.stats.batch_loss);
  w.put(s.stats.mean_loss);
  w.put(s.stats.tau);
  w.put(static_cast<uint8_t>(s.stats.importance));
  w.put(static_cast<uint8_t>(s.tau_seen));
  w.put(static_cast<uint8_t>(s.has_predictor));
  w.put_vector(main);
  w.put_vector(predictor);
  w.put_vector(s.history);
  w.put_vector(s.seen);
  w.seal();
  *out = std::move(w.bytes);
  return set_error(Error::success, "");
}

Error write_trainer_file(const std::string& path, const TrainerFile& f) {
  std::vector<unsigned char> bytes;
  CUIS_TRY(trainer_file_image(f, &bytes));
  return write_file_atomically(path, bytes);
}

Error read_trainer_file(const std::string& path, TrainerFile* out) {
  std::vector<unsigned char> b;
  CUIS_TRY(read_whole_file(path, &b));
  return parse_trainer_file(b, path, out);
}

Error parse_trainer_file(const std::vector<unsigned char>& b, const std::string& path, TrainerFile* out) {
  auto corrupt = [&](const std::string& why) { return set_error(Error::corrupt_checkpoint, path + ": " + why); };
  if (is_network_image(b))
    return corrupt(
        "a network checkpoint (write_checkpoint), not a trainer checkpoint: it holds no loop state to "
        "continue from (before the one-file format, that state was in a side file " +
        path + ".trainer)");
  if (b.size() < 20 || std::memcmp(b.data(), MAGIC, 8) != 0) return corrupt("not a cuis trainer checkpoint");
  ByteReader r{b, 8};
  uint32_t version = 0;
  if (!r.get(&version) || version < 1 || version > VERSION)
    return corrupt("unsupported version " + std::to_string(version));
  if (!checksum_ok(b)) return corrupt("checksum mismatch (truncated or damaged)");
  TrainerFile f;
  TrainerCheckpoint& h = f.head;
  LoopState& s = f.loop;
  uint8_t importance = 0, tau_seen = 0, has_predictor = 0;
  std::vector<unsigned char> main, predictor;
  if (!r.get(&h.train_seconds) || !get_string(&r, &h.engine) || !get_config(&r, version, &h.config) ||
      !get_identity(&r, &h.data) || !r.get(&s.stats.step) || !r.get(&s.stats.batch_loss) ||
      !r.get(&s.stats.mean_loss) || !r.get(&s.stats.tau) || !r.get(&importance) || !r.get(&tau_seen) ||
      !r.get(&has_predictor) || !r.get_vector(&main) || !r.get_vector(&predictor) || !r.get_vector(&s.history) ||
      !r.get_vector(&s.seen) || r.pos != b.size() - 8)
    return corrupt("truncated or malformed");
  s.stats.importance = importance != 0;
  s.tau_seen = tau_seen != 0;
  s.has_predictor = has_predictor != 0;
  h.stats = s.stats;
  // Nothing is derived from the stored settings and sizes before they are checked.
  if (check_settings(h.config) != Error::success)
    return corrupt("invalid configuration (" + last_error_message() + ")");
  if (h.data.features < 1 || h.data.features > (1 << 20) || h.data.classes < 1 || h.data.classes > (1 << 20))
    return corrupt("invalid data sizes (" + std::to_string(h.data.features) + " features, " +
                   std::to_string(h.data.classes) + " classes)");
  CUIS_TRY(parse_network_image(main, path + " (main network)", &h.network));
  if (s.has_predictor) CUIS_TRY(parse_network_image(predictor, path + " (loss predictor)", &s.predictor));
  // The parts agree with each other and with the stored configuration.
  Dataset dims;
  dims.features = h.data.features;
  dims.classes = h.data.classes;
  const TrainConfig& c = h.config;
  const bool predicted = c.sampler == SamplerKind::predicted, history = keeps_history(c);
  if (!(h.train_seconds >= 0.0) || h.data.train_rows < 1 || h.data.test_rows < 1 ||
      !same_shape(h.network.shape, main_shape(c, dims)))
    return corrupt("inconsistent (configuration, data and main network disagree)");
  if (s.has_predictor != predicted || (!predicted && !predictor.empty()) ||
      (!history && (!s.history.empty() || !s.seen.empty())))
    return corrupt("inconsistent (loop state and sampler disagree)");
  if (!same_optimizer(h.network.optimizer, c.optimizer))
    return corrupt("inconsistent (the main network's optimizer is not the configuration's)");
  if (predicted && !same_optimizer(s.predictor.optimizer, OptimizerConfig{}))
    return corrupt("inconsistent (the loss predictor's optimizer is not the trainer's)");
  if (predicted && !same_shape(s.predictor.shape, predictor_shape(c, dims)))
    return corrupt("inconsistent (loss predictor and configuration disagree)");
  if (history && (s.history.size() != static_cast<uint64_t>(h.data.train_rows) * static_cast<uint64_t>(c.history) ||
                  s.seen.size() != static_cast<uint64_t>(h.data.train_rows)))
    return corrupt("inconsistent (loss histories and data disagree)");
  *out = std::move(f);
  return set_error(Error::success, "");
}

Error read_loop_state(const std::string& path, LoopState* out) {
  TrainerFile f;
  CUIS_TRY(read_trainer_file(path, &f));
  *out = std::move(f.loop);
  return set_error(Error::success, "");
}

}  // namespace detail

Error read_trainer_checkpoint(const std::string& path, TrainerCheckpoint* out) {
  return detail::guarded("read_trainer_checkpoint", [&]() -> Error {
    if (!out) return detail::set_error(Error::null_pointer, "read_trainer_checkpoint: out is required");
    detail::TrainerFile f;
    CUIS_TRY(detail::read_trainer_file(path, &f));
    *out = std::move(f.head);
    return detail::set_error(Error::success, "");
  });
}

}  // namespace cuis
