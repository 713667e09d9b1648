// The trainer checkpoint on the CPU engine: one file that can be copied and
// resumed, its embedded network image in the network checkpoint's format,
// damaged files and runs with other settings or data refused with the trainer
// untouched, and an impossible network refused as out_of_memory.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "checkpoint_files.h"
#include "common/temp_path.h"
#include "common/train_data.h"
#include "cuis/nn/checkpoint.h"
#include "cuis/trainer.h"
#include "nn/checkpoint_image.h"
#include "train/trainer_state.h"

namespace {

using cuis::Error;
using cuis::SamplerKind;
using cuis_test::file_bytes;
using cuis_test::write_bytes;

const cuis::DataSplit& data() { return cuis_test::trainer_data(); }

std::unique_ptr<cuis::Trainer> make(const cuis::TrainConfig& c, const cuis::DataSplit& d = data()) {
  std::unique_ptr<cuis::Trainer> t;
  EXPECT_EQ(cuis::make_cpu_trainer(c, &d, &t), Error::success) << cuis::last_error_message();
  return t;
}

std::string temp(const std::string& name) { return cuis_test::temp_path(name); }

// A trainer's whole state, as the bytes of the file it saves.
std::vector<char> state_of(cuis::Trainer& t) {
  const std::string path = temp("state");
  EXPECT_EQ(t.save(path), Error::success) << cuis::last_error_message();
  std::vector<char> b = file_bytes(path);
  std::remove(path.c_str());
  return b;
}

// A file saved after `steps` steps of config c.
void save_after(const cuis::TrainConfig& c, int steps, const std::string& path) {
  auto t = make(c);
  for (int i = 0; i < steps; ++i) ASSERT_EQ(t->step(), Error::success);
  ASSERT_EQ(t->save(path), Error::success) << cuis::last_error_message();
}

TEST(TrainerCheckpoint, OneFileThatCanBeCopiedAndResumed) {
  const cuis::TrainConfig c = cuis_test::small_config(SamplerKind::predicted);
  const std::string path = temp("one"), copy = temp("one_copied");
  auto original = make(c);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(original->step(), Error::success);
  original->set_train_seconds(12.5);
  ASSERT_EQ(original->save(path), Error::success) << cuis::last_error_message();
  for (const char* side : {".trainer", ".trainer.predictor", ".predictor"})
    EXPECT_FALSE(cuis_test::file_exists(path + side)) << side;

  cuis::TrainerCheckpoint ck;
  ASSERT_EQ(cuis::read_trainer_checkpoint(path, &ck), Error::success) << cuis::last_error_message();
  cuis::ConfigDifference d;
  ASSERT_EQ(cuis::compare_configs(ck.config, c, &d), Error::success);
  EXPECT_EQ(d.field, "");
  cuis::DataIdentity id;
  ASSERT_EQ(cuis::data_identity(data(), &id), Error::success);
  EXPECT_EQ(ck.data.checksum, id.checksum);
  EXPECT_EQ(ck.data.train_rows, 1000);
  EXPECT_EQ(ck.data.test_rows, 200);
  EXPECT_EQ(ck.data.train_name, "synthetic (train)");
  EXPECT_EQ(ck.engine, "cpu");
  EXPECT_EQ(ck.train_seconds, 12.5);
  EXPECT_EQ(ck.stats.step, 5u);
  EXPECT_EQ(ck.network.step, 5u);

  // Moved to another path, it resumes the run: the same state as the original's.
  write_bytes(copy, file_bytes(path));
  std::remove(path.c_str());
  auto resumed = make(c);
  ASSERT_EQ(resumed->load(copy), Error::success) << cuis::last_error_message();
  EXPECT_EQ(resumed->train_seconds(), 12.5);
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(original->step(), Error::success);
    ASSERT_EQ(resumed->step(), Error::success);
  }
  EXPECT_EQ(state_of(*original), state_of(*resumed));
  std::remove(copy.c_str());
}

