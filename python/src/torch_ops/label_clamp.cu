// cuis's PyTorch ops: int64 -> int32 labels on the device (label_clamp.h).
#include <string>

#include "errors.h"
#include "label_clamp.h"

namespace cuis_python {

namespace {

__global__ void clamp_labels_kernel(const int64_t* in, int32_t* out, int64_t rows, int32_t classes) {
  for (int64_t r = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; r < rows;
       r += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t y = in[r];
    out[r] = y < -1 ? -1 : (y > classes ? classes : static_cast<int32_t>(y));
  }
}

}  // namespace

void clamp_labels(const int64_t* in, int32_t* out, int64_t rows, int32_t classes, cudaStream_t stream) {
  constexpr int threads = 256;
  const int64_t wanted = (rows + threads - 1) / threads;
  const unsigned blocks = static_cast<unsigned>(wanted < 65535 ? wanted : 65535);
  clamp_labels_kernel<<<blocks, threads, 0, stream>>>(in, out, rows, classes);
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess)
    raise_error(cuis::Error::cuda_error,
                std::string("cross_entropy_scores: label conversion: ") + cudaGetErrorString(e));
}

}  // namespace cuis_python
