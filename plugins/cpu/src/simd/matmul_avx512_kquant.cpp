// AVX-512 mul_mat for the 256-value super-block types: Q2_K, Q3_K, Q4_K,
// Q5_K, Q6_K, Q8_K and IQ4_XS. Per block the packed sub-block scales are
// unpacked with a few 64-bit integer operations and converted to floats in
// one vector; the codes are widened to 32-bit lanes and scaled per group.
#include "avx512_intrin.hpp"

#include "avx512_kernels.hpp"
#include "avx512_matmul.hpp"
#include "tessera/quant/blocks.hpp"
#include "tessera/types.h"

namespace tessera::cpu::avx512 {
namespace {

using namespace tessera::quant;

inline __m512 u8_to_ps(__m128i v) { return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(v)); }
inline __m128i set_u64x2(uint64_t lo, uint64_t hi) {
  return _mm_set_epi64x(static_cast<long long>(hi), static_cast<long long>(lo));
}
inline __m128i bits_of(int shift, __m128i q, int mask) {  // (q >> shift) & mask, per byte
  return _mm_and_si128(_mm_srli_epi16(q, shift), _mm_set1_epi8(static_cast<char>(mask)));
}

// x = d * scale * q - dmin * min, groups of 16, q in 0..3.
struct DecodeQ2_K {
  static constexpr int kValues = 256, kBytes = sizeof(BlockQ2_K);
  static constexpr bool kTail = false;
  template <class Sink>
  static void block(const std::byte* p, Sink&& sink) {
    const auto& b = *reinterpret_cast<const BlockQ2_K*>(p);
    const __m128i sc = load128(b.scales);
    alignas(64) float dl[16], ml[16];
    _mm512_store_ps(dl, _mm512_mul_ps(_mm512_set1_ps(half_to_float(b.d)), u8_to_ps(bits_of(0, sc, 0x0F))));
    _mm512_store_ps(ml, _mm512_mul_ps(_mm512_set1_ps(half_to_float(b.dmin)), u8_to_ps(bits_of(4, sc, 0x0F))));
    for (int half = 0; half < 2; ++half) {
      const __m128i q0 = load128(b.qs + 32 * half), q1 = load128(b.qs + 32 * half + 16);
      for (int s = 0; s < 4; ++s) {
        const int g = 8 * half + 2 * s;
        const __m512 lo = _mm512_fmsub_ps(u8_to_ps(bits_of(2 * s, q0, 3)), _mm512_set1_ps(dl[g]), _mm512_set1_ps(ml[g]));
        const __m512 hi =
            _mm512_fmsub_ps(u8_to_ps(bits_of(2 * s, q1, 3)), _mm512_set1_ps(dl[g + 1]), _mm512_set1_ps(ml[g + 1]));
        sink(32 * (4 * half + s), lo, hi);
      }
    }
  }
};

// x = d * (scale - 32) * (q - 4 * !hbit), groups of 16.
struct DecodeQ3_K {
  static constexpr int kValues = 256, kBytes = sizeof(BlockQ3_K);
  static constexpr bool kTail = false;
  template <class Sink>
  static void block(const std::byte* p, Sink&& sink) {
    const auto& b = *reinterpret_cast<const BlockQ3_K*>(p);
    // Scale of group g: low 4 bits in byte g % 8 (nibble g / 8), high 2 bits
    // in byte 8 + g % 4 (bits 2 * (g / 4)); unpacked 8 groups per uint64.
    uint64_t a;
    uint32_t c;
    std::memcpy(&a, b.scales, 8);
    std::memcpy(&c, b.scales + 8, 4);
    const auto pair = [](uint32_t lo, uint32_t hi) { return static_cast<uint64_t>(lo) | static_cast<uint64_t>(hi) << 32; };
    const uint64_t s0 = (a & 0x0F0F0F0F0F0F0F0Full) | pair(c & 0x03030303u, (c >> 2) & 0x03030303u) << 4;
    const uint64_t s1 = ((a >> 4) & 0x0F0F0F0F0F0F0F0Full) | pair((c >> 4) & 0x03030303u, (c >> 6) & 0x03030303u) << 4;
    const __m512i scales = _mm512_sub_epi32(_mm512_cvtepu8_epi32(set_u64x2(s0, s1)), _mm512_set1_epi32(32));
    alignas(64) float dl[16];
    _mm512_store_ps(dl, _mm512_mul_ps(_mm512_set1_ps(half_to_float(b.d)), _mm512_cvtepi32_ps(scales)));
    const __m128i h0 = load128(b.hmask), h1 = load128(b.hmask + 16), four = _mm_set1_epi8(4);
    for (int half = 0; half < 2; ++half) {
      const __m128i q0 = load128(b.qs + 32 * half), q1 = load128(b.qs + 32 * half + 16);
      for (int s = 0; s < 4; ++s) {
        const int g = 8 * half + 2 * s;
        const __m128i bit = _mm_set1_epi8(static_cast<char>(1 << (4 * half + s)));
        __m128i v0 = bits_of(2 * s, q0, 3), v1 = bits_of(2 * s, q1, 3);
        v0 = _mm_mask_sub_epi8(v0, _mm_testn_epi8_mask(h0, bit), v0, four);
        v1 = _mm_mask_sub_epi8(v1, _mm_testn_epi8_mask(h1, bit), v1, four);
        sink(32 * (4 * half + s), _mm512_mul_ps(_mm512_set1_ps(dl[g]), i8_to_ps(v0)),
             _mm512_mul_ps(_mm512_set1_ps(dl[g + 1]), i8_to_ps(v1)));
      }
    }
  }
};

// Q4_K / Q5_K: 8 groups of 32 with 6-bit scales and mins. Fills
// sm[0..7] = d * scale, sm[8..15] = dmin * min.
inline void k4_scales(const uint8_t* q, uint16_t d, uint16_t dmin, float* sm) {
  uint32_t a, b, c;
  std::memcpy(&a, q, 4);
  std::memcpy(&b, q + 4, 4);
  std::memcpy(&c, q + 8, 4);
  const uint64_t sc = (a & 0x3F3F3F3Fu) | static_cast<uint64_t>((c & 0x0F0F0F0Fu) | ((a >> 6) & 0x03030303u) << 4) << 32;
  const uint64_t mn =
      (b & 0x3F3F3F3Fu) | static_cast<uint64_t>(((c >> 4) & 0x0F0F0F0Fu) | ((b >> 6) & 0x03030303u) << 4) << 32;
  const __m512 factor = _mm512_mask_blend_ps(0xFF00, _mm512_set1_ps(half_to_float(d)), _mm512_set1_ps(half_to_float(dmin)));
  _mm512_store_ps(sm, _mm512_mul_ps(factor, u8_to_ps(set_u64x2(sc, mn))));
}

struct DecodeQ4_K {
  static constexpr int kValues = 256, kBytes = sizeof(BlockQ4_K);
  static constexpr bool kTail = false;
  template <class Sink>
  static void block(const std::byte* p, Sink&& sink) {
    const auto& b = *reinterpret_cast<const BlockQ4_K*>(p);
    alignas(64) float sm[16];
    k4_scales(b.scales, b.d, b.dmin, sm);
    const __m512i low4 = _mm512_set1_epi32(0x0F);
    for (int pair = 0; pair < 4; ++pair) {  // groups 2 pair (low nibbles) and 2 pair + 1 (high)
      const __m512i v0 = _mm512_cvtepu8_epi32(load128(b.qs + 32 * pair));
      const __m512i v1 = _mm512_cvtepu8_epi32(load128(b.qs + 32 * pair + 16));
      const int g = 2 * pair;
      const __m512 d0 = _mm512_set1_ps(sm[g]), m0 = _mm512_set1_ps(sm[8 + g]);
      const __m512 d1 = _mm512_set1_ps(sm[g + 1]), m1 = _mm512_set1_ps(sm[9 + g]);
      sink(64 * pair, _mm512_fmsub_ps(_mm512_cvtepi32_ps(_mm512_and_si512(v0, low4)), d0, m0),
           _mm512_fmsub_ps(_mm512_cvtepi32_ps(_mm512_and_si512(v1, low4)), d0, m0));
      sink(64 * pair + 32, _mm512_fmsub_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(v0, 4)), d1, m1),
           _mm512_fmsub_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(v1, 4)), d1, m1));
    }
  }
};