// The embedded network is a complete network checkpoint: the bytes
// write_checkpoint writes, read back as read_checkpoint reads them.
// read_checkpoint reads network checkpoints only, not trainer files.
TEST(TrainerCheckpoint, NetworkImageIsTheNetworkCheckpointFormat) {
  const std::string path = temp("image"), plain = temp("image_plain");
  save_after(cuis_test::small_config(SamplerKind::loss), 3, path);
  cuis::TrainerCheckpoint ck;
  ASSERT_EQ(cuis::read_trainer_checkpoint(path, &ck), Error::success);
  ASSERT_EQ(cuis::write_checkpoint(plain, ck.network), Error::success);
  std::vector<unsigned char> image;
  ASSERT_EQ(cuis::detail::network_image(ck.network, &image), Error::success);
  const std::vector<char> written = file_bytes(plain);
  EXPECT_EQ(std::vector<char>(image.begin(), image.end()), written);
  cuis::Checkpoint a, b;
  ASSERT_EQ(cuis::read_checkpoint(plain, &a), Error::success);
  ASSERT_EQ(cuis::detail::parse_network_image(std::vector<unsigned char>(written.begin(), written.end()), "x", &b),
            Error::success);
  EXPECT_EQ(a.shape.sizes, b.shape.sizes);
  EXPECT_EQ(a.step, b.step);
  EXPECT_EQ(a.params, b.params);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.optimizer.lr, b.optimizer.lr);

  cuis::Checkpoint none;
  EXPECT_EQ(cuis::read_checkpoint(path, &none), Error::corrupt_checkpoint);
  // A plain network checkpoint is not a run to continue, and says so.
  auto t = make(cuis_test::small_config(SamplerKind::loss));
  const std::vector<char> before = state_of(*t);
  EXPECT_EQ(t->load(plain), Error::corrupt_checkpoint);
  EXPECT_NE(cuis::last_error_message().find("a network checkpoint"), std::string::npos) << cuis::last_error_message();
  EXPECT_EQ(state_of(*t), before);
  std::remove(path.c_str());
  std::remove(plain.c_str());
}

TEST(TrainerCheckpoint, DamagedFilesChangeNothing) {
  const cuis::TrainConfig c = cuis_test::small_config(SamplerKind::predicted);
  const std::string good = temp("good"), bad = temp("bad");
  save_after(c, 4, good);
  const std::vector<char> bytes = file_bytes(good);
  auto victim = make(c);
  for (int i = 0; i < 2; ++i) ASSERT_EQ(victim->step(), Error::success);
  victim->set_train_seconds(3.0);
  const std::vector<char> before = state_of(*victim);
  auto expect_refused = [&](const std::vector<char>& b, const std::string& what) {
    write_bytes(bad, b);
    EXPECT_EQ(victim->load(bad), Error::corrupt_checkpoint) << what << ": " << cuis::last_error_message();
    EXPECT_FALSE(cuis::last_error_message().empty()) << what;
    cuis::TrainerCheckpoint ck;
    EXPECT_EQ(cuis::read_trainer_checkpoint(bad, &ck), Error::corrupt_checkpoint) << what;
    EXPECT_EQ(victim->train_seconds(), 3.0) << what;
    EXPECT_EQ(state_of(*victim), before) << what;
  };
  for (size_t cut : {size_t{0}, size_t{5}, size_t{12}, size_t{20}, bytes.size() / 2, bytes.size() - 1})
    expect_refused(std::vector<char>(bytes.begin(), bytes.begin() + cut), "truncated at " + std::to_string(cut));
  for (size_t at : {size_t{14}, size_t{40}, bytes.size() / 3, bytes.size() / 2, bytes.size() - 20}) {
    std::vector<char> b = bytes;
    b[at] ^= 0x10;
    expect_refused(b, "flipped bit at " + std::to_string(at));
  }
  std::vector<char> b = bytes;
  b[0] = 'X';
  expect_refused(b, "bad magic");
  b = bytes;
  b[8] = 9;
  cuis_test::reseal(&b);
  expect_refused(b, "unknown version");
  b = bytes;
  b.insert(b.end() - 8, 0);
  cuis_test::reseal(&b);
  expect_refused(b, "trailing byte");
  b = bytes;
  const uint64_t huge = uint64_t{1} << 40;  // the engine name's length
  std::memcpy(b.data() + 20, &huge, 8);
  cuis_test::reseal(&b);
  expect_refused(b, "lying length");
  b = bytes;
  const int32_t loss = 1;  // the sampler, after "cpu": a loss run cannot hold a predictor
  std::memcpy(b.data() + 31, &loss, 4);
  cuis_test::reseal(&b);
  expect_refused(b, "inconsistent sampler");
  std::remove(good.c_str());
  std::remove(bad.c_str());
}

