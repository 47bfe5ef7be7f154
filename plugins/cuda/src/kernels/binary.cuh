// MUL and ADD share this kernel: dst = f(a, b) element-wise, b repeated
// over a where its sizes are smaller (the CPU plugin's broadcast rule).
#pragma once

#include "common.cuh"
#include "launch.hpp"

namespace tessera::cuda {

template <class F>
__global__ void broadcast_binary(BinaryArgs a, F f) {
  const int64_t total = a.k * a.n_rows;
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = e / a.k, i = e % a.k;
    const int64_t i1 = r % a.a_rows.ne1, i2 = (r / a.a_rows.ne1) % a.a_rows.ne2, i3 = r / (a.a_rows.ne1 * a.a_rows.ne2);
    const float x = reinterpret_cast<const float*>(a.a + a.a_rows.offset(r))[i];
    const uint64_t b_off = static_cast<uint64_t>(i % a.b_ne[0]) * a.b_nb[0] +
                           static_cast<uint64_t>(i1 % a.b_ne[1]) * a.b_nb[1] +
                           static_cast<uint64_t>(i2 % a.b_ne[2]) * a.b_nb[2] +
                           static_cast<uint64_t>(i3 % a.b_ne[3]) * a.b_nb[3];
    const float y = *reinterpret_cast<const float*>(a.b + b_off);
    reinterpret_cast<float*>(a.dst + a.dst_rows.offset(r))[i] = f(x, y);
  }
}

template <class F>
cudaError_t launch_broadcast_binary(const BinaryArgs& a, cudaStream_t stream, F f) {
  const int64_t total = a.k * a.n_rows;
  if (total == 0) return cudaSuccess;
  broadcast_binary<<<grid_1d(total, 256), 256, 0, stream>>>(a, f);
  return cudaGetLastError();
}

}  // namespace tessera::cuda