// Q4_K plus a fifth bit: bit g of qh[l] for value l of group g.
struct DecodeQ5_K {
  static constexpr int kValues = 256, kBytes = sizeof(BlockQ5_K);
  static constexpr bool kTail = false;
  template <class Sink>
  static void block(const std::byte* p, Sink&& sink) {
    const auto& b = *reinterpret_cast<const BlockQ5_K*>(p);
    alignas(64) float sm[16];
    k4_scales(b.scales, b.d, b.dmin, sm);
    const __m512i low4 = _mm512_set1_epi32(0x0F), sixteen = _mm512_set1_epi32(16);
    const __m512i h0 = _mm512_cvtepu8_epi32(load128(b.qh)), h1 = _mm512_cvtepu8_epi32(load128(b.qh + 16));
    for (int pair = 0; pair < 4; ++pair) {
      const __m512i v0 = _mm512_cvtepu8_epi32(load128(b.qs + 32 * pair));
      const __m512i v1 = _mm512_cvtepu8_epi32(load128(b.qs + 32 * pair + 16));
      for (int nib = 0; nib < 2; ++nib) {
        const int g = 2 * pair + nib;
        const __m512i bit = _mm512_set1_epi32(1 << g);
        __m512i q0 = nib == 0 ? _mm512_and_si512(v0, low4) : _mm512_srli_epi32(v0, 4);
        __m512i q1 = nib == 0 ? _mm512_and_si512(v1, low4) : _mm512_srli_epi32(v1, 4);
        q0 = _mm512_mask_or_epi32(q0, _mm512_test_epi32_mask(h0, bit), q0, sixteen);
        q1 = _mm512_mask_or_epi32(q1, _mm512_test_epi32_mask(h1, bit), q1, sixteen);
        const __m512 d = _mm512_set1_ps(sm[g]), m = _mm512_set1_ps(sm[8 + g]);
        sink(32 * g, _mm512_fmsub_ps(_mm512_cvtepi32_ps(q0), d, m), _mm512_fmsub_ps(_mm512_cvtepi32_ps(q1), d, m));
      }
    }
  }
};

