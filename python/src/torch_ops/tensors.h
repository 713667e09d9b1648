// cuis's PyTorch ops (libcuis_torch.so): torch tensors through the stable ABI
// (torch/csrc/stable, built for TORCH_TARGET_VERSION 2.10, so one binary loads
// in every torch from 2.10 on) described for intake.h's checks, new tensors
// from torch's caching allocator, and the current CUDA stream.
#pragma once

#include <cuda_runtime_api.h>
#include <torch/csrc/stable/device.h>
#include <torch/csrc/stable/tensor.h>

#include <cstdint>
#include <initializer_list>
#include <vector>

#include "intake.h"

namespace cuis_python {

using Tensor = torch::stable::Tensor;

// The tensor as intake.h's checks see it (it points into `t`); throws for a
// sparse or other non-strided tensor, naming it `name`.
ArrayDesc describe_tensor(const Tensor& t, const char* name);

// intake.h's require on a tensor.
Place require(const Tensor& t, const char* name, std::initializer_list<Kind> allowed, const char* allowed_text,
              size_t dims);

// An uninitialised int64, float32, int32 or uint8 tensor of `count` elements at
// `where`, from torch's allocator (on CUDA: its caching allocator, ordered on the
// current stream). torch refusing it throws cuis's out_of_memory.
Tensor new_tensor(int64_t count, Kind kind, const Place& where);

// A float16 or bfloat16 tensor at `where` widened to float32 by torch (as
// Tensor.float() does, on the current stream); out_of_memory as new_tensor.
Tensor to_float32(const Tensor& t, const Place& where);

// The 32 bytes of a DeviceStatus of success (index -1), as the CPU calls return it.
Tensor success_status();

// Where a Device argument points: CPU, or a CUDA device (without an index:
// torch's current one). Throws for other device types; `api` names the op.
Place place_of(const torch::stable::Device& device, const char* api);

// PyTorch's current stream on CUDA device `device` (a torch with CUDA is loaded
// wherever a CUDA tensor exists).
cudaStream_t current_stream(int device);

}  // namespace cuis_python
