// tessera/quant/quantize.hpp - reference quantizers: float32 rows into every
// GGUF block type of blocks.hpp, bit for bit in the format's layout.
//
// The legacy types (Q4_0 .. Q8_0) use the format's defining formulas. The
// k-quants and IQ4 types fit each sub-block's scale (and min) by a small
// search that minimises squared error, then quantize the sub-block scales
// against one super-block scale, as the format prescribes. Values differ from
// llama.cpp's quantizer in the last bits of rounding choices, never in layout.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "tessera/quant/blocks.hpp"
#include "tessera/quant/half.hpp"
#include "tessera/types.h"

namespace tessera::quant {
namespace detail {

inline int nearest_int(float x) { return static_cast<int>(std::lrintf(x)); }
inline int clamp_int(int v, int lo, int hi) { return std::min(hi, std::max(lo, v)); }

// Value with the largest magnitude, keeping its sign.
inline float signed_absmax(const float* x, int n) {
  float best = 0.0f;
  for (int i = 0; i < n; ++i)
    if (std::fabs(x[i]) > std::fabs(best)) best = x[i];
  return best;
}

// Symmetric fit x ~ scale * q, q in [qmin, qmax]: tries scales around the
// absmax one and keeps the least-squares best. Writes q, returns scale.
inline float fit_symmetric(const float* x, int n, int qmin, int qmax, int* q) {
  const float max = signed_absmax(x, n);
  if (max == 0.0f) {
    for (int i = 0; i < n; ++i) q[i] = 0;
    return 0.0f;
  }
  // Map the extreme value onto the longer (negative) side of the range, as
  // the k-quants do; the scale takes the sign.
  const float base = max / static_cast<float>(qmin);
  float best_scale = base, best_error = INFINITY;
  int trial[256];
  for (int step = -8; step <= 8; ++step) {
    const float scale = base * (1.0f + 0.025f * static_cast<float>(step));
    // Least-squares scale for the q this scale picks.
    double sum_xq = 0, sum_qq = 0;
    for (int i = 0; i < n; ++i) {
      trial[i] = clamp_int(nearest_int(x[i] / scale), qmin, qmax);
      sum_xq += static_cast<double>(x[i]) * trial[i];
      sum_qq += static_cast<double>(trial[i]) * trial[i];
    }
    if (sum_qq == 0) continue;
    const float fitted = static_cast<float>(sum_xq / sum_qq);
    double error = 0;
    for (int i = 0; i < n; ++i) {
      const double e = x[i] - fitted * static_cast<float>(trial[i]);
      error += e * e;
    }
    if (error < best_error) {
      best_error = static_cast<float>(error);
      best_scale = fitted;
    }
  }
  for (int i = 0; i < n; ++i) q[i] = clamp_int(nearest_int(x[i] / best_scale), qmin, qmax);
  return best_scale;
}

// Affine fit x ~ scale * q - min, q in [0, qmax], scale >= 0, min >= 0
// (the k-quant convention: the offset only ever shifts down).
inline void fit_affine(const float* x, int n, int qmax, float& scale, float& min) {
  float lo = x[0], hi = x[0];
  for (int i = 1; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  lo = std::min(lo, 0.0f);
  if (hi <= lo) {
    scale = 0.0f;
    min = -lo;
    return;
  }
  float best_error = INFINITY;
  scale = (hi - lo) / static_cast<float>(qmax);
  min = -lo;
  for (int step = -6; step <= 6; ++step) {
    const float trial_scale = (hi - lo) / (static_cast<float>(qmax) + 0.1f * static_cast<float>(step));
    if (trial_scale <= 0) continue;
    // q for this scale, then the least-squares (scale, offset) for that q.
    double sx = 0, sq = 0, sqq = 0, sxq = 0;
    int q[256];
    for (int i = 0; i < n; ++i) {
      q[i] = clamp_int(nearest_int((x[i] - lo) / trial_scale), 0, qmax);
      sx += x[i];
      sq += q[i];
      sqq += static_cast<double>(q[i]) * q[i];
      sxq += static_cast<double>(x[i]) * q[i];
    }
    const double det = n * sqq - sq * sq;
    float s = trial_scale, offset = lo;
    if (det > 0) {
      s = static_cast<float>((n * sxq - sx * sq) / det);
      offset = static_cast<float>((sqq * sx - sq * sxq) / det);
    }
    if (offset > 0 || s <= 0) {  // keep the k-quant convention
      offset = std::min(offset, 0.0f);
      s = trial_scale;
    }
    double error = 0;
    for (int i = 0; i < n; ++i) {
      const int qi = clamp_int(nearest_int((x[i] - offset) / s), 0, qmax);
      const double e = x[i] - (s * static_cast<float>(qi) + offset);
      error += e * e;
    }
    if (error < best_error) {
      best_error = static_cast<float>(error);
      scale = s;
      min = -offset;
    }
  }
}

// Best IQ4 code-book index for x / d.
inline int iq4_index(float v) {
  int best = 0;
  float best_distance = INFINITY;
  for (int k = 0; k < 16; ++k) {
    const float distance = std::fabs(v - static_cast<float>(kIq4nlValues[k]));
    if (distance < best_distance) {
      best_distance = distance;
      best = k;
    }
  }
  return best;
}

// Scale for 32 values against the IQ4 code book (least-squares search).
inline float fit_iq4(const float* x, int n, uint8_t* idx) {
  const float max = signed_absmax(x, n);
  if (max == 0.0f) {
    for (int i = 0; i < n; ++i) idx[i] = 8;  // code 1: closest to zero
    return 0.0f;
  }
  const float base = max / static_cast<float>(kIq4nlValues[0]);
  float best_scale = base, best_error = INFINITY;
  for (int step = -10; step <= 10; ++step) {
    const float d = base * (1.0f + 0.02f * static_cast<float>(step));
    double sxv = 0, svv = 0;
    for (int i = 0; i < n; ++i) {
      const float v = static_cast<float>(kIq4nlValues[iq4_index(x[i] / d)]);
      sxv += static_cast<double>(x[i]) * v;
      svv += static_cast<double>(v) * v;
    }
    const float fitted = svv > 0 ? static_cast<float>(sxv / svv) : d;
    double error = 0;
    for (int i = 0; i < n; ++i) {
      const double e = x[i] - fitted * static_cast<float>(kIq4nlValues[iq4_index(x[i] / fitted)]);
      error += e * e;
    }
    if (error < best_error) {
      best_error = static_cast<float>(error);
      best_scale = fitted;
    }
  }
  for (int i = 0; i < n; ++i) idx[i] = static_cast<uint8_t>(iq4_index(x[i] / best_scale));
  return best_scale;
}

}  // namespace detail

// --- legacy types (format formulas) ------------------------------------------

inline void quantize_block(const float* x, BlockQ4_0& b) {
  const float max = detail::signed_absmax(x, 32);
  const float d = max / -8.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  b.d = f32_to_f16(d);
  for (int j = 0; j < 16; ++j) {
    const int lo = std::min(15, static_cast<int>(x[j] * id + 8.5f));
    const int hi = std::min(15, static_cast<int>(x[j + 16] * id + 8.5f));
    b.qs[j] = static_cast<uint8_t>(lo | (hi << 4));
  }
}

inline void quantize_block(const float* x, BlockQ4_1& b) {
  const float lo = *std::min_element(x, x + 32), hi = *std::max_element(x, x + 32);
  const float d = (hi - lo) / 15.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  b.d = f32_to_f16(d);
  b.m = f32_to_f16(lo);
  for (int j = 0; j < 16; ++j) {
    const int q0 = std::min(15, static_cast<int>((x[j] - lo) * id + 0.5f));
    const int q1 = std::min(15, static_cast<int>((x[j + 16] - lo) * id + 0.5f));
    b.qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
  }
}

inline void quantize_block(const float* x, BlockQ5_0& b) {
  const float max = detail::signed_absmax(x, 32);
  const float d = max / -16.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  b.d = f32_to_f16(d);
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    const int q0 = std::min(31, static_cast<int>(x[j] * id + 16.5f));
    const int q1 = std::min(31, static_cast<int>(x[j + 16] * id + 16.5f));
    b.qs[j] = static_cast<uint8_t>((q0 & 0x0F) | ((q1 & 0x0F) << 4));
    qh |= static_cast<uint32_t>((q0 >> 4) & 1) << j;
    qh |= static_cast<uint32_t>((q1 >> 4) & 1) << (j + 16);
  }
  for (int i = 0; i < 4; ++i) b.qh[i] = static_cast<uint8_t>(qh >> (8 * i));
}

inline void quantize_block(const float* x, BlockQ5_1& b) {
  const float lo = *std::min_element(x, x + 32), hi = *std::max_element(x, x + 32);
  const float d = (hi - lo) / 31.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  b.d = f32_to_f16(d);
  b.m = f32_to_f16(lo);
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    const int q0 = std::min(31, static_cast<int>((x[j] - lo) * id + 0.5f));
    const int q1 = std::min(31, static_cast<int>((x[j + 16] - lo) * id + 0.5f));
    b.qs[j] = static_cast<uint8_t>((q0 & 0x0F) | ((q1 & 0x0F) << 4));
    qh |= static_cast<uint32_t>((q0 >> 4) & 1) << j;
    qh |= static_cast<uint32_t>((q1 >> 4) & 1) << (j + 16);
  }
  for (int i = 0; i < 4; ++i) b.qh[i] = static_cast<uint8_t>(qh >> (8 * i));
}

