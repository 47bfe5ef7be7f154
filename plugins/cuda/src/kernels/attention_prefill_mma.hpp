// The tensor-core prefill attention (attention_prefill_mma.cu), chosen by
// launch_attention_prefill when it applies.
#pragma once

#include <cuda_runtime.h>

#include "launch.hpp"

namespace tessera::cuda {

// Whether the kernel takes this shape (head_dim a multiple of 16, <= 128).
bool attention_prefill_mma_fits(const AttentionArgs& a);

// Enqueues it. cudaErrorNotSupported (nothing enqueued, no error left
// pending) when the device lacks the shared memory it needs.
cudaError_t launch_attention_prefill_mma(const AttentionArgs& a, cudaStream_t stream);

}  // namespace tessera::cuda
