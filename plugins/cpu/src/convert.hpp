// Element conversions between the float types ops read and write, header-only
// so the SIMD paths to come share the exact rounding of the scalar reference.
// The bit-level IEEE half math itself is the SDK's (tessera/quant/half.hpp).
#pragma once

#include <cstddef>
#include <cstdint>

#include "tessera/quant/dequantize.hpp"
#include "tessera/quant/half.hpp"
#include "tessera/types.h"

namespace tessera::cpu {

inline float half_to_float(uint16_t h) { return quant::f16_to_f32(h); }
inline uint16_t float_to_half(float f) { return quant::f32_to_f16(f); }  // round to nearest even

// n contiguous elements of `dtype` -> float. F32/F16 here; every other
// type (BF16, the GGUF block quants) through the SDK's reference
// dequantizer, so this path is the reference the fast kernels match.
inline void row_to_float(const std::byte* src, int32_t dtype, float* dst, int64_t n) {
  if (dtype != TESSERA_DTYPE_F16 && dtype != TESSERA_DTYPE_F32) {
    quant::dequantize_row(dtype, src, dst, n);
  } else if (dtype == TESSERA_DTYPE_F16) {
    const auto* h = reinterpret_cast<const uint16_t*>(src);
    for (int64_t i = 0; i < n; ++i) dst[i] = half_to_float(h[i]);
  } else {
    const auto* f = reinterpret_cast<const float*>(src);
    for (int64_t i = 0; i < n; ++i) dst[i] = f[i];
  }
}

// n floats -> n contiguous elements of `dtype` (F32 or F16).
inline void row_from_float(const float* src, int32_t dtype, std::byte* dst, int64_t n) {
  if (dtype == TESSERA_DTYPE_F16) {
    auto* h = reinterpret_cast<uint16_t*>(dst);
    for (int64_t i = 0; i < n; ++i) h[i] = float_to_half(src[i]);
  } else {
    auto* f = reinterpret_cast<float*>(dst);
    for (int64_t i = 0; i < n; ++i) f[i] = src[i];
  }
}

// One element of `dtype` (F32 or F16) at `p`.
inline float load_float(const std::byte* p, int32_t dtype) {
  return dtype == TESSERA_DTYPE_F16 ? half_to_float(*reinterpret_cast<const uint16_t*>(p))
                                    : *reinterpret_cast<const float*>(p);
}

inline void store_float(std::byte* p, int32_t dtype, float v) {
  if (dtype == TESSERA_DTYPE_F16)
    *reinterpret_cast<uint16_t*>(p) = float_to_half(v);
  else
    *reinterpret_cast<float*>(p) = v;
}

}  // namespace tessera::cpu