inline void quantize_block(const float* x, BlockQ8_0& b) {
  float amax = 0.0f;
  for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  b.d = f32_to_f16(d);
  for (int j = 0; j < 32; ++j) b.qs[j] = static_cast<int8_t>(std::round(x[j] * id));  // half away from zero
}

// --- k-quants ------------------------------------------------------------------

inline void quantize_block(const float* x, BlockQ2_K& b) {
  float scales[16], mins[16];
  for (int g = 0; g < 16; ++g) detail::fit_affine(x + 16 * g, 16, 3, scales[g], mins[g]);
  const float max_scale = *std::max_element(scales, scales + 16);
  const float max_min = *std::max_element(mins, mins + 16);
  const float d = max_scale / 15.0f, dmin = max_min / 15.0f;
  b.d = f32_to_f16(d);
  b.dmin = f32_to_f16(dmin);
  const float d_stored = f16_to_f32(b.d), dmin_stored = f16_to_f32(b.dmin);
  std::memset(b.qs, 0, sizeof b.qs);
  for (int g = 0; g < 16; ++g) {
    const int ls = d > 0 ? detail::clamp_int(detail::nearest_int(scales[g] / d), 0, 15) : 0;
    const int lm = dmin > 0 ? detail::clamp_int(detail::nearest_int(mins[g] / dmin), 0, 15) : 0;
    b.scales[g] = static_cast<uint8_t>(ls | (lm << 4));
    const float dl = d_stored * static_cast<float>(ls), ml = dmin_stored * static_cast<float>(lm);
    // group g = 8 * half + 2 * shift_index + sub
    const int half = g / 8, shift = 2 * ((g % 8) / 2), sub = g % 2;
    for (int l = 0; l < 16; ++l) {
      const int q = dl > 0 ? detail::clamp_int(detail::nearest_int((x[16 * g + l] + ml) / dl), 0, 3) : 0;
      b.qs[32 * half + 16 * sub + l] |= static_cast<uint8_t>(q << shift);
    }
  }
}

