// COPY: dst = convert(src), elements matched in logical order (ne[0]
// fastest, like a reshape). F32/F16 -> F32/F16 one element per thread
// (four F32 when both sides are dense and aligned);
// -> Q8_0 one 32-value block per thread with the SDK reference rounding
// (d = amax / 127 stored as f16, q = round-half-away(x / d)). The
// destination offset comes from device memory (NodeDyn), so the KV slot can
// move every decode step without invalidating a captured CUDA graph.
#include "common.cuh"
#include "launch.hpp"

namespace tessera::cuda {
namespace {

__device__ __forceinline__ uint64_t byte_offset(int64_t flat, const int64_t ne[4], const uint64_t nb[4]) {
  uint64_t off = 0;
  for (int j = 0; j < 4; ++j) {
    off += static_cast<uint64_t>(flat % ne[j]) * nb[j];
    flat /= ne[j];
  }
  return off;
}

__device__ __forceinline__ float load(const uint8_t* p, int32_t dtype) {
  return dtype == TESSERA_DTYPE_F16 ? half_bits_to_float(*reinterpret_cast<const uint16_t*>(p))
                                    : *reinterpret_cast<const float*>(p);
}

__global__ void copy_elements(CopyArgs a) {
  uint8_t* dst = a.dst_buffer + a.dyn->dst_offset;
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < a.n;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float v = load(a.src + byte_offset(e, a.src_ne, a.src_nb), a.src_dtype);
    uint8_t* out = dst + byte_offset(e, a.dst_ne, a.dst_nb);
    if (a.dst_dtype == TESSERA_DTYPE_F16)
      *reinterpret_cast<uint16_t*>(out) = float_to_half_bits(v);
    else
      *reinterpret_cast<float*>(out) = v;
  }
}

// Both sides dense in logical order (the KV cache writes and the bandwidth
// test): element e is at e * size on each side, so no per-element index
// arithmetic (copy_elements' 64-bit div/mod would make this compute-bound).
// F32 -> F32 moves 16 bytes per thread when both ends are 16-byte aligned.
__global__ void copy_dense(CopyArgs a) {
  uint8_t* dst = a.dst_buffer + a.dyn->dst_offset;
  const int64_t first = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  int64_t e = first;
  if (a.src_dtype == TESSERA_DTYPE_F32 && a.dst_dtype == TESSERA_DTYPE_F32 &&
      ((reinterpret_cast<uintptr_t>(a.src) | reinterpret_cast<uintptr_t>(dst)) & 15) == 0) {
    const auto* src4 = reinterpret_cast<const float4*>(a.src);
    auto* dst4 = reinterpret_cast<float4*>(dst);
    const int64_t n4 = a.n / 4;
    for (int64_t i = first; i < n4; i += stride) dst4[i] = src4[i];
    e = n4 * 4 + first;  // the last n % 4 elements, one by one below
  }
  const int src_size = a.src_dtype == TESSERA_DTYPE_F16 ? 2 : 4, dst_size = a.dst_dtype == TESSERA_DTYPE_F16 ? 2 : 4;
  for (; e < a.n; e += stride) {
    const float v = load(a.src + e * src_size, a.src_dtype);
    if (dst_size == 2)
      *reinterpret_cast<uint16_t*>(dst + e * 2) = float_to_half_bits(v);
    else
      *reinterpret_cast<float*>(dst + e * 4) = v;
  }
}

// Q8_0 destination: dst_nb[0] is the 34-byte block, dst_ne[0] a multiple of 32.
__global__ void copy_to_q8_0(CopyArgs a) {
  uint8_t* dst = a.dst_buffer + a.dyn->dst_offset;
  const int64_t blocks = a.n / 32, blocks_per_row = a.dst_ne[0] / 32;
  for (int64_t b = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; b < blocks;
       b += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float x[32];
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) {
      x[j] = load(a.src + byte_offset(b * 32 + j, a.src_ne, a.src_nb), a.src_dtype);
      amax = fmaxf(amax, fabsf(x[j]));
    }
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    // The block's address: its row (dims 1..3) and its index in the row.
    const int64_t row = b / blocks_per_row, in_row = b % blocks_per_row;
    const int64_t i1 = row % a.dst_ne[1], i2 = (row / a.dst_ne[1]) % a.dst_ne[2], i3 = row / (a.dst_ne[1] * a.dst_ne[2]);
    uint8_t* out = dst + static_cast<uint64_t>(in_row) * a.dst_nb[0] + static_cast<uint64_t>(i1) * a.dst_nb[1] +
                   static_cast<uint64_t>(i2) * a.dst_nb[2] + static_cast<uint64_t>(i3) * a.dst_nb[3];
    const uint16_t dh = float_to_half_bits(d);
    out[0] = static_cast<uint8_t>(dh & 0xFF);
    out[1] = static_cast<uint8_t>(dh >> 8);
    for (int j = 0; j < 32; ++j) out[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(roundf(x[j] * id)));
  }
}

bool dense(const int64_t ne[4], const uint64_t nb[4], uint64_t element_size) {
  uint64_t stride = element_size;
  for (int j = 0; j < 4; ++j) {
    if (ne[j] > 1 && nb[j] != stride) return false;
    stride *= static_cast<uint64_t>(ne[j]);
  }
  return true;
}

}  // namespace

cudaError_t launch_copy(const CopyArgs& a, cudaStream_t stream) {
  if (a.n == 0) return cudaSuccess;
  if (a.dst_dtype == TESSERA_DTYPE_Q8_0)
    copy_to_q8_0<<<grid_1d(a.n / 32, 128), 128, 0, stream>>>(a);
  else if (dense(a.src_ne, a.src_nb, a.src_dtype == TESSERA_DTYPE_F16 ? 2 : 4) &&
           dense(a.dst_ne, a.dst_nb, a.dst_dtype == TESSERA_DTYPE_F16 ? 2 : 4))
    copy_dense<<<grid_1d(a.n, 256), 256, 0, stream>>>(a);
  else
    copy_elements<<<grid_1d(a.n, 256), 256, 0, stream>>>(a);
  return cudaGetLastError();
}

}  // namespace tessera::cuda
