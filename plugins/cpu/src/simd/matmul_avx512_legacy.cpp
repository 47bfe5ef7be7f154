// AVX-512 mul_mat for the 32-value block types: Q4_0, Q4_1, Q5_0, Q5_1,
// Q8_0 and IQ4_NL. Four- and five-bit codes are decoded by a table lookup
// in registers (vpermps / vpermt2ps): the block's 16 or 32 possible values
// are computed once per block, then each code costs one permute. Every
// table entry is computed exactly as the scalar reference computes the value.
#include "avx512_intrin.hpp"

#include "avx512_kernels.hpp"
#include "avx512_matmul.hpp"
#include "tessera/quant/blocks.hpp"
#include "tessera/types.h"

namespace tessera::cpu::avx512 {
namespace {

using namespace tessera::quant;

inline __m512 kIota() { return _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15); }

// 16 code bytes -> low nibbles (values 0..15) and high nibbles (16..31)
// as 32-bit lanes; vpermps reads only the low 4 bits of an index.
inline void nibbles(const uint8_t* qs, __m512i& lo, __m512i& hi) {
  const __m512i v = _mm512_cvtepu8_epi32(load128(qs));
  lo = _mm512_and_si512(v, _mm512_set1_epi32(0x0F));
  hi = _mm512_srli_epi32(v, 4);
}

struct DecodeQ4_0 {
  static constexpr int kValues = 32, kBytes = sizeof(BlockQ4_0);
  static constexpr bool kTail = false;
  template <class Sink>
  static void block(const std::byte* p, Sink&& sink) {
    const auto& b = *reinterpret_cast<const BlockQ4_0*>(p);
    const __m512 table =  // d * (q - 8)
        _mm512_mul_ps(_mm512_set1_ps(half_to_float(b.d)), _mm512_sub_ps(kIota(), _mm512_set1_ps(8.0f)));
    __m512i lo, hi;
    nibbles(b.qs, lo, hi);
    sink(0, _mm512_permutexvar_ps(lo, table), _mm512_permutexvar_ps(hi, table));
  }
};

struct DecodeQ4_1 {
  static constexpr int kValues = 32, kBytes = sizeof(BlockQ4_1);
  static constexpr bool kTail = false;
  template <class Sink>
  static void block(const std::byte* p, Sink&& sink) {
    const auto& b = *reinterpret_cast<const BlockQ4_1*>(p);
    const __m512 table = _mm512_add_ps(_mm512_mul_ps(_mm512_set1_ps(half_to_float(b.d)), kIota()),
                                       _mm512_set1_ps(half_to_float(b.m)));  // d * q + m
    __m512i lo, hi;
    nibbles(b.qs, lo, hi);
    sink(0, _mm512_permutexvar_ps(lo, table), _mm512_permutexvar_ps(hi, table));
  }
};

// Five-bit codes: index bit 4 (from qh) picks the second table of vpermt2ps.
inline void five_bit(const uint8_t* qs, const uint8_t* qh, __m512i& lo, __m512i& hi) {
  nibbles(qs, lo, hi);
  uint32_t bits;
  std::memcpy(&bits, qh, sizeof bits);
  const __m512i sixteen = _mm512_set1_epi32(16);
  lo = _mm512_mask_or_epi32(lo, static_cast<__mmask16>(bits & 0xFFFFu), lo, sixteen);
  hi = _mm512_mask_or_epi32(hi, static_cast<__mmask16>(bits >> 16), hi, sixteen);
}

struct DecodeQ5_0 {
  static constexpr int kValues = 32, kBytes = sizeof(BlockQ5_0);
  static constexpr bool kTail = false;
  template <class Sink>
  static void block(const std::byte* p, Sink&& sink) {
    const auto& b = *reinterpret_cast<const BlockQ5_0*>(p);
    const __m512 d = _mm512_set1_ps(half_to_float(b.d));
    const __m512 t0 = _mm512_mul_ps(d, _mm512_sub_ps(kIota(), _mm512_set1_ps(16.0f)));  // q 0..15: d * (q - 16)
    const __m512 t1 = _mm512_mul_ps(d, kIota());                                        // q 16..31
    __m512i lo, hi;
    five_bit(b.qs, b.qh, lo, hi);
    sink(0, _mm512_permutex2var_ps(t0, lo, t1), _mm512_permutex2var_ps(t0, hi, t1));
  }
};

struct DecodeQ5_1 {
  static constexpr int kValues = 32, kBytes = sizeof(BlockQ5_1);
  static constexpr bool kTail = false;
  template <class Sink>
  static void block(const std::byte* p, Sink&& sink) {
    const auto& b = *reinterpret_cast<const BlockQ5_1*>(p);
    const __m512 d = _mm512_set1_ps(half_to_float(b.d)), m = _mm512_set1_ps(half_to_float(b.m));
    const __m512 t0 = _mm512_add_ps(_mm512_mul_ps(d, kIota()), m);  // d * q + m
    const __m512 t1 = _mm512_add_ps(_mm512_mul_ps(d, _mm512_add_ps(kIota(), _mm512_set1_ps(16.0f))), m);
    __m512i lo, hi;
    five_bit(b.qs, b.qh, lo, hi);
    sink(0, _mm512_permutex2var_ps(t0, lo, t1), _mm512_permutex2var_ps(t0, hi, t1));
  }
};

struct DecodeQ8_0 {
  static constexpr int kValues = 32, kBytes = sizeof(BlockQ8_0);
  static constexpr bool kTail = false;
  template <class Sink>
  static void block(const std::byte* p, Sink&& sink) {
    const auto& b = *reinterpret_cast<const BlockQ8_0*>(p);
    const __m512 d = _mm512_set1_ps(half_to_float(b.d));
    sink(0, _mm512_mul_ps(d, i8_to_ps(load128(b.qs))), _mm512_mul_ps(d, i8_to_ps(load128(b.qs + 16))));
  }
};

struct DecodeIQ4_NL {
  static constexpr int kValues = 32, kBytes = sizeof(BlockIQ4_NL);
  static constexpr bool kTail = false;
  template <class Sink>
  static void block(const std::byte* p, Sink&& sink) {
    const auto& b = *reinterpret_cast<const BlockIQ4_NL*>(p);
    const __m512 book = i8_to_ps(load128(kIq4nlValues));
    const __m512 table = _mm512_mul_ps(_mm512_set1_ps(half_to_float(b.d)), book);
    __m512i lo, hi;
    nibbles(b.qs, lo, hi);
    sink(0, _mm512_permutexvar_ps(lo, table), _mm512_permutexvar_ps(hi, table));
  }
};

}  // namespace

MatMulFn legacy_kernel(int32_t dtype) {
  switch (dtype) {
    case TESSERA_DTYPE_Q4_0: return run<DecodeQ4_0>;
    case TESSERA_DTYPE_Q4_1: return run<DecodeQ4_1>;
    case TESSERA_DTYPE_Q5_0: return run<DecodeQ5_0>;
    case TESSERA_DTYPE_Q5_1: return run<DecodeQ5_1>;
    case TESSERA_DTYPE_Q8_0: return run<DecodeQ8_0>;
    case TESSERA_DTYPE_IQ4_NL: return run<DecodeIQ4_NL>;
    default: return nullptr;
  }
}

}  // namespace tessera::cpu::avx512