inline void quantize_block(const float* x, BlockQ3_K& b) {
  float scales[16];
  int q[16];
  for (int g = 0; g < 16; ++g) scales[g] = detail::fit_symmetric(x + 16 * g, 16, -4, 3, q);
  const float max_scale = detail::signed_absmax(scales, 16);
  const float d = max_scale != 0.0f ? max_scale / -32.0f : 0.0f;
  b.d = f32_to_f16(d);
  const float d_stored = f16_to_f32(b.d);
  std::memset(b.scales, 0, sizeof b.scales);
  std::memset(b.qs, 0, sizeof b.qs);
  std::memset(b.hmask, 0, sizeof b.hmask);
  for (int g = 0; g < 16; ++g) {
    const int l = d != 0.0f ? detail::clamp_int(detail::nearest_int(scales[g] / d), -32, 31) : 0;
    const int v = l + 32;
    b.scales[g % 8] |= static_cast<uint8_t>((v & 0x0F) << (4 * (g / 8)));
    b.scales[8 + g % 4] |= static_cast<uint8_t>((v >> 4) << (2 * (g / 4)));
    const float dl = d_stored * static_cast<float>(l);
    const int half = g / 8, shift_index = (g % 8) / 2, sub = g % 2;
    for (int i = 0; i < 16; ++i) {
      const int qi = dl != 0.0f ? detail::clamp_int(detail::nearest_int(x[16 * g + i] / dl), -4, 3) + 4 : 4;
      b.qs[32 * half + 16 * sub + i] |= static_cast<uint8_t>((qi & 3) << (2 * shift_index));
      if (qi & 4) b.hmask[16 * sub + i] |= static_cast<uint8_t>(1u << (4 * half + shift_index));
    }
  }
}