// x = d * scale * (q - 32), 16 groups of 16, q = 4 bits of ql + 2 of qh.
struct DecodeQ6_K {
  static constexpr int kValues = 256, kBytes = sizeof(BlockQ6_K);
  static constexpr bool kTail = false;
  template <class Sink>
  static void block(const std::byte* p, Sink&& sink) {
    const auto& b = *reinterpret_cast<const BlockQ6_K*>(p);
    alignas(64) float dl[16];
    _mm512_store_ps(dl, _mm512_mul_ps(_mm512_set1_ps(half_to_float(b.d)), i8_to_ps(load128(b.scales))));
    const __m512i low4 = _mm512_set1_epi32(0x0F), two = _mm512_set1_epi32(0x30), off = _mm512_set1_epi32(32);
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = b.ql + 64 * half;
      const uint8_t* qh = b.qh + 32 * half;
      __m512i a[2], c[2], h[2];  // ql[l], ql[l + 32], qh[l] for l in 0..15 and 16..31
      for (int i = 0; i < 2; ++i) {
        a[i] = _mm512_cvtepu8_epi32(load128(ql + 16 * i));
        c[i] = _mm512_cvtepu8_epi32(load128(ql + 32 + 16 * i));
        h[i] = _mm512_cvtepu8_epi32(load128(qh + 16 * i));
      }
      for (int j = 0; j < 4; ++j) {  // values 32 j + l of this half
        __m512 v[2];
        for (int i = 0; i < 2; ++i) {
          const __m512i low = j % 2 == 0 ? (j == 0 ? _mm512_and_si512(a[i], low4) : _mm512_srli_epi32(a[i], 4))
                                         : (j == 1 ? _mm512_and_si512(c[i], low4) : _mm512_srli_epi32(c[i], 4));
          // bits 2j..2j+1 of qh moved to bits 4..5
          const __m512i high = _mm512_and_si512(j < 2 ? _mm512_slli_epi32(h[i], 4 - 2 * j) : _mm512_srli_epi32(h[i], 2 * j - 4), two);
          const __m512i q = _mm512_sub_epi32(_mm512_or_si512(low, high), off);
          v[i] = _mm512_mul_ps(_mm512_set1_ps(dl[8 * half + 2 * j + i]), _mm512_cvtepi32_ps(q));
        }
        sink(128 * half + 32 * j, v[0], v[1]);
      }
    }
  }
};

