// The 32-ary search a warp uses to find a draw's tile: each step the 32 lanes
// probe 32 evenly spaced entries and a ballot narrows the range 32-fold. The
// arithmetic is here, apart from the ballot, so the CPU tests can run it lane
// by lane.
#pragma once

#include "cuis/core/hd.h"

namespace cuis {
namespace detail {

// Finds the first index in [0, count) whose entry is above r, given that
// entry count-1 is. Usage per step: while (!s.narrowing_done()) { ballot of
// (entry[s.probe(lane)] > r) over lanes; s.narrow(ballot); } then ballot of
// (s.final_valid(lane) && entry[s.final_probe(lane)] > r); s.result(ballot).
struct KarySearch {
  int64_t lo, hi;  // the answer is in [lo, hi) and entry[hi - 1] > r

  CUIS_HD explicit KarySearch(int64_t count) : lo(0), hi(count) {}
  CUIS_HD bool narrowing_done() const { return hi - lo <= 32; }
  CUIS_HD int64_t step() const { return (hi - lo + 31) / 32; }
  // Lane l probes the last index of the l-th of 32 slices; lane 31 probes hi - 1.
  CUIS_HD int64_t probe(int lane) const {
    const int64_t p = lo + (lane + 1) * step() - 1;
    return p < hi - 1 ? p : hi - 1;
  }
  // above: bit l set when entry[probe(l)] > r (bit 31 always is).
  CUIS_HD void narrow(unsigned above) {
    const int f = lowest_bit(above);  // the first slice whose last entry is above r
    const int64_t s = step();
    const int64_t new_hi = lo + (f + 1) * s < hi ? lo + (f + 1) * s : hi;
    lo += f * s;
    hi = new_hi;
  }
  CUIS_HD bool final_valid(int lane) const { return lo + lane < hi; }
  CUIS_HD int64_t final_probe(int lane) const { return lo + lane; }
  CUIS_HD int64_t result(unsigned above) const { return lo + lowest_bit(above); }

  CUIS_HD static int lowest_bit(unsigned x) {
#if defined(__CUDA_ARCH__)
    return __ffs(x) - 1;
#else
    return __builtin_ctz(x);
#endif
  }
};

}  // namespace detail
}  // namespace cuis
