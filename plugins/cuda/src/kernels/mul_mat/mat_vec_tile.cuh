// One lane's share of the block-quantized mat-vec (mat_vec.cu): copying a
// tile of a weight row into shared memory, and decoding and multiplying its
// chunks with x. Host-callable (loads are __ldg on the device, plain on the
// host) so a host test can run all 32 lanes of a warp in a loop and check
// the tile, alignment and chunk-to-x index math without a GPU.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>

#include "kernels/mul_mat/decode.cuh"
#include "kernels/mul_mat/plan.hpp"

namespace tessera::cuda::mm {

inline constexpr int kLanes = 32;
// Chunks per lane per tile: a tile is 32 * 8 * 8 = 2048 values, 0.6 - 2.3 KB
// of weights in flight per warp between two barriers.
inline constexpr int kTilePasses = 8;
inline constexpr int kTileRows = static_cast<int>(kMatVecMaxRows);

template <class Block>
struct Tile {
  static constexpr int kChunks = Decoder<Block>::kElems / 8;         // chunks per block
  static constexpr int kBlocks = kLanes * kTilePasses / kChunks;      // 64 (32-value blocks) or 8 (256-value blocks)
  static constexpr int kBytes = kBlocks * static_cast<int>(sizeof(Block));
  // Room for the misalignment offset, and a multiple of 16 so every warp's tile stays 16-byte aligned.
  static constexpr int kStride = (kBytes + 16 + 15) / 16 * 16;
  // 16-byte words a lane copies at most per tile (2-5: Q4_0 3, Q8_0 5).
  static constexpr int kLaneWords = (kBytes / 16 + kLanes - 1) / kLanes;
};

// Read-only loads: __ldg on the device; on the host memcpy, as the buffers
// are bytes accessed as wider types.
template <class T>
TESSERA_HD inline T load_ro(const T* p) {
#if defined(__CUDA_ARCH__)
  return __ldg(p);
#else
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
#endif
}

TESSERA_HD inline void store16(uint8_t* d, const uint4& v) {
#if defined(__CUDA_ARCH__)
  *reinterpret_cast<uint4*>(d) = v;
#else
  std::memcpy(d, &v, 16);
#endif
}

// Offset in the tile buffer at which copy_lane puts the bytes of src: src's
// misalignment to 16, so 16-byte aligned words of src land on 16-byte aligned
// words of the (16-byte aligned) buffer.
TESSERA_HD inline int tile_offset(const uint8_t* src) { return static_cast<int>(reinterpret_cast<uintptr_t>(src) & 15u); }

// Lane `lane`'s part of copying `bytes` bytes at src to dst + tile_offset(src):
// the unaligned head and tail byte by byte, the rest as 16-byte words.
// LANE_WORDS bounds the words per lane (bytes <= 16 * 32 * LANE_WORDS): all
// of them are loaded into registers before any is stored, so they are in
// flight together, one memory round trip per tile rather than one per word
// (a store to shared memory between two loads kept them serial).
template <int LANE_WORDS>
TESSERA_HD inline void copy_lane(uint8_t* dst, const uint8_t* src, int bytes, int lane) {
  const int off = tile_offset(src);
  const int head = bytes < ((16 - off) & 15) ? bytes : ((16 - off) & 15);
  const int words = (bytes - head) / 16;
  uint8_t* d = dst + off;
  uint4 w[LANE_WORDS] = {};
  MM_UNROLL
  for (int j = 0; j < LANE_WORDS; ++j) {
    const int i = lane + kLanes * j;
    if (i < words) w[j] = load_ro(reinterpret_cast<const uint4*>(src + head + 16 * i));
  }
  if (lane < head) d[lane] = load_ro(src + lane);
  for (int i = head + 16 * words + lane; i < bytes; i += kLanes) d[i] = load_ro(src + i);
  MM_UNROLL
  for (int j = 0; j < LANE_WORDS; ++j) {
    const int i = lane + kLanes * j;
    if (i < words) store16(d + head + 16 * i, w[j]);
  }
}

// sum v[i] * x[i], i < 8; x 16-byte aligned when x_vec4.
TESSERA_HD inline float dot8(const float* v, const float* x, bool x_vec4) {
  if (x_vec4) {
    const float4 a = load_ro(reinterpret_cast<const float4*>(x));
    const float4 b = load_ro(reinterpret_cast<const float4*>(x) + 1);
    return v[0] * a.x + v[1] * a.y + v[2] * a.z + v[3] * a.w + v[4] * b.x + v[5] * b.y + v[6] * b.z + v[7] * b.w;
  }
  float s = 0;
  MM_UNROLL
  for (int i = 0; i < 8; ++i) s += v[i] * load_ro(x + i);
  return s;
}

// Lane `lane`'s chunks of a copied tile: blocks b0 .. b0 + nb - 1 of the row
// at `blocks`; acc[r] += their dot products with row r of x (n_rows <= 8,
// row stride xs).
template <class Block>
TESSERA_HD inline void lane_tile_dot(const Block* blocks, int nb, int64_t b0, int lane, const float* x, int64_t xs,
                                     int n_rows, bool x_vec4, float* acc) {
  using T = Tile<Block>;
#if defined(__CUDA_ARCH__)
#pragma unroll 1  // unrolled, the passes would hold several chunks' registers at once
#endif
  for (int p = 0; p < kTilePasses; ++p) {
    const int c = lane + kLanes * p, blk = c / T::kChunks, chunk = c % T::kChunks;
    if (blk < nb) {
      float v[8];
#if defined(__CUDA_ARCH__)
      Decoder<Block>::chunk(blocks[blk], chunk, v);
#else
      Block b;
      std::memcpy(&b, blocks + blk, sizeof b);
      Decoder<Block>::chunk(b, chunk, v);
#endif
      const int64_t e0 = (b0 + blk) * Decoder<Block>::kElems + chunk * 8;
      MM_UNROLL
      for (int r = 0; r < kTileRows; ++r)
        if (r < n_rows) acc[r] += dot8(v, x + r * xs + e0, x_vec4);
    }
  }
}

}  // namespace tessera::cuda::mm
