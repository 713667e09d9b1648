// cuis-sample's draws, a chunk at a time, on the CPU reference or the GPU.
// Draw j of a call with replacement uses Philox counter opts.rng.offset + j
// and its weight (none or unbiased) depends only on the scores and that draw,
// so the chunk of draws [d, d + c) of a batch at offset O is the call of c
// draws at offset O + d (mod 2^64), bit for bit. Callers split only such batches.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cuis/sampler.h"

namespace cuis_cli {

class ChunkDrawer {
 public:
  virtual ~ChunkDrawer() = default;
  // count (<= the chunk size it was made for) draws using Philox counters from
  // offset on, into idx and w; false with a one-line *error.
  virtual bool draw(int64_t count, uint64_t offset, int64_t* idx, float* w, std::string* error) = 0;
};

// cuis::ref::sample() over scores (which must outlive the drawer); path names
// the file in messages about its scores.
std::unique_ptr<ChunkDrawer> make_cpu_drawer(const std::vector<float>& scores, const cuis::SampleOptions& opts,
                                             const std::string& path);

// cuis::sample() on the current GPU, the scores uploaded once and buffers for
// chunk draws; false with *error when CUDA fails.
bool make_cuda_drawer(const std::vector<float>& scores, const cuis::SampleOptions& opts, const std::string& path,
                      int64_t chunk, std::unique_ptr<ChunkDrawer>* drawer, std::string* error);

// Whether a CUDA device is usable.
bool gpu_present();

}  // namespace cuis_cli
