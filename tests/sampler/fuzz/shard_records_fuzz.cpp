// libFuzzer target for sharded sampling's gathered records (cuis/sharded.h):
// the records are the caller's input to shard_sample, R of them gathered from
// the ranks, and a caller may pass a wrong buffer. The first byte chooses R
// (1..4) and the mode, the second this rank, the third the draws per rank;
// the rest are the R 80-byte records (zero-filled when short). This rank's
// own shard is 8 scores at global rows 8 rank .. 8 rank + 7, N = 8 R. Run
// through the CPU reference (the same shard_plan.h arithmetic the device
// runs): whatever the records hold, the call returns; on success the outputs
// hold what the API promises (count <= capacity, this shard's rows or -1,
// finite weights >= 0). LLVMFuzzerInitialize writes consistent records of
// every R and mode into $CUIS_FUZZ_SEEDS. Run by ctest (fuzz_shard_records)
// through tests/common/run_fuzz.sh.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "cuis/sampler/shard_reference.h"

namespace {

using cuis::Error;

const float SCORES[8] = {0.5f, 1.0f, 0.0f, 2.0f, 3.5f, 0.25f, 1.0f, 8.0f};

struct Setup {
  cuis::ShardInfo info;
  cuis::SampleOptions opts;
  int64_t draws = 1;
};

Setup setup(uint8_t b0, uint8_t b1, uint8_t b2) {
  Setup s;
  s.info.ranks = 1 + (b0 & 3);
  s.info.mode = (b0 >> 2) & 1 ? cuis::ShardMode::global : cuis::ShardMode::stratified;
  s.info.rank = b1 % s.info.ranks;
  s.info.num_samples = 8 * int64_t{s.info.ranks};
  s.draws = 1 + b2 % 8;
  s.opts.weighting = (b0 >> 3) & 1 ? cuis::Weighting::biased : cuis::Weighting::unbiased;
  s.opts.k = 0.5f;
  s.opts.rng = cuis::RngState{7, 3};
  return s;
}

// This rank's call; false when it (rightly) failed.
bool run(const Setup& s, int rank, const cuis::ShardRecord* records, cuis::ShardRecord* own, bool check) {
  const int64_t capacity = cuis::shard_capacity(s.info, s.draws);
  std::vector<int64_t> indices(static_cast<size_t>(capacity), -5);
  std::vector<float> weights(static_cast<size_t>(capacity), -5.0f);
  std::vector<double> work(cuis::ref::shard_work_doubles(s.info, s.draws) + 1);
  int64_t count = -5;
  cuis::DeviceStatus status{};
  cuis::ShardInfo info = s.info;
  info.rank = rank;
  cuis::ShardArgs a;
  a.scores = SCORES;
  a.n = 8;
  a.shard_offset = 8 * int64_t{rank};
  a.num_draws = s.draws;
  a.indices = indices.data();
  a.weights = weights.data();
  a.count = &count;
  a.status = &status;
  if (own) return cuis::ref::shard_record(a, info, s.opts, own) == Error::success;
  cuis::ShardTerms terms{};
  if (cuis::ref::shard_sample(a, info, s.opts, records, &terms, work.data()) != Error::success ||
      status.code != Error::success)
    return false;
  if (!check) return true;
  if (count < 0 || count > capacity) __builtin_trap();
  for (int64_t j = 0; j < capacity; ++j) {
    const bool filled = j < count;
    if (filled && (indices[j] < a.shard_offset || indices[j] >= a.shard_offset + 8)) __builtin_trap();
    if (!filled && indices[j] != -1) __builtin_trap();
    if (!std::isfinite(weights[j]) || weights[j] < 0.0f) __builtin_trap();
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* dir = std::getenv("CUIS_FUZZ_SEEDS");
  if (!dir) return 0;
  for (int b0 = 0; b0 < 16; ++b0) {
    const Setup s = setup(static_cast<uint8_t>(b0), 0, 3);
    std::vector<cuis::ShardRecord> recs(static_cast<size_t>(s.info.ranks));
    for (int r = 0; r < s.info.ranks; ++r)
      if (!run(s, r, nullptr, &recs[static_cast<size_t>(r)], false)) std::abort();
    if (!run(s, 0, recs.data(), nullptr, false)) std::abort();  // a seed must draw
    std::ofstream out(std::string(dir) + "/records-" + std::to_string(b0), std::ios::binary);
    const char head[3] = {static_cast<char>(b0), 0, 3};
    out.write(head, 3);
    out.write(reinterpret_cast<const char*>(recs.data()), static_cast<std::streamsize>(recs.size() * 80));
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const Setup s = setup(data[0], data[1], data[2]);
  std::vector<cuis::ShardRecord> recs(static_cast<size_t>(s.info.ranks));
  std::memcpy(recs.data(), data + 3, std::min(size - 3, recs.size() * sizeof(cuis::ShardRecord)));
  run(s, s.info.rank, recs.data(), nullptr, true);
  return 0;
}
