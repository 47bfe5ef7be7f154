// SILU, SWIGLU and SCALE share this kernel: dst[r, i] = f(x[r, i], y[r, i]).
#pragma once

#include "common.cuh"
#include "launch.hpp"

namespace tessera::cuda {

template <class F>
__global__ void rowwise(UnaryArgs a, F f) {
  const int64_t total = a.k * a.n_rows;
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = e / a.k, i = e % a.k;
    const float x = reinterpret_cast<const float*>(a.x + a.x_rows.offset(r))[i];
    const float y = a.y != nullptr ? reinterpret_cast<const float*>(a.y + a.y_rows.offset(r))[i] : 0.0f;
    reinterpret_cast<float*>(a.dst + a.dst_rows.offset(r))[i] = f(x, y, a.scale);
  }
}

template <class F>
cudaError_t launch_rowwise(const UnaryArgs& a, cudaStream_t stream, F f) {
  const int64_t total = a.k * a.n_rows;
  if (total == 0) return cudaSuccess;
  rowwise<<<grid_1d(total, 256), 256, 0, stream>>>(a, f);
  return cudaGetLastError();
}

// x * sigmoid(x) with IEEE expf (not __expf), as the reference does.
__device__ __forceinline__ float silu(float x) { return x / (1.0f + expf(-x)); }

}  // namespace tessera::cuda
