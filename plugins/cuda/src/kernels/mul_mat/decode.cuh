// Device decoding of the GGUF block types, eight consecutive values at a
// time: chunk c of a block holds its values 8c .. 8c + 7 (in row order, so
// they multiply x[8c .. 8c + 7] of the block's span). The decoders are
// host-callable too, so their index math is unit-tested without a GPU. Every kernel that
// reads quantized weights (mat-vec, dequantize-to-f16) goes through these,
// and they follow the bit layouts of tessera/quant/blocks.hpp; the SDK's
// scalar dequantize_block() is the reference they are tested against.
// Chunks never straddle a sub-block (16 or 32 values), so one scale (and
// min) applies to all eight values.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "tessera/quant/blocks.hpp"
#include "tessera/quant/dequantize.hpp"

// `#pragma unroll` for the device pass only: the host compiler (these
// decoders are also host functions) does not know it.
#if defined(__CUDA_ARCH__)
#define MM_UNROLL _Pragma("unroll")
#else
#define MM_UNROLL
#endif

namespace tessera::cuda::mm {

namespace q = tessera::quant;

TESSERA_HD inline float f16(uint16_t bits) { return __half2float(__ushort_as_half(bits)); }

// The IQ4_NL code book as four little-endian words, looked up with
// __byte_perm so the table stays in registers (a per-lane indexed array
// would go to local memory).
constexpr uint32_t kIq4Word0 = 0xBFAD9881u, kIq4Word1 = 0xF6EADDCFu, kIq4Word2 = 0x26190D01u,
                   kIq4Word3 = 0x71594535u;

constexpr bool iq4_words_match_codebook() {
  const uint32_t words[4] = {kIq4Word0, kIq4Word1, kIq4Word2, kIq4Word3};
  for (int i = 0; i < 16; ++i)
    if (static_cast<int8_t>((words[i / 4] >> (8 * (i % 4))) & 0xFFu) != q::kIq4nlValues[i]) return false;
  return true;
}
static_assert(iq4_words_match_codebook(), "kIq4Words must spell kIq4nlValues");

TESSERA_HD inline float iq4_value(uint32_t code) {
#if defined(__CUDA_ARCH__)
  const uint32_t sel = code & 7u;
  const uint32_t b = (code & 8u) ? __byte_perm(kIq4Word2, kIq4Word3, sel) : __byte_perm(kIq4Word0, kIq4Word1, sel);
#else  // the host build (decoder unit tests)
  const uint32_t words[4] = {kIq4Word0, kIq4Word1, kIq4Word2, kIq4Word3};
  const uint32_t b = words[(code & 15u) / 4] >> (8 * (code % 4));
#endif
  return static_cast<float>(static_cast<int8_t>(b & 0xFFu));
}

template <class Block>
struct Decoder;

// --- 32-value blocks: 4 chunks ---------------------------------------------

// Nibble of value e (0..31) of a Q4_0-style qs[16]: values 0..15 in the low
// nibbles, 16..31 in the high ones.
TESSERA_HD inline uint32_t nibble32(const uint8_t* qs, int e) {
  return e < 16 ? (qs[e] & 0x0Fu) : (static_cast<uint32_t>(qs[e - 16]) >> 4);
}

template <>
struct Decoder<q::BlockQ4_0> {
  static constexpr int kElems = 32, kDtype = TESSERA_DTYPE_Q4_0;
  TESSERA_HD static void chunk(const q::BlockQ4_0& b, int c, float* v) {
    const float d = f16(b.d);
MM_UNROLL
    for (int i = 0; i < 8; ++i) v[i] = d * static_cast<float>(static_cast<int>(nibble32(b.qs, 8 * c + i)) - 8);
  }
};

template <>
struct Decoder<q::BlockQ4_1> {
  static constexpr int kElems = 32, kDtype = TESSERA_DTYPE_Q4_1;
  TESSERA_HD static void chunk(const q::BlockQ4_1& b, int c, float* v) {
    const float d = f16(b.d), m = f16(b.m);
MM_UNROLL
    for (int i = 0; i < 8; ++i) v[i] = d * static_cast<float>(nibble32(b.qs, 8 * c + i)) + m;
  }
};

template <>
struct Decoder<q::BlockQ5_0> {
  static constexpr int kElems = 32, kDtype = TESSERA_DTYPE_Q5_0;
  TESSERA_HD static void chunk(const q::BlockQ5_0& b, int c, float* v) {
    const float d = f16(b.d);
    const uint32_t qh = q::load_u32_le(b.qh);
MM_UNROLL
    for (int i = 0; i < 8; ++i) {
      const int e = 8 * c + i;  // bit 4 of value e is bit e of qh
      const uint32_t code = nibble32(b.qs, e) | (((qh >> e) & 1u) << 4);
      v[i] = d * static_cast<float>(static_cast<int>(code) - 16);
    }
  }
};

template <>
struct Decoder<q::BlockQ5_1> {
  static constexpr int kElems = 32, kDtype = TESSERA_DTYPE_Q5_1;
  TESSERA_HD static void chunk(const q::BlockQ5_1& b, int c, float* v) {
    const float d = f16(b.d), m = f16(b.m);
    const uint32_t qh = q::load_u32_le(b.qh);
MM_UNROLL
    for (int i = 0; i < 8; ++i) {
      const int e = 8 * c + i;
      const uint32_t code = nibble32(b.qs, e) | (((qh >> e) & 1u) << 4);
      v[i] = d * static_cast<float>(code) + m;
    }
  }
};

template <>
struct Decoder<q::BlockQ8_0> {
  static constexpr int kElems = 32, kDtype = TESSERA_DTYPE_Q8_0;
  TESSERA_HD static void chunk(const q::BlockQ8_0& b, int c, float* v) {
    const float d = f16(b.d);
MM_UNROLL
    for (int i = 0; i < 8; ++i) v[i] = d * static_cast<float>(b.qs[8 * c + i]);
  }
};

template <>
struct Decoder<q::BlockIQ4_NL> {
  static constexpr int kElems = 32, kDtype = TESSERA_DTYPE_IQ4_NL;
  TESSERA_HD static void chunk(const q::BlockIQ4_NL& b, int c, float* v) {
    const float d = f16(b.d);
MM_UNROLL
    for (int i = 0; i < 8; ++i) v[i] = d * iq4_value(nibble32(b.qs, 8 * c + i));
  }
};

// --- 256-value blocks: 32 chunks --------------------------------------------

// Q2_K / Q3_K: value e sits in half h = e / 128 at 2-bit position s =
// (e % 128) / 32 of byte qs[32 h + e % 32]; its group of 16 is e / 16.
template <>
struct Decoder<q::BlockQ2_K> {
  static constexpr int kElems = 256, kDtype = TESSERA_DTYPE_Q2_K;
  TESSERA_HD static void chunk(const q::BlockQ2_K& b, int c, float* v) {
    const int e0 = 8 * c, h = e0 / 128, s = (e0 % 128) / 32, l0 = e0 % 32, group = e0 / 16;
    const float dl = f16(b.d) * static_cast<float>(b.scales[group] & 0x0F);
    const float ml = f16(b.dmin) * static_cast<float>(b.scales[group] >> 4);
    const uint8_t* qs = b.qs + 32 * h + l0;
MM_UNROLL
    for (int i = 0; i < 8; ++i) v[i] = dl * static_cast<float>((qs[i] >> (2 * s)) & 3) - ml;
  }
};

template <>
struct Decoder<q::BlockQ3_K> {
  static constexpr int kElems = 256, kDtype = TESSERA_DTYPE_Q3_K;
  TESSERA_HD static void chunk(const q::BlockQ3_K& b, int c, float* v) {
    const int e0 = 8 * c, h = e0 / 128, s = (e0 % 128) / 32, l0 = e0 % 32, group = e0 / 16;
    const float dl = f16(b.d) * static_cast<float>(q::q3k_scale(b.scales, group));
    const uint8_t* qs = b.qs + 32 * h + l0;
    const uint8_t* hm = b.hmask + l0;
    const uint32_t mask = 1u << (4 * h + s);  // the high bit: one hmask bit per (half, shift)
MM_UNROLL
    for (int i = 0; i < 8; ++i) {
      const int low = (qs[i] >> (2 * s)) & 3;
      const int high = (hm[i] & mask) ? 0 : 4;
      v[i] = dl * static_cast<float>(low - high);
    }
  }
};

// Q4_K / Q5_K: group g = e / 32 is nibble g % 2 of qs[32 (g / 2) + e % 32].
template <>
struct Decoder<q::BlockQ4_K> {
  static constexpr int kElems = 256, kDtype = TESSERA_DTYPE_Q4_K;
  TESSERA_HD static void chunk(const q::BlockQ4_K& b, int c, float* v) {
    const int e0 = 8 * c, g = e0 / 32, l0 = e0 % 32;
    int sc, m;
    q::k4_scale_min(b.scales, g, sc, m);
    const float dl = f16(b.d) * static_cast<float>(sc), ml = f16(b.dmin) * static_cast<float>(m);
    const uint8_t* qs = b.qs + 32 * (g / 2) + l0;
    const int shift = 4 * (g % 2);
MM_UNROLL
    for (int i = 0; i < 8; ++i) v[i] = dl * static_cast<float>((qs[i] >> shift) & 0x0F) - ml;
  }
};

template <>
struct Decoder<q::BlockQ5_K> {
  static constexpr int kElems = 256, kDtype = TESSERA_DTYPE_Q5_K;
  TESSERA_HD static void chunk(const q::BlockQ5_K& b, int c, float* v) {
    const int e0 = 8 * c, g = e0 / 32, l0 = e0 % 32;
    int sc, m;
    q::k4_scale_min(b.scales, g, sc, m);
    const float dl = f16(b.d) * static_cast<float>(sc), ml = f16(b.dmin) * static_cast<float>(m);
    const uint8_t* qs = b.qs + 32 * (g / 2) + l0;
    const uint8_t* qh = b.qh + l0;
    const int shift = 4 * (g % 2);
MM_UNROLL
    for (int i = 0; i < 8; ++i) {
      const int code = ((qs[i] >> shift) & 0x0F) | (((qh[i] >> g) & 1) << 4);
      v[i] = dl * static_cast<float>(code) - ml;
    }
  }
};

// Q6_K: value e is in half h = e / 128, quarter t = (e % 128) / 32, at
// l = e % 32: low nibble t / 2 of ql[64 h + 32 (t % 2) + l], high 2 bits at
// bit 2 t of qh[32 h + l]; scale scales[8 h + 2 t + l / 16].
template <>
struct Decoder<q::BlockQ6_K> {
  static constexpr int kElems = 256, kDtype = TESSERA_DTYPE_Q6_K;
  TESSERA_HD static void chunk(const q::BlockQ6_K& b, int c, float* v) {
    const int e0 = 8 * c, h = e0 / 128, t = (e0 % 128) / 32, l0 = e0 % 32;
    const float dl = f16(b.d) * static_cast<float>(b.scales[8 * h + 2 * t + l0 / 16]);
    const uint8_t* ql = b.ql + 64 * h + 32 * (t % 2) + l0;
    const uint8_t* qh = b.qh + 32 * h + l0;
    const int low_shift = 4 * (t / 2), high_shift = 2 * t;
MM_UNROLL
    for (int i = 0; i < 8; ++i) {
      const int code = ((ql[i] >> low_shift) & 0x0F) | (((qh[i] >> high_shift) & 3) << 4);
      v[i] = dl * static_cast<float>(code - 32);
    }
  }
};

template <>
struct Decoder<q::BlockQ8_K> {
  static constexpr int kElems = 256, kDtype = TESSERA_DTYPE_Q8_K;
  TESSERA_HD static void chunk(const q::BlockQ8_K& b, int c, float* v) {
MM_UNROLL
    for (int i = 0; i < 8; ++i) v[i] = b.d * static_cast<float>(b.qs[8 * c + i]);
  }
};

// IQ4_XS: group g = e / 32 of 16 bytes qs[16 g ..], nibbles as Q4_0.
template <>
struct Decoder<q::BlockIQ4_XS> {
  static constexpr int kElems = 256, kDtype = TESSERA_DTYPE_IQ4_XS;
  TESSERA_HD static void chunk(const q::BlockIQ4_XS& b, int c, float* v) {
    const int e0 = 8 * c, g = e0 / 32;
    const int low = (b.scales_l[g / 2] >> (4 * (g % 2))) & 0x0F;
    const int high = (b.scales_h >> (2 * g)) & 0x03;
    const float dl = f16(b.d) * static_cast<float>((low | (high << 4)) - 32);
    const uint8_t* qs = b.qs + 16 * g;
MM_UNROLL
    for (int i = 0; i < 8; ++i) v[i] = dl * iq4_value(nibble32(qs, e0 % 32 + i));
  }
};

// Calls f(Block{}) for the block type of `dtype`; false if it has none.
template <class F>
bool with_block_type(int32_t dtype, F&& f) {
  switch (dtype) {
    case TESSERA_DTYPE_Q4_0: f(q::BlockQ4_0{}); return true;
    case TESSERA_DTYPE_Q4_1: f(q::BlockQ4_1{}); return true;
    case TESSERA_DTYPE_Q5_0: f(q::BlockQ5_0{}); return true;
    case TESSERA_DTYPE_Q5_1: f(q::BlockQ5_1{}); return true;
    case TESSERA_DTYPE_Q8_0: f(q::BlockQ8_0{}); return true;
    case TESSERA_DTYPE_Q2_K: f(q::BlockQ2_K{}); return true;
    case TESSERA_DTYPE_Q3_K: f(q::BlockQ3_K{}); return true;
    case TESSERA_DTYPE_Q4_K: f(q::BlockQ4_K{}); return true;
    case TESSERA_DTYPE_Q5_K: f(q::BlockQ5_K{}); return true;
    case TESSERA_DTYPE_Q6_K: f(q::BlockQ6_K{}); return true;
    case TESSERA_DTYPE_Q8_K: f(q::BlockQ8_K{}); return true;
    case TESSERA_DTYPE_IQ4_NL: f(q::BlockIQ4_NL{}); return true;
    case TESSERA_DTYPE_IQ4_XS: f(q::BlockIQ4_XS{}); return true;
    default: return false;
  }
}

}  // namespace tessera::cuda::mm
