// The GEMM path's conversions: GGUF block-quantized weight rows into f16
// (one thread per 8-value chunk, decode.cuh, written as one 16-byte store)
// and f32 activations into f16 or bf16 for the tensor-core GEMM.
#include <cuda_bf16.h>

#include <cstdint>

#include "kernels/common.cuh"
#include "kernels/mul_mat/decode.cuh"
#include "kernels/mul_mat/internal.cuh"

namespace tessera::cuda::mm {
namespace {

constexpr int kThreads = 256;

template <class Block>
__global__ void __launch_bounds__(kThreads)
    dequantize_rows(const uint8_t* __restrict__ w, uint64_t row_bytes, int64_t k, int64_t rows, uint4* __restrict__ out) {
  using D = Decoder<Block>;
  constexpr int kChunks = D::kElems / 8;
  const int64_t chunks_per_row = k / 8, total = rows * chunks_per_row;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; t < total;
       t += static_cast<int64_t>(gridDim.x) * kThreads) {
    const int64_t r = t / chunks_per_row, c = t % chunks_per_row;
    const auto* blocks = reinterpret_cast<const Block*>(w + static_cast<uint64_t>(r) * row_bytes);
    float v[8];
    D::chunk(blocks[c / kChunks], static_cast<int>(c % kChunks), v);
    uint4 packed;
    packed.x = static_cast<uint32_t>(float_to_half_bits(v[0])) | (static_cast<uint32_t>(float_to_half_bits(v[1])) << 16);
    packed.y = static_cast<uint32_t>(float_to_half_bits(v[2])) | (static_cast<uint32_t>(float_to_half_bits(v[3])) << 16);
    packed.z = static_cast<uint32_t>(float_to_half_bits(v[4])) | (static_cast<uint32_t>(float_to_half_bits(v[5])) << 16);
    packed.w = static_cast<uint32_t>(float_to_half_bits(v[6])) | (static_cast<uint32_t>(float_to_half_bits(v[7])) << 16);
    out[t] = packed;  // out row r, chunk c: element 8 t
  }
}

template <bool kBf16>
__global__ void __launch_bounds__(kThreads)
    convert_x(const float* __restrict__ x, int64_t xs, int64_t n_rows, int64_t k, uint16_t* __restrict__ out) {
  const int64_t total = n_rows * k;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; t < total;
       t += static_cast<int64_t>(gridDim.x) * kThreads) {
    const float v = x[(t / k) * xs + t % k];
    if constexpr (kBf16) out[t] = __bfloat16_as_ushort(__float2bfloat16_rn(v));
    else out[t] = float_to_half_bits(v);
  }
}

}  // namespace

cudaError_t launch_dequantize_rows_f16(const MulMatArgs& a, int64_t row0, int64_t rows, __half* out, cudaStream_t stream) {
  if (rows < 1 || row0 < 0 || row0 + rows > a.n_out || a.k % 8 != 0) return cudaErrorInvalidValue;
  if (reinterpret_cast<uintptr_t>(out) % 16 != 0) return cudaErrorMisalignedAddress;
  const auto* w = static_cast<const uint8_t*>(a.weight) + static_cast<uint64_t>(row0) * a.weight_row_bytes;
  const unsigned grid = grid_1d(rows * (a.k / 8), kThreads);
  bool ok = true;
  const bool known = with_block_type(a.weight_dtype, [&](auto block) {
    using Block = decltype(block);
    if (a.k % Decoder<Block>::kElems != 0 || reinterpret_cast<uintptr_t>(a.weight) % alignof(Block) != 0 ||
        a.weight_row_bytes % alignof(Block) != 0) {
      ok = false;
      return;
    }
    dequantize_rows<Block><<<grid, kThreads, 0, stream>>>(w, a.weight_row_bytes, a.k, rows, reinterpret_cast<uint4*>(out));
  });
  if (!known) return cudaErrorNotSupported;
  if (!ok) return cudaErrorMisalignedAddress;
  return cudaGetLastError();
}

cudaError_t launch_convert_x(const float* x, int64_t xs, int64_t n_rows, int64_t k, bool bf16, void* out, cudaStream_t stream) {
  if (n_rows < 1 || k < 1) return cudaErrorInvalidValue;
  const unsigned grid = grid_1d(n_rows * k, kThreads);
  auto* o = static_cast<uint16_t*>(out);
  if (bf16) convert_x<true><<<grid, kThreads, 0, stream>>>(x, xs, n_rows, k, o);
  else convert_x<false><<<grid, kThreads, 0, stream>>>(x, xs, n_rows, k, o);
  return cudaGetLastError();
}

}  // namespace tessera::cuda::mm