// Packs 8 six-bit scales and mins into the 12-byte Q4_K / Q5_K layout.
inline void pack_k4_scales(const int* ls, const int* lm, uint8_t* s) {
  for (int j = 0; j < 4; ++j) {
    s[j] = static_cast<uint8_t>((ls[j] & 63) | ((ls[j + 4] >> 4) << 6));
    s[j + 4] = static_cast<uint8_t>((lm[j] & 63) | ((lm[j + 4] >> 4) << 6));
    s[j + 8] = static_cast<uint8_t>((ls[j + 4] & 0x0F) | ((lm[j + 4] & 0x0F) << 4));
  }
}

// Shared by Q4_K (qmax 15) and Q5_K (qmax 31): sub-block fits, 6-bit scales.
inline void quantize_k4_groups(const float* x, int qmax, uint16_t& d_out, uint16_t& dmin_out, uint8_t* packed,
                               int* q) {
  float scales[8], mins[8];
  for (int g = 0; g < 8; ++g) detail::fit_affine(x + 32 * g, 32, qmax, scales[g], mins[g]);
  const float d = *std::max_element(scales, scales + 8) / 63.0f;
  const float dmin = *std::max_element(mins, mins + 8) / 63.0f;
  d_out = f32_to_f16(d);
  dmin_out = f32_to_f16(dmin);
  const float d_stored = f16_to_f32(d_out), dmin_stored = f16_to_f32(dmin_out);
  int ls[8], lm[8];
  for (int g = 0; g < 8; ++g) {
    ls[g] = d > 0 ? detail::clamp_int(detail::nearest_int(scales[g] / d), 0, 63) : 0;
    lm[g] = dmin > 0 ? detail::clamp_int(detail::nearest_int(mins[g] / dmin), 0, 63) : 0;
    const float dl = d_stored * static_cast<float>(ls[g]), ml = dmin_stored * static_cast<float>(lm[g]);
    for (int l = 0; l < 32; ++l)
      q[32 * g + l] = dl > 0 ? detail::clamp_int(detail::nearest_int((x[32 * g + l] + ml) / dl), 0, qmax) : 0;
  }
  pack_k4_scales(ls, lm, packed);
}

inline void quantize_block(const float* x, BlockQ4_K& b) {
  int q[256];
  quantize_k4_groups(x, 15, b.d, b.dmin, b.scales, q);
  for (int pair = 0; pair < 4; ++pair)
    for (int l = 0; l < 32; ++l)
      b.qs[32 * pair + l] = static_cast<uint8_t>(q[64 * pair + l] | (q[64 * pair + 32 + l] << 4));
}

