// cuis-sample's command line (CLI11): the flags, their defaults and checks.
#pragma once

#include <cstdint>
#include <string>

#include "cuis/sampler.h"

namespace cuis_cli {

// The most draws of one call (cuis::SampleArgs::num_draws: 1 .. 2^31 - 1).
constexpr int64_t MAX_DRAWS = (int64_t{1} << 31) - 1;
// Biased weights (--k) with replacement are rescaled over the whole batch, so
// that batch is drawn at once (about 52 bytes per draw): at most this many.
constexpr int64_t MAX_BIASED_DRAWS = int64_t{1} << 24;
// Draws held in memory at once when --chunk is auto: the number of scores,
// kept within [CHUNK_MIN, CHUNK_MAX] (about 28 bytes per draw on the CPU).
constexpr int64_t CHUNK_MIN = int64_t{1} << 20;
constexpr int64_t CHUNK_MAX = int64_t{1} << 24;

struct SampleFlags {
  std::string weights;
  std::string device = "auto";  // auto, cpu or cuda
  int64_t count = 0;
  int64_t chunk = 0;         // 0: auto
  cuis::SampleOptions opts;  // replacement, power, smooth, weighting, k, rng
};

// Prints "cuis-sample: error: MESSAGE" as one line on stderr; returns code.
int sample_error(int code, const std::string& message);

// Parses argv into *flags. Returns -1 to go on, else the exit status to
// return at once: 0 after printing --help, 2 after printing a one-line error.
int parse_sample_flags(int argc, char** argv, SampleFlags* flags);

// Draws per chunk for a batch over n scores: the whole batch where it cannot
// be split (biased weights, without replacement), else --chunk or the default.
int64_t chunk_size(const SampleFlags& flags, int64_t n);

}  // namespace cuis_cli