struct DecodeQ8_K {
  static constexpr int kValues = 256, kBytes = sizeof(BlockQ8_K);
  static constexpr bool kTail = false;
  template <class Sink>
  static void block(const std::byte* p, Sink&& sink) {
    const auto& b = *reinterpret_cast<const BlockQ8_K*>(p);
    const __m512 d = _mm512_set1_ps(b.d);
    for (int i = 0; i < 8; ++i)
      sink(32 * i, _mm512_mul_ps(d, i8_to_ps(load128(b.qs + 32 * i))), _mm512_mul_ps(d, i8_to_ps(load128(b.qs + 32 * i + 16))));
  }
};

// 8 groups of 32: a per-group copy of the non-linear code book, scaled.
struct DecodeIQ4_XS {
  static constexpr int kValues = 256, kBytes = sizeof(BlockIQ4_XS);
  static constexpr bool kTail = false;
  template <class Sink>
  static void block(const std::byte* p, Sink&& sink) {
    const auto& b = *reinterpret_cast<const BlockIQ4_XS*>(p);
    const float d = half_to_float(b.d);
    const __m512 book = i8_to_ps(load128(kIq4nlValues));
    const __m512i low4 = _mm512_set1_epi32(0x0F);
    for (int g = 0; g < 8; ++g) {
      const int low = (b.scales_l[g / 2] >> (4 * (g % 2))) & 0x0F;
      const int high = (b.scales_h >> (2 * g)) & 0x03;
      const __m512 table = _mm512_mul_ps(_mm512_set1_ps(d * static_cast<float>((low | (high << 4)) - 32)), book);
      const __m512i v = _mm512_cvtepu8_epi32(load128(b.qs + 16 * g));
      sink(32 * g, _mm512_permutexvar_ps(_mm512_and_si512(v, low4), table),
           _mm512_permutexvar_ps(_mm512_srli_epi32(v, 4), table));
    }
  }
};

}  // namespace

MatMulFn kquant_kernel(int32_t dtype) {
  switch (dtype) {
    case TESSERA_DTYPE_Q2_K: return run<DecodeQ2_K>;
    case TESSERA_DTYPE_Q3_K: return run<DecodeQ3_K>;
    case TESSERA_DTYPE_Q4_K: return run<DecodeQ4_K>;
    case TESSERA_DTYPE_Q5_K: return run<DecodeQ5_K>;
    case TESSERA_DTYPE_Q6_K: return run<DecodeQ6_K>;
    case TESSERA_DTYPE_Q8_K: return run<DecodeQ8_K>;
    case TESSERA_DTYPE_IQ4_XS: return run<DecodeIQ4_XS>;
    default: return nullptr;
  }
}

}  // namespace tessera::cpu::avx512