inline void quantize_block(const float* x, BlockQ5_K& b) {
  int q[256];
  quantize_k4_groups(x, 31, b.d, b.dmin, b.scales, q);
  std::memset(b.qh, 0, sizeof b.qh);
  for (int pair = 0; pair < 4; ++pair)
    for (int l = 0; l < 32; ++l) {
      const int lo = q[64 * pair + l], hi = q[64 * pair + 32 + l];
      b.qs[32 * pair + l] = static_cast<uint8_t>((lo & 0x0F) | ((hi & 0x0F) << 4));
      b.qh[l] |= static_cast<uint8_t>(((lo >> 4) << (2 * pair)) | ((hi >> 4) << (2 * pair + 1)));
    }
}

inline void quantize_block(const float* x, BlockQ6_K& b) {
  float scales[16];
  int q[16];
  for (int g = 0; g < 16; ++g) scales[g] = detail::fit_symmetric(x + 16 * g, 16, -32, 31, q);
  const float max_scale = detail::signed_absmax(scales, 16);
  const float d = max_scale != 0.0f ? max_scale / -128.0f : 0.0f;
  b.d = f32_to_f16(d);
  const float d_stored = f16_to_f32(b.d);
  int values[256];
  for (int g = 0; g < 16; ++g) {
    const int l = d != 0.0f ? detail::clamp_int(detail::nearest_int(scales[g] / d), -128, 127) : 0;
    b.scales[g] = static_cast<int8_t>(l);
    const float dl = d_stored * static_cast<float>(l);
    for (int i = 0; i < 16; ++i)
      values[16 * g + i] = dl != 0.0f ? detail::clamp_int(detail::nearest_int(x[16 * g + i] / dl), -32, 31) + 32 : 32;
  }
  for (int half = 0; half < 2; ++half) {
    const int* v = values + 128 * half;
    uint8_t* ql = b.ql + 64 * half;
    uint8_t* qh = b.qh + 32 * half;
    for (int l = 0; l < 32; ++l) {
      ql[l] = static_cast<uint8_t>((v[l] & 0x0F) | ((v[l + 64] & 0x0F) << 4));
      ql[l + 32] = static_cast<uint8_t>((v[l + 32] & 0x0F) | ((v[l + 96] & 0x0F) << 4));
      qh[l] = static_cast<uint8_t>((v[l] >> 4) | ((v[l + 32] >> 4) << 2) | ((v[l + 64] >> 4) << 4) |
                                   ((v[l + 96] >> 4) << 6));
    }
  }
}

inline void quantize_block(const float* x, BlockQ8_K& b) {
  const float max = detail::signed_absmax(x, 256);
  if (max == 0.0f) {
    std::memset(&b, 0, sizeof b);
    return;
  }
  const float iscale = -127.0f / max;
  for (int j = 0; j < 256; ++j) b.qs[j] = static_cast<int8_t>(std::min(127, detail::nearest_int(iscale * x[j])));
  for (int i = 0; i < 16; ++i) {
    int sum = 0;
    for (int j = 0; j < 16; ++j) sum += b.qs[16 * i + j];
    b.bsums[i] = static_cast<int16_t>(sum);
  }
  b.d = 1.0f / iscale;
}

// --- IQ4 -------------------------------------------------------------------------

inline void quantize_block(const float* x, BlockIQ4_NL& b) {
  uint8_t idx[32];
  const float d = detail::fit_iq4(x, 32, idx);
  b.d = f32_to_f16(d);
  const float d_stored = f16_to_f32(b.d);
  for (int j = 0; j < 32; ++j)
    if (d_stored != 0.0f) idx[j] = static_cast<uint8_t>(detail::iq4_index(x[j] / d_stored));
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(idx[j] | (idx[j + 16] << 4));
}

