// What the simulated runtime shares with its cuBLAS: the stream queue.
#pragma once

#include <driver_types.h>

#include <functional>

namespace cuda_sim {

// A unit of stream work (a kernel, a copy, a GEMM); returns its status.
using Work = std::function<cudaError_t()>;

int device_count();

// Runs `work` now, or appends it to the stream's capture.
cudaError_t enqueue(cudaStream_t stream, Work work);

}  // namespace cuda_sim