// The settings and sizes a file stores are checked before anything is derived
// from them (found by the checkpoint fuzz target: a stored history of 2^30
// overflowed the loss predictor's input width).
TEST(TrainerCheckpoint, StoredSettingsAreCheckedBeforeUse) {
  const cuis::TrainConfig c = cuis_test::small_config(SamplerKind::predicted);
  const std::string good = temp("stored_good"), bad = temp("stored_bad");
  save_after(c, 2, good);
  cuis::detail::TrainerFile f;
  ASSERT_EQ(cuis::detail::read_trainer_file(good, &f), Error::success) << cuis::last_error_message();
  for (int which = 0; which < 3; ++which) {
    cuis::detail::TrainerFile g = f;
    if (which == 0) g.head.config.history = 1 << 30;
    if (which == 1) g.head.data.classes = 1 << 30;
    if (which == 2) g.head.config.batch = 0;
    ASSERT_EQ(cuis::detail::write_trainer_file(bad, g), Error::success);
    cuis::TrainerCheckpoint ck;
    EXPECT_EQ(cuis::read_trainer_checkpoint(bad, &ck), Error::corrupt_checkpoint) << which;
    EXPECT_NE(cuis::last_error_message().find(which == 1 ? "invalid data sizes" : "invalid configuration"),
              std::string::npos)
        << which << ": " << cuis::last_error_message();
  }
  std::remove(good.c_str());
  std::remove(bad.c_str());
}

// Every setting that changes the run is refused by name, with the trainer
// untouched; settings that do not change it may differ.
TEST(TrainerCheckpoint, RefusesEachSettingThatChangesTheRun) {
  const std::string path = temp("settings");
  const cuis::TrainConfig base = cuis_test::small_config(SamplerKind::predicted);
  save_after(base, 3, path);
  struct Case {
    const char* field;
    void (*change)(cuis::TrainConfig*);
  };
  const Case cases[] = {
      {"sampler", [](cuis::TrainConfig* c) { c->sampler = SamplerKind::loss; }},
      {"batch", [](cuis::TrainConfig* c) { c->batch = 16; }},
      {"seed", [](cuis::TrainConfig* c) { c->seed = 10; }},
      {"hidden",
       [](cuis::TrainConfig* c) {
         c->hidden = {16, 16};
       }},
      {"activation", [](cuis::TrainConfig* c) { c->activation = cuis::Activation::tanh; }},
      {"optimizer.kind", [](cuis::TrainConfig* c) { c->optimizer.kind = cuis::OptimizerKind::sgd; }},
      {"optimizer.lr", [](cuis::TrainConfig* c) { c->optimizer.lr = 0.01f; }},
      {"optimizer.weight_decay", [](cuis::TrainConfig* c) { c->optimizer.weight_decay = 0.1f; }},
      {"optimizer.beta2", [](cuis::TrainConfig* c) { c->optimizer.beta2 = 0.99f; }},
      {"math", [](cuis::TrainConfig* c) { c->math = cuis::Math::tf32; }},
      {"k", [](cuis::TrainConfig* c) { c->k = 1.0f; }},
      {"smooth", [](cuis::TrainConfig* c) { c->smooth = 0.5f; }},
      {"adaptive_smooth", [](cuis::TrainConfig* c) { c->adaptive_smooth = 0.0f; }},
      {"power", [](cuis::TrainConfig* c) { c->power = 0.5f; }},
      {"presample", [](cuis::TrainConfig* c) { c->presample = cuis::PRESAMPLE_ALL; }},
      {"warmup", [](cuis::TrainConfig* c) { c->warmup = 0; }},
      {"tau_th", [](cuis::TrainConfig* c) { c->tau_th = 2.0f; }},
      {"history", [](cuis::TrainConfig* c) { c->history = 5; }},
      {"predictor_hidden", [](cuis::TrainConfig* c) { c->predictor_hidden = {4}; }},
      {"predictor_log", [](cuis::TrainConfig* c) { c->predictor_log = true; }},
  };
  for (const Case& k : cases) {
    cuis::TrainConfig c = base;
    k.change(&c);
    auto t = make(c);
    ASSERT_TRUE(t) << k.field;
    const std::vector<char> before = state_of(*t);
    EXPECT_EQ(t->load(path), Error::shape_mismatch) << k.field;
    const std::string msg = cuis::last_error_message(), f = k.field;
    EXPECT_NE(msg.find("written with " + f + " "), std::string::npos) << msg;
    EXPECT_NE(msg.find("asks for " + f + " "), std::string::npos) << msg;
    EXPECT_EQ(state_of(*t), before) << k.field;
  }
  // What changes no result: the CUDA graph switch, SGD's momentum under Adam.
  cuis::TrainConfig same = base;
  same.cuda_graph = false;
  same.optimizer.momentum = 0.5f;
  auto t = make(same);
  EXPECT_EQ(t->load(path), Error::success) << cuis::last_error_message();
  // The uniform sampler uses no candidate or predictor setting.
  cuis::TrainConfig uniform = cuis_test::small_config(SamplerKind::uniform);
  save_after(uniform, 2, path);
  uniform.presample = 500;
  uniform.k = 1.0f;
  uniform.history = 7;
  auto u = make(uniform);
  EXPECT_EQ(u->load(path), Error::success) << cuis::last_error_message();
  std::remove(path.c_str());
}