inline void quantize_block(const float* x, BlockIQ4_XS& b) {
  float scales[8];
  uint8_t idx[32];
  for (int g = 0; g < 8; ++g) scales[g] = detail::fit_iq4(x + 32 * g, 32, idx);
  const float max_scale = detail::signed_absmax(scales, 8);
  const float d = max_scale != 0.0f ? max_scale / -32.0f : 0.0f;
  b.d = f32_to_f16(d);
  const float d_stored = f16_to_f32(b.d);
  b.scales_h = 0;
  std::memset(b.scales_l, 0, sizeof b.scales_l);
  for (int g = 0; g < 8; ++g) {
    const int l = d != 0.0f ? detail::clamp_int(detail::nearest_int(scales[g] / d), -32, 31) : 0;
    const int v = l + 32;
    b.scales_l[g / 2] |= static_cast<uint8_t>((v & 0x0F) << (4 * (g % 2)));
    b.scales_h = static_cast<uint16_t>(b.scales_h | ((v >> 4) << (2 * g)));
    const float dl = d_stored * static_cast<float>(l);
    for (int j = 0; j < 32; ++j) idx[j] = dl != 0.0f ? static_cast<uint8_t>(detail::iq4_index(x[32 * g + j] / dl)) : 8;
    for (int j = 0; j < 16; ++j) b.qs[16 * g + j] = static_cast<uint8_t>(idx[j] | (idx[j + 16] << 4));
  }
}

// --- rows ------------------------------------------------------------------------

template <class Block>
inline void quantize_blocks(const float* src, void* dst, int64_t n_blocks, int block_elements) {
  Block* blocks = static_cast<Block*>(dst);
  for (int64_t i = 0; i < n_blocks; ++i) quantize_block(src + i * block_elements, blocks[i]);
}

// Quantizes `n` floats (a multiple of the type's block size) into `dst`, which
// holds n / block_elements * block_bytes bytes. False for an unsupported type.
inline bool quantize_row(int32_t dtype, const float* src, void* dst, int64_t n) {
  uint8_t* bytes = static_cast<uint8_t*>(dst);
  switch (dtype) {
    case TESSERA_DTYPE_F32: std::memcpy(dst, src, static_cast<size_t>(n) * 4); return true;
    case TESSERA_DTYPE_F16:
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = f32_to_f16(src[i]);
        std::memcpy(bytes + 2 * i, &h, 2);
      }
      return true;
    case TESSERA_DTYPE_BF16:
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = f32_to_bf16(src[i]);
        std::memcpy(bytes + 2 * i, &h, 2);
      }
      return true;
    case TESSERA_DTYPE_Q4_0: quantize_blocks<BlockQ4_0>(src, dst, n / 32, 32); return true;
    case TESSERA_DTYPE_Q4_1: quantize_blocks<BlockQ4_1>(src, dst, n / 32, 32); return true;
    case TESSERA_DTYPE_Q5_0: quantize_blocks<BlockQ5_0>(src, dst, n / 32, 32); return true;
    case TESSERA_DTYPE_Q5_1: quantize_blocks<BlockQ5_1>(src, dst, n / 32, 32); return true;
    case TESSERA_DTYPE_Q8_0: quantize_blocks<BlockQ8_0>(src, dst, n / 32, 32); return true;
    case TESSERA_DTYPE_Q2_K: quantize_blocks<BlockQ2_K>(src, dst, n / 256, 256); return true;
    case TESSERA_DTYPE_Q3_K: quantize_blocks<BlockQ3_K>(src, dst, n / 256, 256); return true;
    case TESSERA_DTYPE_Q4_K: quantize_blocks<BlockQ4_K>(src, dst, n / 256, 256); return true;
    case TESSERA_DTYPE_Q5_K: quantize_blocks<BlockQ5_K>(src, dst, n / 256, 256); return true;
    case TESSERA_DTYPE_Q6_K: quantize_blocks<BlockQ6_K>(src, dst, n / 256, 256); return true;
    case TESSERA_DTYPE_Q8_K: quantize_blocks<BlockQ8_K>(src, dst, n / 256, 256); return true;
    case TESSERA_DTYPE_IQ4_NL: quantize_blocks<BlockIQ4_NL>(src, dst, n / 32, 32); return true;
    case TESSERA_DTYPE_IQ4_XS: quantize_blocks<BlockIQ4_XS>(src, dst, n / 256, 256); return true;
    default: return false;
  }
}

}  // namespace tessera::quant
