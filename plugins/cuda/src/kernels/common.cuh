// Device helpers shared by the kernels: reductions, half conversion, KV
// cache element access, and the launch-error convention.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "tessera/types.h"

namespace tessera::cuda {

constexpr int kWarp = 32;

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = kWarp / 2; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
  for (int o = kWarp / 2; o > 0; o /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum over the block (blockDim.x a multiple of 32, <= 1024); every thread gets it.
// `scratch` holds 32 floats of shared memory.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp, warps = blockDim.x / kWarp;
  v = warp_sum(v);
  __syncthreads();  // scratch may still be read from a previous call
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < warps ? scratch[lane] : 0.0f;
  return warp_sum(v);
}

__device__ __forceinline__ float block_max(float v, float* scratch) {
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp, warps = blockDim.x / kWarp;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < warps ? scratch[lane] : -INFINITY;
  return warp_max(v);
}

__device__ __forceinline__ float half_bits_to_float(uint16_t h) { return __half2float(__ushort_as_half(h)); }
__device__ __forceinline__ uint16_t float_to_half_bits(float f) { return __half_as_ushort(__float2half_rn(f)); }

// Element d of one cache row (one KV head at one position) of type KV.
template <int KV>
__device__ __forceinline__ float kv_element(const uint8_t* row, int64_t d) {
  if constexpr (KV == TESSERA_DTYPE_F32) {
    return reinterpret_cast<const float*>(row)[d];
  } else if constexpr (KV == TESSERA_DTYPE_F16) {
    return half_bits_to_float(reinterpret_cast<const uint16_t*>(row)[d]);
  } else {  // Q8_0: 34-byte blocks of an f16 scale and 32 int8 values
    const uint8_t* block = row + (d / 32) * 34;
    const uint16_t scale = static_cast<uint16_t>(block[0] | (block[1] << 8));
    return half_bits_to_float(scale) * static_cast<float>(static_cast<int8_t>(block[2 + d % 32]));
  }
}

inline unsigned grid_1d(int64_t n, int threads, int64_t cap = 65535ll * 16) {
  int64_t blocks = (n + threads - 1) / threads;
  if (blocks < 1) blocks = 1;
  if (blocks > cap) blocks = cap;  // kernels loop (grid-stride) past this
  return static_cast<unsigned>(blocks);
}

}  // namespace tessera::cuda
