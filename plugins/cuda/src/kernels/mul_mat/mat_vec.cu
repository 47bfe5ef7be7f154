// Mat-vec for decode (a few rows of x): one warp per output row streams the
// weight row once and multiplies it with up to kMatVecMaxRows rows of x,
// accumulating in f32 and reducing with warp shuffles.
//
// Block-quantized weights: the warp copies a tile of whole blocks (2048
// values) into shared memory with 16-byte loads (whatever the row's
// alignment: an unaligned head and tail go byte-wise), then each lane decodes
// 8-value chunks of it in registers (decode.cuh) and multiplies them with
// x, whose 8 values it reads as two float4 where x is 16-byte aligned.
#include <cstdint>

#include "kernels/common.cuh"
#include "kernels/mul_mat/decode.cuh"
#include "kernels/mul_mat/internal.cuh"
#include "kernels/mul_mat/mat_vec_tile.cuh"
#include "kernels/mul_mat/plan.hpp"

namespace tessera::cuda::mm {
namespace {

constexpr int kWarpsPerBlock = 4;
constexpr int kThreads = kWarpsPerBlock * kWarp;
constexpr int kRows = kTileRows;

struct VecArgs {
  const uint8_t* w;
  uint64_t row_bytes;
  int64_t k, n_out;
  const float* x;
  int64_t xs;
  int n_rows;
  float* y;
  int64_t ys;
  bool x_vec4;  // x and its row stride allow float4 loads
  bool w_vec;   // float weights: rows allow 16-byte loads
};

// Sums each lane's accumulators over the warp; lane 0 writes row m of y.
__device__ __forceinline__ void store_rows(const VecArgs& a, const float* acc, int64_t m, int lane) {
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
    if (r >= a.n_rows) break;
    const float s = warp_sum(acc[r]);
    if (lane == 0) a.y[r * a.ys + m] = s;
  }
}

template <class Block>
__global__ void __launch_bounds__(kThreads) mat_vec_blocks(VecArgs a) {
  using T = Tile<Block>;
  __shared__ __align__(16) uint8_t tiles[kWarpsPerBlock][T::kStride];

  const int lane = static_cast<int>(threadIdx.x) % kWarp, warp = static_cast<int>(threadIdx.x) / kWarp;
  const int64_t m = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + warp;
  if (m >= a.n_out) return;  // the whole warp: no block-wide barrier below
  const uint8_t* row = a.w + static_cast<uint64_t>(m) * a.row_bytes;
  const int64_t blocks = a.k / Decoder<Block>::kElems;
  uint8_t* tile = tiles[warp];
  float acc[kRows] = {};

  for (int64_t b0 = 0; b0 < blocks; b0 += T::kBlocks) {
    const int nb = static_cast<int>(min(static_cast<int64_t>(T::kBlocks), blocks - b0));
    const uint8_t* src = row + static_cast<uint64_t>(b0) * sizeof(Block);
    copy_lane<T::kLaneWords>(tile, src, nb * static_cast<int>(sizeof(Block)), lane);
    __syncwarp();
    lane_tile_dot(reinterpret_cast<const Block*>(tile + tile_offset(src)), nb, b0, lane, a.x, a.xs, a.n_rows, a.x_vec4, acc);
    __syncwarp();  // the tile is overwritten next
  }
  store_rows(a, acc, m, lane);
}

template <int DT>
__device__ __forceinline__ float float_weight(const uint8_t* row, int64_t e) {
  if constexpr (DT == TESSERA_DTYPE_F32) return __ldg(reinterpret_cast<const float*>(row) + e);
  else if constexpr (DT == TESSERA_DTYPE_F16) return f16(__ldg(reinterpret_cast<const unsigned short*>(row) + e));
  else return __uint_as_float(static_cast<uint32_t>(__ldg(reinterpret_cast<const unsigned short*>(row) + e)) << 16);
}

// 8 consecutive weights starting at element 8c of a 16-byte aligned row.
template <int DT>
__device__ __forceinline__ void float_weights8(const uint8_t* row, int64_t c, float* v) {
  if constexpr (DT == TESSERA_DTYPE_F32) {
    const float4 a = __ldg(reinterpret_cast<const float4*>(row) + 2 * c);
    const float4 b = __ldg(reinterpret_cast<const float4*>(row) + 2 * c + 1);
    v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
  } else {
    const uint4 u = __ldg(reinterpret_cast<const uint4*>(row) + c);
    const uint32_t words[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const uint16_t lo = static_cast<uint16_t>(words[i] & 0xFFFFu), hi = static_cast<uint16_t>(words[i] >> 16);
      if constexpr (DT == TESSERA_DTYPE_F16) {
        v[2 * i] = f16(lo);
        v[2 * i + 1] = f16(hi);
      } else {
        v[2 * i] = __uint_as_float(static_cast<uint32_t>(lo) << 16);
        v[2 * i + 1] = __uint_as_float(static_cast<uint32_t>(hi) << 16);
      }
    }
  }
}

// Chunks of 8 weights loaded ahead per lane: 2 KB of weights in flight per
// warp (4 x 16 bytes of F16 / BF16, 2 x 32 bytes of F32 per lane).
template <int DT>
inline constexpr int kFloatAhead = DT == TESSERA_DTYPE_F32 ? 2 : 4;

// F32 / F16 / BF16 weights of any row length.
template <int DT>
__global__ void __launch_bounds__(kThreads) mat_vec_float(VecArgs a) {
  const int lane = static_cast<int>(threadIdx.x) % kWarp, warp = static_cast<int>(threadIdx.x) / kWarp;
  const int64_t m = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + warp;
  if (m >= a.n_out) return;
  const uint8_t* row = a.w + static_cast<uint64_t>(m) * a.row_bytes;
  float acc[kRows] = {};
  int64_t tail = 0;  // first element the scalar loop handles
  if (a.w_vec) {
    const int64_t chunks = a.k / 8;
    int64_t c = lane;
    // kAhead chunks per lane are loaded before any is multiplied, so a warp
    // keeps 2 KB of weights in flight instead of 512 or 1024 bytes (a full
    // F16 row of 4096 is 16 chunks per lane). The chunks are still added in
    // the order c, c + 32, c + 64, ...: the same sums as one at a time.
    constexpr int kAhead = kFloatAhead<DT>;
    for (; c + (kAhead - 1) * kWarp < chunks; c += kAhead * kWarp) {
      float v[kAhead][8];
#pragma unroll
      for (int u = 0; u < kAhead; ++u) float_weights8<DT>(row, c + u * kWarp, v[u]);
#pragma unroll
      for (int u = 0; u < kAhead; ++u)
#pragma unroll
        for (int r = 0; r < kRows; ++r)
          if (r < a.n_rows) acc[r] += dot8(v[u], a.x + r * a.xs + 8 * (c + u * kWarp), a.x_vec4);
    }
    for (; c < chunks; c += kWarp) {
      float v[8];
      float_weights8<DT>(row, c, v);
#pragma unroll
      for (int r = 0; r < kRows; ++r)
        if (r < a.n_rows) acc[r] += dot8(v, a.x + r * a.xs + 8 * c, a.x_vec4);
    }
    tail = chunks * 8;
  }
  for (int64_t e = tail + lane; e < a.k; e += kWarp) {
    const float w = float_weight<DT>(row, e);
#pragma unroll
    for (int r = 0; r < kRows; ++r)
      if (r < a.n_rows) acc[r] += w * __ldg(a.x + r * a.xs + e);
  }
  store_rows(a, acc, m, lane);
}

bool aligned(const void* p, uint64_t n) { return reinterpret_cast<uintptr_t>(p) % n == 0; }

}  // namespace

