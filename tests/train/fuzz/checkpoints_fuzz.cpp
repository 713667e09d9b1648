// libFuzzer target for the checkpoint parsers. The first byte chooses the
// format (even: a network checkpoint, read_checkpoint's; odd: a trainer
// checkpoint, Trainer::load's); the rest is the file without its checksum,
// which the target appends, so that mutations reach the fields behind it (a
// wrong checksum is tested elsewhere). A parse that succeeds must hand back
// what its checks promise, and the resume check that load() runs next must
// return. LLVMFuzzerInitialize writes valid files of both kinds into the
// folder $CUIS_FUZZ_SEEDS (the seed corpus). Run by ctest (fuzz_checkpoints)
// under ASan and UBSan with a malloc limit (tests/common/run_fuzz.sh).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "core/binary_io.h"
#include "nn/checkpoint_image.h"
#include "train/trainer_common.h"
#include "train/trainer_state.h"

namespace {

using cuis::Error;

std::vector<unsigned char> sealed(const uint8_t* p, size_t n) {
  std::vector<unsigned char> b(p, p + n);
  const uint64_t h = cuis::detail::fnv1a(b.data(), b.size());
  const auto* q = reinterpret_cast<const unsigned char*>(&h);
  b.insert(b.end(), q, q + sizeof h);
  return b;
}

cuis::Checkpoint network(const cuis::MlpShape& shape, const cuis::OptimizerConfig& o) {
  cuis::Checkpoint c;
  c.shape = shape;
  c.optimizer = o;
  c.step = 3;
  c.params.assign(static_cast<size_t>(cuis::param_count(shape)), 0.5f);
  c.state.assign(static_cast<size_t>(cuis::optimizer_state_count(o.kind, cuis::param_count(shape))), 0.25f);
  return c;
}

cuis::detail::TrainerFile trainer_file(cuis::SamplerKind s) {
  cuis::TrainConfig c;
  c.sampler = s;
  c.hidden = {3};
  c.history = 2;
  c.predictor_hidden = {2};
  cuis::Dataset dims;
  dims.features = 4;
  dims.classes = 3;
  cuis::detail::TrainerFile f;
  f.head.engine = "cpu";
  f.head.config = c;
  f.head.data = cuis::DataIdentity{"train", "test", 5, 2, 4, 3, 0x1234};
  f.head.network = network(cuis::detail::main_shape(c, dims), c.optimizer);
  f.loop.has_predictor = s == cuis::SamplerKind::predicted;
  if (f.loop.has_predictor) f.loop.predictor = network(cuis::detail::predictor_shape(c, dims), cuis::OptimizerConfig{});
  if (cuis::detail::keeps_history(c)) {
    f.loop.history.assign(10, 0.125f);
    f.loop.seen.assign(5, 1);
  }
  return f;
}

// A seed: the selector byte, then the file less its checksum. The file must
// parse: a seed that does not would leave the parsers' deeper checks unfuzzed.
void write_seed(const std::string& dir, const std::string& name, unsigned char selector,
                const std::vector<unsigned char>& file) {
  cuis::Checkpoint c;
  cuis::detail::TrainerFile f;
  const Error e = selector == 0 ? cuis::detail::parse_network_image(file, name, &c)
                                : cuis::detail::parse_trainer_file(file, name, &f);
  if (e != Error::success) {
    std::fprintf(stderr, "seed %s does not parse: %s\n", name.c_str(), cuis::last_error_message().c_str());
    std::abort();
  }
  std::ofstream out(dir + "/" + name, std::ios::binary);
  out.put(static_cast<char>(selector));
  out.write(reinterpret_cast<const char*>(file.data()), static_cast<std::streamsize>(file.size() - 8));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* dir = std::getenv("CUIS_FUZZ_SEEDS");
  if (!dir) return 0;
  std::vector<unsigned char> b;
  const cuis::MlpShape shape{{4, 3, 2}, cuis::Activation::relu, cuis::LossKind::cross_entropy};
  if (cuis::detail::network_image(network(shape, cuis::OptimizerConfig{}), &b) != Error::success) std::abort();
  write_seed(dir, "network", 0, b);
  for (cuis::SamplerKind s :
       {cuis::SamplerKind::uniform, cuis::SamplerKind::loss, cuis::SamplerKind::predicted, cuis::SamplerKind::cache}) {
    if (cuis::detail::trainer_file_image(trainer_file(s), &b) != Error::success) std::abort();
    write_seed(dir, std::string("trainer-") + cuis::sampler_name(s), 1, b);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::vector<unsigned char> bytes = sealed(data + 1, size - 1);
  auto fits = [](const cuis::Checkpoint& c) {
    const int64_t n = cuis::param_count(c.shape);
    return c.params.size() == static_cast<uint64_t>(n) &&
           c.state.size() == static_cast<uint64_t>(cuis::optimizer_state_count(c.optimizer.kind, n));
  };
  if (data[0] % 2 == 0) {
    cuis::Checkpoint c;
    if (cuis::detail::parse_network_image(bytes, "fuzz", &c) == Error::success && !fits(c)) __builtin_trap();
    return 0;
  }
  cuis::detail::TrainerFile f;
  if (cuis::detail::parse_trainer_file(bytes, "fuzz", &f) != Error::success) return 0;
  const cuis::TrainerCheckpoint& h = f.head;
  if (!fits(h.network) || (f.loop.has_predictor && !fits(f.loop.predictor))) __builtin_trap();
  if (cuis::detail::keeps_history(h.config) &&
      f.loop.history.size() != static_cast<uint64_t>(h.data.train_rows) * static_cast<uint64_t>(h.config.history))
    __builtin_trap();
  (void)cuis::detail::check_resumable("fuzz", h, h.config, h.data);  // an error or success, never a crash
  return 0;
}
