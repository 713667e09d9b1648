// The GPU sampler tests' fixture: cuis::sample() into host vectors (outputs
// start as garbage, so that an output the call fails to write shows), and the
// comparison with the CPU reference (success, status and every index and weight
// bit for bit). Skips (with a message) where no GPU is present.
#pragma once

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/gpu_fixture.h"
#include "cuis/device_buffer.h"
#include "cuis/sampler.h"
#include "cuis/sampler/reference.h"
#include "sample_helpers.h"

namespace cuis_test {

using cuis::DeviceBuffer;
using cuis::Error;
using cuis::u128;
using cuis::Weighting;

class SamplerGpu : public Gpu {
 protected:
  // cuis::sample() into host vectors. `shift` offsets the scores by that many
  // floats inside a larger buffer (to test unaligned input).
  Drawn gpu_sample(const std::vector<float>& scores, int64_t draws, const cuis::SampleOptions& o,
                   const std::vector<int64_t>* ids = nullptr, int shift = 0) {
    Drawn out;
    out.status = unwritten_status();  // until read back from the device
    std::vector<float> padded(shift, 0.0f);
    padded.insert(padded.end(), scores.begin(), scores.end());
    DeviceBuffer<float> d_scores = upload(padded);
    DeviceBuffer<int64_t> d_ids;
    if (ids) d_ids = upload(*ids);
    DeviceBuffer<int64_t> d_idx;
    DeviceBuffer<float> d_w;
    DeviceBuffer<cuis::DeviceStatus> d_status;
    EXPECT_EQ(d_idx.resize(draws), Error::success);
    EXPECT_EQ(d_w.resize(draws), Error::success);
    EXPECT_EQ(d_status.resize(1), Error::success);
    size_t bytes = 0;
    const int64_t n = static_cast<int64_t>(scores.size());
    out.error = cuis::sample_workspace_size(n, draws, o, &bytes);
    if (out.error != Error::success) return out;
    DeviceBuffer<char> ws;
    EXPECT_EQ(ws.resize(bytes), Error::success);
    // Outputs start as garbage, so that an output the call fails to write
    // shows: 0xAB bytes, not 0xFF, as -1 is a failed draw's legitimate index.
    poison(d_idx, POISON_AB);
    poison(d_w, POISON_AB);
    poison(d_status, POISON_AB);
    cuis::SampleArgs a{d_scores.data() + shift, n, ids ? d_ids.data() : nullptr, draws, d_idx.data(), d_w.data(),
                       d_status.data()};
    out.error = cuis::sample(a, o, ws.data(), bytes, stream);
    if (out.error != Error::success) return out;
    EXPECT_EQ(cuis::read_status(d_status.data(), stream, &out.status), Error::success);
    out.indices.resize(draws);
    out.weights.resize(draws);
    EXPECT_EQ(cudaMemcpy(out.indices.data(), d_idx.data(), draws * 8, cudaMemcpyDeviceToHost), cudaSuccess);
    EXPECT_EQ(cudaMemcpy(out.weights.data(), d_w.data(), draws * 4, cudaMemcpyDeviceToHost), cudaSuccess);
    return out;
  }

  // A GPU run against the CPU reference's: both calls succeeded, the same
  // status (code, offending index, positive count), every index and weight bit
  // for bit (shared arithmetic, fixed order).
  static void expect_matches_reference(const Drawn& got, const Drawn& want, const std::string& what) {
    ASSERT_EQ(want.error, Error::success) << what << " (CPU reference)";
    ASSERT_EQ(got.error, Error::success) << what << ": " << cuis::last_error_message();
    EXPECT_EQ(got.status.code, want.status.code) << what;
    EXPECT_EQ(got.status.index, want.status.index) << what;
    EXPECT_EQ(got.status.positive_count, want.status.positive_count) << what;
    EXPECT_EQ(got.indices, want.indices) << what;
    EXPECT_EQ(got.weights, want.weights) << what;
  }

  void expect_same_as_reference(const std::vector<float>& s, int64_t draws, const cuis::SampleOptions& o,
                                const std::string& what, const std::vector<int64_t>* ids = nullptr, int shift = 0) {
    const Drawn want = ref_sample(s, draws, o, ids);
    const Drawn got = gpu_sample(s, draws, o, ids, shift);
    expect_matches_reference(got, want, what);
  }
};

}  // namespace cuis_test