cudaError_t launch_mat_vec(const MulMatArgs& a, cudaStream_t stream) {
  if (a.n_rows < 1 || a.n_rows > kMatVecMaxRows || a.n_out < 1 || a.k < 1) return cudaErrorInvalidValue;
  VecArgs v;
  v.w = static_cast<const uint8_t*>(a.weight);
  v.row_bytes = a.weight_row_bytes;
  v.k = a.k;
  v.n_out = a.n_out;
  v.x = a.x;
  v.xs = a.x_row_stride;
  v.n_rows = static_cast<int>(a.n_rows);
  v.y = a.y;
  v.ys = a.y_row_stride;
  v.x_vec4 = aligned(a.x, 16) && a.x_row_stride % 4 == 0;
  v.w_vec = aligned(a.weight, 16) && a.weight_row_bytes % 16 == 0 && v.x_vec4;
  const int64_t grid = (a.n_out + kWarpsPerBlock - 1) / kWarpsPerBlock;
  if (grid > 0x7FFFFFFF) return cudaErrorInvalidValue;
  const dim3 blocks(static_cast<unsigned>(grid));
  switch (a.weight_dtype) {
    case TESSERA_DTYPE_F32: mat_vec_float<TESSERA_DTYPE_F32><<<blocks, kThreads, 0, stream>>>(v); break;
    case TESSERA_DTYPE_F16: mat_vec_float<TESSERA_DTYPE_F16><<<blocks, kThreads, 0, stream>>>(v); break;
    case TESSERA_DTYPE_BF16: mat_vec_float<TESSERA_DTYPE_BF16><<<blocks, kThreads, 0, stream>>>(v); break;
    default: {
      bool ok = true;
      const bool known = with_block_type(a.weight_dtype, [&](auto block) {
        using Block = decltype(block);
        // Blocks are read as structs in shared memory: their fields must stay aligned.
        if (a.k % Decoder<Block>::kElems != 0 || !aligned(a.weight, alignof(Block)) ||
            a.weight_row_bytes % alignof(Block) != 0) {
          ok = false;
          return;
        }
        mat_vec_blocks<Block><<<blocks, kThreads, 0, stream>>>(v);
      });
      if (!known) return cudaErrorNotSupported;
      if (!ok) return cudaErrorMisalignedAddress;
    }
  }
  return cudaGetLastError();
}

}  // namespace tessera::cuda::mm