TEST(TrainerCheckpoint, RefusesOtherData) {
  const std::string path = temp("data");
  const cuis::TrainConfig c = cuis_test::small_config(SamplerKind::loss);
  save_after(c, 2, path);
  static const cuis::DataSplit same_sizes = cuis::synthetic_data(1000, 200, 12, 4, 4);
  static const cuis::DataSplit more_rows = cuis::synthetic_data(1200, 200, 12, 4, 3);
  for (const cuis::DataSplit* d : {&same_sizes, &more_rows}) {
    auto t = make(c, *d);
    const std::vector<char> before = state_of(*t);
    EXPECT_EQ(t->load(path), Error::shape_mismatch);
    EXPECT_NE(cuis::last_error_message().find("written on other data"), std::string::npos)
        << cuis::last_error_message();
    EXPECT_EQ(state_of(*t), before);
  }
  std::remove(path.c_str());
}

TEST(TrainerCheckpoint, CompareConfigsSaysWhatDiffers) {
  cuis::TrainConfig a = cuis_test::small_config(SamplerKind::loss), b = a;
  cuis::ConfigDifference d;
  b.presample = cuis::PRESAMPLE_ALL;
  ASSERT_EQ(cuis::compare_configs(a, b, &d), Error::success);
  EXPECT_EQ(d.field, "presample");
  EXPECT_EQ(d.saved, "100");
  EXPECT_EQ(d.asked, "all");
  b = a;
  b.hidden = {16, 8};
  b.optimizer.lr = 0.01f;  // the first difference is reported
  ASSERT_EQ(cuis::compare_configs(a, b, &d), Error::success);
  EXPECT_EQ(d.field, "hidden");
  EXPECT_EQ(d.saved, "16");
  EXPECT_EQ(d.asked, "16,8");
  b = a;
  b.optimizer.lr = 0.01f;
  ASSERT_EQ(cuis::compare_configs(a, b, &d), Error::success);
  EXPECT_EQ(d.field, "optimizer.lr");
  EXPECT_EQ(d.saved, "0.001");
  EXPECT_EQ(d.asked, "0.01");
  ASSERT_EQ(cuis::compare_configs(a, a, &d), Error::success);
  EXPECT_EQ(d.field, "");
}

// A network no machine holds: out_of_memory with a message, not an exception.
TEST(TrainerMemory, ImpossibleNetworkIsOutOfMemory) {
  cuis::TrainConfig c = cuis_test::small_config(SamplerKind::uniform);
  c.hidden = {1 << 20, 1 << 20};
  std::unique_ptr<cuis::Trainer> t;
  Error e = Error::success;
  EXPECT_NO_THROW(e = cuis::make_cpu_trainer(c, &data(), &t));
  EXPECT_EQ(e, Error::out_of_memory);
  EXPECT_NE(cuis::last_error_message().find("memory"), std::string::npos) << cuis::last_error_message();
  EXPECT_FALSE(t);
}

}  // namespace
