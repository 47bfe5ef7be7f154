// tessera/quant/dequantize.hpp - scalar reference dequantization of every
// GGUF tensor type tessera supports. This is the ground truth that every
// fast kernel (AVX-512, CUDA, third-party) is tested against, so it is
// written for clarity, one block at a time. Block layouts: blocks.hpp.
#pragma once

#include <cstdint>
#include <cstring>

#include "tessera/quant/blocks.hpp"
#include "tessera/quant/half.hpp"
#include "tessera/types.h"

namespace tessera::quant {

// --- one block -> 32 or 256 floats -----------------------------------------

TESSERA_HD inline void dequantize_block(const BlockQ4_0& b, float* y) {
  const float d = f16_to_f32(b.d);
  for (int j = 0; j < 16; ++j) {
    y[j] = d * static_cast<float>((b.qs[j] & 0x0F) - 8);
    y[j + 16] = d * static_cast<float>((b.qs[j] >> 4) - 8);
  }
}

TESSERA_HD inline void dequantize_block(const BlockQ4_1& b, float* y) {
  const float d = f16_to_f32(b.d), m = f16_to_f32(b.m);
  for (int j = 0; j < 16; ++j) {
    y[j] = d * static_cast<float>(b.qs[j] & 0x0F) + m;
    y[j + 16] = d * static_cast<float>(b.qs[j] >> 4) + m;
  }
}

TESSERA_HD inline uint32_t load_u32_le(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}

TESSERA_HD inline void dequantize_block(const BlockQ5_0& b, float* y) {
  const float d = f16_to_f32(b.d);
  const uint32_t qh = load_u32_le(b.qh);
  for (int j = 0; j < 16; ++j) {
    const int lo = (b.qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1u) << 4);
    const int hi = (b.qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
    y[j] = d * static_cast<float>(lo - 16);
    y[j + 16] = d * static_cast<float>(hi - 16);
  }
}

TESSERA_HD inline void dequantize_block(const BlockQ5_1& b, float* y) {
  const float d = f16_to_f32(b.d), m = f16_to_f32(b.m);
  const uint32_t qh = load_u32_le(b.qh);
  for (int j = 0; j < 16; ++j) {
    const int lo = (b.qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1u) << 4);
    const int hi = (b.qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
    y[j] = d * static_cast<float>(lo) + m;
    y[j + 16] = d * static_cast<float>(hi) + m;
  }
}

TESSERA_HD inline void dequantize_block(const BlockQ8_0& b, float* y) {
  const float d = f16_to_f32(b.d);
  for (int j = 0; j < 32; ++j) y[j] = d * static_cast<float>(b.qs[j]);
}

TESSERA_HD inline void dequantize_block(const BlockQ2_K& b, float* y) {
  const float d = f16_to_f32(b.d), dmin = f16_to_f32(b.dmin);
  int group = 0;
  for (int half = 0; half < 2; ++half) {
    const uint8_t* q = b.qs + 32 * half;
    for (int shift = 0; shift < 8; shift += 2) {
      for (int sub = 0; sub < 2; ++sub, ++group) {  // two groups of 16 share a shift
        const float dl = d * static_cast<float>(b.scales[group] & 0x0F);
        const float ml = dmin * static_cast<float>(b.scales[group] >> 4);
        for (int l = 0; l < 16; ++l) *y++ = dl * static_cast<float>((q[16 * sub + l] >> shift) & 3) - ml;
      }
    }
  }
}

// The 16 signed 6-bit scales of a Q3_K block (stored + 32).
TESSERA_HD inline int q3k_scale(const uint8_t* scales, int group) {
  const int low = (scales[group % 8] >> (4 * (group / 8))) & 0x0F;
  const int high = (scales[8 + group % 4] >> (2 * (group / 4))) & 0x03;
  return (low | (high << 4)) - 32;
}

TESSERA_HD inline void dequantize_block(const BlockQ3_K& b, float* y) {
  const float d = f16_to_f32(b.d);
  int group = 0;
  uint8_t mask = 1;
  for (int half = 0; half < 2; ++half) {
    const uint8_t* q = b.qs + 32 * half;
    for (int shift = 0; shift < 8; shift += 2, mask = static_cast<uint8_t>(mask << 1)) {
      for (int sub = 0; sub < 2; ++sub, ++group) {
        const float dl = d * static_cast<float>(q3k_scale(b.scales, group));
        for (int l = 0; l < 16; ++l) {
          const int low = (q[16 * sub + l] >> shift) & 3;
          const int high = (b.hmask[16 * sub + l] & mask) ? 0 : 4;
          *y++ = dl * static_cast<float>(low - high);
        }
      }
    }
  }
}

// 6-bit scale and min of group `j` (0..7) of a Q4_K / Q5_K block.
TESSERA_HD inline void k4_scale_min(const uint8_t* q, int j, int& scale, int& min) {
  if (j < 4) {
    scale = q[j] & 63;
    min = q[j + 4] & 63;
  } else {
    scale = (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4);
    min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

TESSERA_HD inline void dequantize_block(const BlockQ4_K& b, float* y) {
  const float d = f16_to_f32(b.d), dmin = f16_to_f32(b.dmin);
  for (int pair = 0; pair < 4; ++pair) {
    const uint8_t* q = b.qs + 32 * pair;
    for (int nibble = 0; nibble < 2; ++nibble) {
      int sc, m;
      k4_scale_min(b.scales, 2 * pair + nibble, sc, m);
      const float dl = d * static_cast<float>(sc), ml = dmin * static_cast<float>(m);
      for (int l = 0; l < 32; ++l) *y++ = dl * static_cast<float>((q[l] >> (4 * nibble)) & 0x0F) - ml;
    }
  }
}

TESSERA_HD inline void dequantize_block(const BlockQ5_K& b, float* y) {
  const float d = f16_to_f32(b.d), dmin = f16_to_f32(b.dmin);
  for (int pair = 0; pair < 4; ++pair) {
    const uint8_t* q = b.qs + 32 * pair;
    for (int nibble = 0; nibble < 2; ++nibble) {
      const int group = 2 * pair + nibble;
      int sc, m;
      k4_scale_min(b.scales, group, sc, m);
      const float dl = d * static_cast<float>(sc), ml = dmin * static_cast<float>(m);
      for (int l = 0; l < 32; ++l) {
        const int value = ((q[l] >> (4 * nibble)) & 0x0F) | (((b.qh[l] >> group) & 1) << 4);
        *y++ = dl * static_cast<float>(value) - ml;
      }
    }
  }
}

TESSERA_HD inline void dequantize_block(const BlockQ6_K& b, float* y) {
  const float d = f16_to_f32(b.d);
  for (int half = 0; half < 2; ++half) {
    const uint8_t* ql = b.ql + 64 * half;
    const uint8_t* qh = b.qh + 32 * half;
    const int8_t* sc = b.scales + 8 * half;
    float* out = y + 128 * half;
    for (int l = 0; l < 32; ++l) {
      const int g = l / 16;
      const int q1 = ((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
      const int q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      out[l] = d * static_cast<float>(sc[g]) * static_cast<float>(q1);
      out[l + 32] = d * static_cast<float>(sc[g + 2]) * static_cast<float>(q2);
      out[l + 64] = d * static_cast<float>(sc[g + 4]) * static_cast<float>(q3);
      out[l + 96] = d * static_cast<float>(sc[g + 6]) * static_cast<float>(q4);
    }
  }
}

TESSERA_HD inline void dequantize_block(const BlockQ8_K& b, float* y) {
  for (int j = 0; j < 256; ++j) y[j] = b.d * static_cast<float>(b.qs[j]);
}

// kIq4nlValues as a function: a namespace-scope array is host-only in CUDA
// device code, a function-local constant is not.
TESSERA_HD inline float iq4nl_value(int q) {
  constexpr int8_t values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
  return static_cast<float>(values[q & 0x0F]);
}

TESSERA_HD inline void dequantize_block(const BlockIQ4_NL& b, float* y) {
  const float d = f16_to_f32(b.d);
  for (int j = 0; j < 16; ++j) {
    y[j] = d * iq4nl_value(b.qs[j] & 0x0F);
    y[j + 16] = d * iq4nl_value(b.qs[j] >> 4);
  }
}

TESSERA_HD inline void dequantize_block(const BlockIQ4_XS& b, float* y) {
  const float d = f16_to_f32(b.d);
  for (int g = 0; g < 8; ++g) {
    const int low = (b.scales_l[g / 2] >> (4 * (g % 2))) & 0x0F;
    const int high = (b.scales_h >> (2 * g)) & 0x03;
    const float dl = d * static_cast<float>((low | (high << 4)) - 32);
    const uint8_t* q = b.qs + 16 * g;
    for (int j = 0; j < 16; ++j) {
      y[32 * g + j] = dl * iq4nl_value(q[j] & 0x0F);
      y[32 * g + j + 16] = dl * iq4nl_value(q[j] >> 4);
    }
  }
}

// --- rows --------------------------------------------------------------------

template <class Block>
TESSERA_HD inline void dequantize_blocks(const void* src, float* dst, int64_t n_blocks, int block_elements) {
  const Block* blocks = static_cast<const Block*>(src);
  for (int64_t i = 0; i < n_blocks; ++i) dequantize_block(blocks[i], dst + i * block_elements);
}

// Dequantizes `n` values of type `dtype` (a multiple of its block size) from
// `src` into `dst`. Returns false for a dtype without a reference here.
inline bool dequantize_row(int32_t dtype, const void* src, float* dst, int64_t n) {
  const uint8_t* bytes = static_cast<const uint8_t*>(src);
  switch (dtype) {
    case TESSERA_DTYPE_F32: std::memcpy(dst, src, static_cast<size_t>(n) * 4); return true;
    case TESSERA_DTYPE_F16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, bytes + 2 * i, 2);
        dst[i] = f16_to_f32(h);
      }
      return true;
    case TESSERA_DTYPE_BF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, bytes + 2 * i, 2);
        dst[i] = bf16_to_f32(h);
      }
      return true;
    case TESSERA_DTYPE_Q4_0: dequantize_blocks<BlockQ4_0>(src, dst, n / 32, 32); return true;
    case TESSERA_DTYPE_Q4_1: dequantize_blocks<BlockQ4_1>(src, dst, n / 32, 32); return true;
    case TESSERA_DTYPE_Q5_0: dequantize_blocks<BlockQ5_0>(src, dst, n / 32, 32); return true;
    case TESSERA_DTYPE_Q5_1: dequantize_blocks<BlockQ5_1>(src, dst, n / 32, 32); return true;
    case TESSERA_DTYPE_Q8_0: dequantize_blocks<BlockQ8_0>(src, dst, n / 32, 32); return true;
    case TESSERA_DTYPE_Q2_K: dequantize_blocks<BlockQ2_K>(src, dst, n / 256, 256); return true;
    case TESSERA_DTYPE_Q3_K: dequantize_blocks<BlockQ3_K>(src, dst, n / 256, 256); return true;
    case TESSERA_DTYPE_Q4_K: dequantize_blocks<BlockQ4_K>(src, dst, n / 256, 256); return true;
    case TESSERA_DTYPE_Q5_K: dequantize_blocks<BlockQ5_K>(src, dst, n / 256, 256); return true;
    case TESSERA_DTYPE_Q6_K: dequantize_blocks<BlockQ6_K>(src, dst, n / 256, 256); return true;
    case TESSERA_DTYPE_Q8_K: dequantize_blocks<BlockQ8_K>(src, dst, n / 256, 256); return true;
    case TESSERA_DTYPE_IQ4_NL: dequantize_blocks<BlockIQ4_NL>(src, dst, n / 32, 32); return true;
    case TESSERA_DTYPE_IQ4_XS: dequantize_blocks<BlockIQ4_XS>(src, dst, n / 256, 256); return true;
    default: return false;
  }
}

}  // namespace tessera::quant
