// `kernels: vnni`: mat-vec (N <= 4) for Q2_K .. Q6_K and IQ4_XS weights as
// integer dot products, the way llama.cpp computes these types: each
// activation column is quantized once per call to Q8_K blocks (256 int8 with
// one float scale, plus the sums of every 16 codes), then per 64 values of
// a weight block one vpmaddubsw (unsigned weight codes times signed
// activation codes, pairs summed to int16) and one vpdpwssd (those int16
// times the sub-block scale of their lane, summed into int32) accumulate
// the block's integer sum, and one float FMA per block adds d_w * d_x times
// it. (vpdpbusd and a vpmulld by the lane scales is one instruction more
// per 64 values and measured slower.) The offsets (Q2_K / Q4_K / Q5_K
// mins, Q3_K's -4 and Q6_K's -32) use the activation sums instead of
// touching every value. IQ4_XS's code book values are signed: the sign
// moves to the activation byte. The float kernels expand each code to a
// float and spend one FMA per 16 values.
// N > 4 (prefill) runs int8 panels of 16 columns (see "prefill" below).
//
// Activation quantization (llama.cpp's Q8_K; the test reimplements it from
// these words): per 256 values x, amax = max |x|; amax = 0 gives d = 0 and
// codes 0; else iscale = 127 / amax (float), q = round-half-to-even(x *
// iscale) clamped to [-127, 127], d = 1 / iscale. (llama.cpp divides by the
// signed value of largest magnitude, which negates q and d together: the
// same products d * q.)
#include "avx512_intrin.hpp"

#include "avx512_kernels.hpp"
#include "avx512_matmul.hpp"
#include "int8_matvec.hpp"
#include "tessera/quant/blocks.hpp"
#include "tessera/types.h"

namespace tessera::cpu::avx512 {
namespace {

using namespace tessera::quant;

constexpr int64_t kSuper = 256;  // values per weight block and per activation block

struct KColumn {
  const int8_t* q;       // [blocks][256]
  const float* d;        // [blocks]
  const int16_t* sum16;  // [blocks][16]: sum of codes 16 i .. 16 i + 15
  const int16_t* sum32;  // [blocks][8]: sum of codes 32 i .. 32 i + 31
};

// Q4_K / Q5_K keep the codes of values 32 g .. 32 g + 31 in the low nibbles
// of qs[32 (g / 2) ..] for even g and in the high nibbles for odd g, so a
// 64-byte load masked with 0x0F holds groups 0 and 2 (4 and 6), shifted by 4
// groups 1 and 3 (5 and 7). The activation codes are stored in that order:
// 32-code chunk g of a block at position kPairOrder[g]. Q6_K keeps the
// natural order (kNaturalOrder). Only the codes are reordered; the sums stay
// indexed by group.
constexpr int kPairOrder[8] = {0, 2, 1, 3, 4, 6, 5, 7};
constexpr int kNaturalOrder[8] = {0, 1, 2, 3, 4, 5, 6, 7};

struct KActivations {
  int8_t* q;
  float* d;
  int16_t* sum16;
  int16_t* sum32;
  int64_t blocks;   // per column
  int64_t columns;  // n * c2 * c3
  const int* order;  // kPairOrder or kNaturalOrder
  KColumn column(int64_t u) const { return {q + u * blocks * kSuper, d + u * blocks, sum16 + u * blocks * 16, sum32 + u * blocks * 8}; }
};

using KJob = Int8MatVec<KActivations>;

void quantize_superblock(const float* x, const int* order, int8_t* q, float* d_out, int16_t* sum16, int16_t* sum32) {
  __m512 amax = _mm512_setzero_ps();
  for (int i = 0; i < kSuper; i += 16) amax = _mm512_max_ps(amax, _mm512_abs_ps(_mm512_loadu_ps(x + i)));
  const float m = _mm512_reduce_max_ps(amax);
  if (m == 0.0f) {
    __builtin_memset(q, 0, kSuper);
    __builtin_memset(sum16, 0, 16 * sizeof(int16_t));
    __builtin_memset(sum32, 0, 8 * sizeof(int16_t));
    *d_out = 0.0f;
    return;
  }
  const float iscale = 127.0f / m;
  const __m512 vs = _mm512_set1_ps(iscale);
  const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
  for (int i = 0; i < kSuper; i += 16) {
    // cvt rounds half to even (the default MXCSR mode), as llama.cpp's nearest_int
    const __m512i v = _mm512_cvt_roundps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + i), vs),
                                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512i c = _mm512_min_epi32(_mm512_max_epi32(v, lo), hi);
    int8_t* to = q + 32 * order[i / 32] + i % 32;
    _mm_storeu_si128(reinterpret_cast<__m128i*>(to), _mm512_cvtepi32_epi8(c));
    sum16[i / 16] = static_cast<int16_t>(_mm512_reduce_add_epi32(c));
  }
  for (int g = 0; g < 8; ++g) sum32[g] = static_cast<int16_t>(sum16[2 * g] + sum16[2 * g + 1]);
  *d_out = 1.0f / iscale;
}

// One activation column per unit.
void quantize_range(void* user, int64_t begin, int64_t end, int) {
  const KJob& jb = *static_cast<const KJob*>(user);
  const MatMulJob& j = *jb.job;
  const KActivations& a = jb.act;
  for (int64_t u = begin; u < end; ++u) {
    const float* x = activation_column(j, u);
    for (int64_t b = 0; b < a.blocks; ++b) {
      const int64_t block = u * a.blocks + b;
      quantize_superblock(x + b * kSuper, a.order, a.q + block * kSuper, a.d + block, a.sum16 + block * 16, a.sum32 + block * 8);
    }
  }
}

inline __m512i load512(const void* p) { return _mm512_loadu_si512(p); }

// Q4_K / Q5_K scales and mins (6 bits each, 12 bytes) as bytes: 0..7 the
// scales, 8..15 the mins, unpacked in one 16-byte vector `block` that
// starts 4 bytes before the 12 packed bytes (a Q4_K / Q5_K block starts
// with d and dmin): bytes 4..7 (a) hold the low 6 bits of scales 0..3 and
// in their top 2 bits the high bits of scales 4..7, bytes 8..11 (b) the
// same for the mins, bytes 12..15 (c) the low 4 bits of scales 4..7 (low
// nibbles) and of mins 4..7 (high nibbles). (Vector shuffles instead of
// scalar shifts: the scalar unpack was 12% of the mat-vec.)
inline __m128i k4_scale_min_bytes(__m128i block) {
  const __m128i low6 = _mm_and_si128(block, _mm_set1_epi8(0x3F));
  const __m128i top2 = _mm_and_si128(_mm_srli_epi16(block, 2), _mm_set1_epi8(0x30));  // bits 6-7 -> 4-5
  const __m128i nib_lo = _mm_and_si128(block, _mm_set1_epi8(0x0F));
  const __m128i nib_hi = _mm_and_si128(_mm_srli_epi16(block, 4), _mm_set1_epi8(0x0F));
  constexpr char z = -128;  // pshufb: zero
  const __m128i first = _mm_shuffle_epi8(low6, _mm_setr_epi8(4, 5, 6, 7, z, z, z, z, 8, 9, 10, 11, z, z, z, z));
  const __m128i high = _mm_shuffle_epi8(top2, _mm_setr_epi8(z, z, z, z, 4, 5, 6, 7, z, z, z, z, 8, 9, 10, 11));
  const __m128i lo4 = _mm_shuffle_epi8(nib_lo, _mm_setr_epi8(z, z, z, z, 12, 13, 14, 15, z, z, z, z, z, z, z, z));
  const __m128i hi4 = _mm_shuffle_epi8(nib_hi, _mm_setr_epi8(z, z, z, z, z, z, z, z, z, z, z, z, 12, 13, 14, 15));
  return _mm_or_si128(_mm_or_si128(first, high), _mm_or_si128(lo4, hi4));
}

// Q4_K / Q5_K: `mins` gets the 8 mins as int16; returns the 8 scale bytes
// in every 128-bit lane, for kPairGroupBytes to spread to their codes.
inline __m512i k4_scales_mins(const std::byte* block, __m128i& mins) {
  const __m128i both = k4_scale_min_bytes(load128(block));
  mins = _mm_cvtepu8_epi16(_mm_srli_si128(both, 8));
  return _mm512_broadcast_i32x4(both);
}

// The group of int16 lane i (codes 2 i, 2 i + 1) of Q4_K / Q5_K code vector
// v (kPairOrder: group 4 (v / 2) + v % 2 in bytes 0..31, that + 2 in bytes
// 32..63).
constexpr int16_t pair_group(int v, int i) { return static_cast<int16_t>(4 * (v / 2) + v % 2 + (i < 16 ? 0 : 2)); }
// int16 lane i of Q6_K code vector v (values 64 v + 2 i, + 1): group 4 v + i / 8.
constexpr int16_t quad_group(int v, int i) { return static_cast<int16_t>(4 * v + i / 8); }

template <int16_t (*F)(int, int)>
struct GroupIndex {
  alignas(64) int16_t lane[4][32];
  constexpr GroupIndex() : lane{} {
    for (int v = 0; v < 4; ++v)
      for (int i = 0; i < 32; ++i) lane[v][i] = F(v, i);
  }
};
constexpr GroupIndex<quad_group> kQuadGroups16{};
// int16 lane i of IQ4_XS code vector v (values 64 v + 2 i, + 1): group 2 v + i / 16.
constexpr int16_t natural_pair_group(int v, int i) { return static_cast<int16_t>(2 * v + i / 16); }
constexpr GroupIndex<natural_pair_group> kNaturalPairGroups16{};

// The same as vpshufb controls on int8 scales in every 128-bit lane: the
// scale's byte, then a zero byte (unsigned scales only: Q4_K / Q5_K).
// (One vpshufb instead of a vpermw per 64 codes measured 4% faster.)
template <int16_t (*F)(int, int)>
struct GroupBytes {
  alignas(64) int8_t byte[4][64];
  constexpr GroupBytes() : byte{} {
    for (int v = 0; v < 4; ++v)
      for (int i = 0; i < 32; ++i) {
        byte[v][2 * i] = static_cast<int8_t>(F(v, i));
        byte[v][2 * i + 1] = -128;
      }
  }
};
constexpr GroupBytes<pair_group> kPairGroupBytes{};

// One weight block decoded for every column: the 4 vectors of 64 unsigned
// codes in the activation order, and per vector the int16 sub-block scale of
// each pair of codes.
struct KBlock {
  __m512i codes[4];
  __m512i scale[4];
  float d;
  // Q4_K / Q5_K: the block sum is d * int - dmin * sum_g min_g * sum32_g;
  // Q2_K the same with its 16 mins and sum16.
  float dmin;
  __m128i mins;    // Q4_K / Q5_K: 8 int16
  __m256i mins16;  // Q2_K: 16 int16
  // IQ4_XS: codes holds |value| and `negative` the lanes whose value is < 0
  // (vpmaddubsw multiplies unsigned by signed: the sign moves to the
  // activation).
  __mmask64 negative[4];
  // Q3_K / Q6_K: the block sum is d * (int - offset * sum_g scale_g *
  // sum16_g), offset 1 << T::kOffsetShift (4 and 32).
  __m256i scales16;  // 16 int16
};

// x = d * scale_g * q - dmin * min_g, q = 4 bits, groups of 32.
struct IntQ4_K {
  static constexpr int kBytes = sizeof(BlockQ4_K);
  static constexpr bool kMins = true;
  static constexpr int kOffsetShift = -1;  // no offset: the mins instead
  static constexpr bool kSignedCodes = false;
  static constexpr const int* kOrder = kPairOrder;
  static constexpr int kUnits = 8;  // sub-blocks (one scale each) per block
  static KBlock load(const std::byte* p) {
    const auto& b = *reinterpret_cast<const BlockQ4_K*>(p);
    KBlock k;
    const __m512i scb = k4_scales_mins(p, k.mins);
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    #pragma GCC unroll 4
    for (int h = 0; h < 2; ++h) {
      const __m512i raw = load512(b.qs + 64 * h);
      k.codes[2 * h] = _mm512_and_si512(raw, m4);
      k.codes[2 * h + 1] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), m4);
    }
    #pragma GCC unroll 4
    for (int v = 0; v < 4; ++v) k.scale[v] = _mm512_shuffle_epi8(scb, _mm512_load_si512(kPairGroupBytes.byte[v]));
    k.d = half_to_float(b.d);
    k.dmin = half_to_float(b.dmin);
    return k;
  }
};

// Q4_K plus a fifth bit: bit g of qh[l] for value l of group g.
struct IntQ5_K {
  static constexpr int kBytes = sizeof(BlockQ5_K);
  static constexpr bool kMins = true;
  static constexpr int kOffsetShift = -1;
  static constexpr bool kSignedCodes = false;
  static constexpr const int* kOrder = kPairOrder;
  static constexpr int kUnits = 8;
  static KBlock load(const std::byte* p) {
    const auto& b = *reinterpret_cast<const BlockQ5_K*>(p);
    KBlock k;
    const __m512i scb = k4_scales_mins(p, k.mins);
    const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qh)));
    const __m512i m4 = _mm512_set1_epi8(0x0F), sixteen = _mm512_set1_epi8(16);
    #pragma GCC unroll 4
    for (int v = 0; v < 4; ++v) {
      // bytes 0..31: group g = 4 (v / 2) + v % 2 (bit g), bytes 32..63: g + 2
      const int g = 4 * (v / 2) + v % 2;
      const __m512i bit = _mm512_inserti64x4(_mm512_set1_epi8(static_cast<char>(1 << g)),
                                             _mm256_set1_epi8(static_cast<char>(1 << (g + 2))), 1);
      const __m512i raw = load512(b.qs + 64 * (v / 2));
      const __m512i low = _mm512_and_si512(v % 2 ? _mm512_srli_epi16(raw, 4) : raw, m4);
      k.codes[v] = _mm512_mask_add_epi8(low, _mm512_test_epi8_mask(qh, bit), low, sixteen);
      k.scale[v] = _mm512_shuffle_epi8(scb, _mm512_load_si512(kPairGroupBytes.byte[v]));
    }
    k.d = half_to_float(b.d);
    k.dmin = half_to_float(b.dmin);
    return k;
  }
};

// x = d * scale_g * (q - 32), q = 4 bits of ql + 2 of qh, groups of 16.
// Per half h (values 128 h ..): ql[64 h + l] holds values l (low nibble)
// and l + 64 (high), ql[64 h + 32 + l] values l + 32 and l + 96; qh[32 h + l]
// bits 0-1, 2-3, 4-5, 6-7 are the high bits of values l, l + 32, l + 64,
// l + 96.
struct IntQ6_K {
  static constexpr int kBytes = sizeof(BlockQ6_K);
  static constexpr bool kMins = false;
  static constexpr int kOffsetShift = 5;  // codes are q - 32
  static constexpr bool kSignedCodes = false;
  static constexpr const int* kOrder = kNaturalOrder;
  static constexpr int kUnits = 16;
  static KBlock load(const std::byte* p) {
    const auto& b = *reinterpret_cast<const BlockQ6_K*>(p);
    KBlock k;
    const __m128i sc8 = load128(b.scales);
    k.scales16 = _mm256_cvtepi8_epi16(sc8);
    const __m512i sc = _mm512_zextsi256_si512(k.scales16);
    const __m512i m4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
    #pragma GCC unroll 4
    for (int h = 0; h < 2; ++h) {
      const __m512i ql = load512(b.ql + 64 * h);
      const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qh + 32 * h));
      // [qh, qh >> 2]: bits 4-5 of a byte of (hi << 4) are the high bits of
      // values l and l + 32, bits 4-5 of hi those of l + 64 and l + 96
      const __m512i hi = _mm512_inserti64x4(_mm512_castsi256_si512(qh), _mm256_srli_epi16(qh, 2), 1);
      k.codes[2 * h] = _mm512_or_si512(_mm512_and_si512(ql, m4), _mm512_and_si512(_mm512_slli_epi16(hi, 4), m30));
      k.codes[2 * h + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4), _mm512_and_si512(hi, m30));
    }
    #pragma GCC unroll 4
    for (int v = 0; v < 4; ++v) k.scale[v] = _mm512_permutexvar_epi16(_mm512_load_si512(kQuadGroups16.lane[v]), sc);
    k.d = half_to_float(b.d);
    return k;
  }
};

// Q2_K / Q3_K's 2-bit fields, in natural order: per half h (values 128 h
// ..) and quarter j, value 128 h + 32 j + l is bits 2 j .. 2 j + 1 of
// qs[32 h + l]. Code vector v holds quarter j = 2 (v % 2) of half v / 2 in
// bytes 0..31 and quarter j + 1 in bytes 32..63; a 64-bit lane shift keeps
// each byte's own bits 2 j .. 2 j + 1 in its low 2 bits.
inline __m512i two_bit_codes(const uint8_t* qs, int v) {
  const int h = v / 2, j = 2 * (v % 2);
  const __m512i raw = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 32 * h)));
  const __m512i shift = _mm512_inserti64x4(_mm512_set1_epi64(2 * j), _mm256_set1_epi64x(2 * j + 2), 1);
  return _mm512_and_si512(_mm512_srlv_epi64(raw, shift), _mm512_set1_epi8(3));
}

// x = d * scale_u * q - dmin * min_u, q = 2 bits (two_bit_codes), groups of
// 16; scales[u] holds scale_u (low nibble) and min_u (high).
struct IntQ2_K {
  static constexpr int kBytes = sizeof(BlockQ2_K);
  static constexpr bool kMins = true;
  static constexpr int kOffsetShift = -1;
  static constexpr bool kSignedCodes = false;
  static constexpr const int* kOrder = kNaturalOrder;
  static constexpr int kUnits = 16;
  static KBlock load(const std::byte* p) {
    const auto& b = *reinterpret_cast<const BlockQ2_K*>(p);
    KBlock k;
    const __m128i sm = load128(b.scales), m4 = _mm_set1_epi8(0x0F);
    const __m512i sc = _mm512_zextsi256_si512(_mm256_cvtepu8_epi16(_mm_and_si128(sm, m4)));
    k.mins16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sm, 4), m4));
    #pragma GCC unroll 4
    for (int v = 0; v < 4; ++v) {
      k.codes[v] = two_bit_codes(b.qs, v);
      k.scale[v] = _mm512_permutexvar_epi16(_mm512_load_si512(kQuadGroups16.lane[v]), sc);
    }
    k.d = half_to_float(b.d);
    k.dmin = half_to_float(b.dmin);
    return k;
  }
};

// x = d * (scale_u - 32) * (q - 4), q = 2 bits of qs (two_bit_codes) + 1 of
// hmask (the stored bit set means no -4), groups of 16, 6-bit scales. Value
// 128 h + 32 j + l has bit 4 h + j of hmask[l]. Scales: low 4 bits of
// scales[u] (u < 8, low nibble) / scales[u - 8] (high nibble); high 2 bits
// are bits 2 (u / 4) and 2 (u / 4) + 1 of scales[8 + u % 4].
struct IntQ3_K {
  static constexpr int kBytes = sizeof(BlockQ3_K);
  static constexpr bool kMins = false;
  static constexpr int kOffsetShift = 2;  // codes are q - 4
  static constexpr bool kSignedCodes = false;
  static constexpr const int* kOrder = kNaturalOrder;
  static constexpr int kUnits = 16;
  static KBlock load(const std::byte* p) {
    const auto& b = *reinterpret_cast<const BlockQ3_K*>(p);
    KBlock k;
    uint32_t lo0, lo1, high;
    __builtin_memcpy(&lo0, b.scales, 4);
    __builtin_memcpy(&lo1, b.scales + 4, 4);
    __builtin_memcpy(&high, b.scales + 8, 4);
    // Assembled in registers: a 16-byte load of four 4-byte stores would
    // miss store forwarding (measured: the mat-vec took 2.7x as long).
    const __m128i sc6 = _mm_set_epi32(static_cast<int>(((lo1 >> 4) & 0x0F0F0F0Fu) | (((high >> 6) & 0x03030303u) << 4)),
                                      static_cast<int>(((lo0 >> 4) & 0x0F0F0F0Fu) | (((high >> 4) & 0x03030303u) << 4)),
                                      static_cast<int>((lo1 & 0x0F0F0F0Fu) | (((high >> 2) & 0x03030303u) << 4)),
                                      static_cast<int>((lo0 & 0x0F0F0F0Fu) | ((high & 0x03030303u) << 4)));
    const __m128i sc8 = _mm_sub_epi8(sc6, _mm_set1_epi8(32));
    k.scales16 = _mm256_cvtepi8_epi16(sc8);
    const __m512i sc = _mm512_zextsi256_si512(k.scales16);
    const __m512i hm = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.hmask)));
    const __m512i four = _mm512_set1_epi8(4);
    #pragma GCC unroll 4
    for (int v = 0; v < 4; ++v) {
      const int h = v / 2, j = 2 * (v % 2);  // as two_bit_codes
      const __m512i low = two_bit_codes(b.qs, v);
      const __m512i bit = _mm512_inserti64x4(_mm512_set1_epi8(static_cast<char>(1 << (4 * h + j))),
                                             _mm256_set1_epi8(static_cast<char>(1 << (4 * h + j + 1))), 1);
      k.codes[v] = _mm512_mask_add_epi8(low, _mm512_test_epi8_mask(hm, bit), low, four);
      k.scale[v] = _mm512_permutexvar_epi16(_mm512_load_si512(kQuadGroups16.lane[v]), sc);
    }
    k.d = half_to_float(b.d);
    return k;
  }
};

// x = d * (scale_u - 32) * kIq4nlValues[q], groups of 32: 6-bit scales,
// low 4 bits in the nibbles of scales_l (group u: byte u / 2, nibble u % 2),
// high 2 bits in bits 2 u, 2 u + 1 of scales_h; each group's 16 qs bytes
// hold values 0..15 (low nibbles) and 16..31 (high). The code book is a
// vpshufb table; the nibble vectors of 4 groups are interleaved back into
// value order (vpermt2q), so the activations keep the natural order.
struct IntIQ4_XS {
  static constexpr int kBytes = sizeof(BlockIQ4_XS);
  static constexpr bool kMins = false;
  static constexpr int kOffsetShift = -1;  // no offset: signed codes
  static constexpr bool kSignedCodes = true;
  static constexpr const int* kOrder = kNaturalOrder;
  static constexpr int kUnits = 8;
  static KBlock load(const std::byte* p) {
    const auto& b = *reinterpret_cast<const BlockIQ4_XS*>(p);
    KBlock k;
    uint32_t low;
    __builtin_memcpy(&low, b.scales_l, 4);
    const __m128i l = _mm_cvtsi32_si128(static_cast<int>(low)), m4 = _mm_set1_epi8(0x0F);
    const __m128i nibbles = _mm_unpacklo_epi8(_mm_and_si128(l, m4), _mm_and_si128(_mm_srli_epi16(l, 4), m4));
    const __m128i high = _mm_and_si128(_mm_srlv_epi16(_mm_set1_epi16(static_cast<short>(b.scales_h)),
                                                      _mm_setr_epi16(0, 2, 4, 6, 8, 10, 12, 14)),
                                       _mm_set1_epi16(3));
    const __m128i ls = _mm_sub_epi16(_mm_or_si128(_mm_cvtepu8_epi16(nibbles), _mm_slli_epi16(high, 4)), _mm_set1_epi16(32));
    const __m512i sc = _mm512_zextsi128_si512(ls);
    const __m512i book = _mm512_broadcast_i32x4(load128(kIq4nlValues)), m4z = _mm512_set1_epi8(0x0F);
    // 64-bit lanes: low nibbles of groups 0, 1 then high nibbles of them / of groups 2, 3
    const __m512i first = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11), second = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
    #pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      const __m512i raw = load512(b.qs + 64 * h);
      const __m512i lo = _mm512_shuffle_epi8(book, _mm512_and_si512(raw, m4z));
      const __m512i hi = _mm512_shuffle_epi8(book, _mm512_and_si512(_mm512_srli_epi16(raw, 4), m4z));
      const __m512i v0 = _mm512_permutex2var_epi64(lo, first, hi), v1 = _mm512_permutex2var_epi64(lo, second, hi);
      k.negative[2 * h] = _mm512_movepi8_mask(v0);
      k.negative[2 * h + 1] = _mm512_movepi8_mask(v1);
      k.codes[2 * h] = _mm512_abs_epi8(v0);
      k.codes[2 * h + 1] = _mm512_abs_epi8(v1);
    }
    #pragma GCC unroll 4
    for (int v = 0; v < 4; ++v) k.scale[v] = _mm512_permutexvar_epi16(_mm512_load_si512(kNaturalPairGroups16.lane[v]), sc);
    k.d = half_to_float(b.d);
    return k;
  }
};

// Software prefetch distance along a weight row, in bytes: about the
// 4.6 KB that the Q4_0 mat-vec measured best (matmul_avx512_vnni.cpp).
constexpr int64_t kPrefetchBytes = 4608;

template <class T>
struct KRows {
  using Activations = KActivations;
  using Column = KColumn;

  template <int RN, int RR>
  static void rows(const std::byte* const* w, const KColumn* x, int64_t blocks, float (&out)[RR][RN]) {
    __m512 acc[RR][RN];
    __m128 accm[RR][RN];
    #pragma GCC unroll 16
    for (int r = 0; r < RR; ++r)
      #pragma GCC unroll 16
      for (int c = 0; c < RN; ++c) {
        acc[r][c] = _mm512_setzero_ps();
        accm[r][c] = _mm_setzero_ps();
      }
    for (int64_t b = 0; b < blocks; ++b) {
      #pragma GCC unroll 16
      for (int r = 0; r < RR; ++r) {
        const std::byte* p = w[r] + static_cast<uint64_t>(b) * T::kBytes;
        const char* ahead = reinterpret_cast<const char*>(p) + kPrefetchBytes;
        #pragma GCC unroll 4
        for (int line = 0; line < T::kBytes; line += 64) _mm_prefetch(ahead + line, _MM_HINT_T1);
        const KBlock k = T::load(p);
        #pragma GCC unroll 16
        for (int c = 0; c < RN; ++c) {
          const int8_t* xq = x[c].q + b * kSuper;
          __m512i sum = _mm512_setzero_si512();
          // |code pair sums| <= 2 * 127 * 127 (IQ4_XS |values|; K-quant
          // codes <= 63): no vpmaddubsw saturation
          #pragma GCC unroll 4
          for (int v = 0; v < 4; ++v) {
            __m512i xv = load512(xq + 64 * v);
            if constexpr (T::kSignedCodes) xv = _mm512_mask_sub_epi8(xv, k.negative[v], _mm512_setzero_si512(), xv);
            sum = _mm512_dpwssd_epi32(sum, _mm512_maddubs_epi16(k.codes[v], xv), k.scale[v]);
          }
          const float dx = x[c].d[b];
          if constexpr (T::kMins) {
            __m128i mins;
            if constexpr (T::kUnits == 16) {  // Q2_K: 16 mins by the 16-sums
              const __m256i m16 = _mm256_madd_epi16(
                  k.mins16, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[c].sum16 + b * 16)));
              mins = _mm_add_epi32(_mm256_castsi256_si128(m16), _mm256_extracti128_si256(m16, 1));
            } else {
              mins = _mm_madd_epi16(k.mins, load128(x[c].sum32 + b * 8));
            }
            accm[r][c] = _mm_fmadd_ps(_mm_cvtepi32_ps(mins), _mm_set1_ps(k.dmin * dx), accm[r][c]);
          } else if constexpr (T::kOffsetShift >= 0) {
            const __m256i offset = _mm256_madd_epi16(
                k.scales16, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[c].sum16 + b * 16)));
            sum = _mm512_sub_epi32(sum, _mm512_zextsi256_si512(_mm256_slli_epi32(offset, T::kOffsetShift)));
          }
          acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), _mm512_set1_ps(k.d * dx), acc[r][c]);
        }
      }
    }
    #pragma GCC unroll 16
    for (int r = 0; r < RR; ++r)
      #pragma GCC unroll 16
      for (int c = 0; c < RN; ++c) {
        float s = _mm512_reduce_add_ps(acc[r][c]);
        if constexpr (T::kMins) {
          const __m128 m = accm[r][c];
          const __m128 m2 = _mm_add_ps(m, _mm_movehl_ps(m, m));
          s -= _mm_cvtss_f32(_mm_add_ss(m2, _mm_movehdup_ps(m2)));
        }
        out[r][c] = s;
      }
  }
};

// ---- prefill (N > 4): int8 panels, 16 activation columns per vector ------
// As the Q4_0 / Q8_0 panels (matmul_avx512_vnni.cpp): each zmm lane is one
// activation column, packed once per call as [K / 4][16 columns][4 bytes]
// (its Q8_K codes + 128, in T::kOrder), so one vpdpbusd multiplies 4 codes
// of 16 columns by 4 weight codes of one row broadcast from memory. A task
// decodes its 8 weight rows once to signed bytes (Q2_K / Q4_K / Q5_K codes,
// Q6_K codes - 32, Q3_K codes - 4, IQ4_XS code book values, in the same
// order) and, per block and row, the sub-block scales in code order, d,
// dmin, the mins and the start value. Per sub-block the int dot is multiplied by its scale (vpmulld) into the
// block's int sum, which starts at -128 * sum_u scale_u * sum(codes of u)
// to take the +128 back out; per block one cvt and one FMA by d_w * d_x,
// and for Q2_K / Q4_K / Q5_K the mins: one vpdpwssd per pair of mins with
// the columns' pairs of sub-block sums (4 pairs of 32-sums, Q2_K 8 of
// 16-sums), one cvt and one FNMADD by dmin_w * d_x.
// All integer sums are exact, so the result differs from the mat-vec's
// only in the float summation order.

struct PackedK {
  uint8_t* codes;   // [batch][group][K / 4][16][4], unsigned (code + 128)
  float* dx;        // [batch][group][blocks][16], 0 for padding columns
  int16_t* sums;    // [batch][group][blocks][pairs][16][2]: sums of sub-blocks 2p, 2p + 1 (types with mins)
  int64_t pairs;    // sub-block pairs per block: kUnits / 2
  int64_t groups;   // column groups per batch
  int64_t blocks;   // per column
  uint64_t group_codes() const { return static_cast<uint64_t>(blocks) * kSuper * kPanelLanes; }
  uint64_t group_dx() const { return static_cast<uint64_t>(blocks) * kPanelLanes; }
  uint64_t group_sums() const { return static_cast<uint64_t>(blocks * pairs) * kPanelLanes * 2; }
};

// One weight row's block in a task's panel.
struct RowMeta {
  float d, dmin;
  int32_t start;      // -128 * sum_u scale_u * sum(codes of u)
  int32_t mins[8];    // types with mins: (min of sub-block 2p, of 2p + 1) as int16 pairs
  int32_t scale[16];  // sub-block u's scale, u in code order (T::kUnits used)
};

struct KPanelJob {
  const MatMulJob* job;
  PackedK act;
  const int* order;
  bool mins;
  int64_t row_groups;
  // Per thread: kPanelRows rows of codes [K], then RowMeta [blocks][kPanelRows].
  std::byte* scratch;
  uint64_t scratch_per_thread;
};

// One activation column -> its lane of the packed group.
void pack_k_range(void* user, int64_t begin, int64_t end, int) {
  const KPanelJob& pj = *static_cast<const KPanelJob*>(user);
  const MatMulJob& j = *pj.job;
  const PackedK& a = pj.act;
  alignas(64) int8_t q[kSuper];
  int16_t sum16[16], sum32[8];
  for (int64_t u = begin; u < end; ++u) {
    const float* x = activation_column(j, u);
    const PanelSlot slot = panel_slot(j, a.groups, u);
    uint8_t* codes = a.codes + slot.group * a.group_codes() + slot.lane * 4;
    float* dx = a.dx + slot.group * a.group_dx() + slot.lane;
    int16_t* sums = pj.mins ? a.sums + slot.group * a.group_sums() + slot.lane * 2 : nullptr;
    for (int64_t b = 0; b < a.blocks; ++b) {
      quantize_superblock(x + b * kSuper, pj.order, q, dx + b * kPanelLanes, sum16, sum32);
      store_panel_codes(q, kSuper, codes + b * kSuper * kPanelLanes);
      if (sums != nullptr) {
        const int16_t* unit = a.pairs == 8 ? sum16 : sum32;  // per sub-block of 16 or 32 codes
        for (int64_t p = 0; p < a.pairs; ++p) {
          sums[(b * a.pairs + p) * kPanelLanes * 2] = unit[2 * p];
          sums[(b * a.pairs + p) * kPanelLanes * 2 + 1] = unit[2 * p + 1];
        }
      }
    }
  }
}

// Row `row`'s blocks into codes [K] and meta[b * kPanelRows].
template <class T>
void decode_panel_row(const std::byte* row, int64_t blocks, int8_t* codes, RowMeta* meta) {
  constexpr int kPerVector = T::kUnits / 4;         // sub-blocks per 64 codes
  constexpr int kLaneStep = 32 / kPerVector;        // int16 lanes per sub-block
  const __m512i ones = _mm512_set1_epi8(1), offset = _mm512_set1_epi8(T::kOffsetShift >= 0 ? 1 << T::kOffsetShift : 0);
  for (int64_t b = 0; b < blocks; ++b) {
    const KBlock k = T::load(row + static_cast<uint64_t>(b) * T::kBytes);
    RowMeta& m = meta[b * kPanelRows];
    __m512i weighted = _mm512_setzero_si512();
    alignas(64) int16_t scales[4][32];
    for (int v = 0; v < 4; ++v) {
      const __m512i c = T::kSignedCodes ? _mm512_mask_sub_epi8(k.codes[v], k.negative[v], _mm512_setzero_si512(), k.codes[v])
                                        : _mm512_sub_epi8(k.codes[v], offset);
      _mm512_storeu_si512(codes + b * kSuper + 64 * v, c);
      // pairs of codes summed (vpmaddubsw by 1), times their scale
      weighted = _mm512_add_epi32(weighted, _mm512_madd_epi16(_mm512_maddubs_epi16(ones, c), k.scale[v]));
      _mm512_store_si512(scales[v], k.scale[v]);
    }
    m.start = -128 * _mm512_reduce_add_epi32(weighted);
    for (int u = 0; u < T::kUnits; ++u) m.scale[u] = scales[u / kPerVector][(u % kPerVector) * kLaneStep];
    m.d = k.d;
    if constexpr (T::kMins) {
      m.dmin = k.dmin;
      if constexpr (T::kUnits == 16)
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(m.mins), k.mins16);
      else
        _mm_storeu_si128(reinterpret_cast<__m128i*>(m.mins), k.mins);
    } else {
      m.dmin = 0.0f;
    }
  }
}

// The task's kPanelRows rows x 16 columns of one group: out[r] holds the 16 columns.
template <class T>
inline void k_panel_tile(const int8_t* w, int64_t k, const RowMeta* meta, const uint8_t* xc, const float* xdx,
                         const int16_t* xs, int64_t blocks, __m512 (&out)[kPanelRows]) {
  constexpr int kSteps = kSuper / 4 / T::kUnits;  // vpdpbusd per sub-block
  __m512 acc[kPanelRows];
  #pragma GCC unroll 16
  for (int r = 0; r < kPanelRows; ++r) acc[r] = _mm512_setzero_ps();
  for (int64_t b = 0; b < blocks; ++b) {
    const RowMeta* mb = meta + b * kPanelRows;
    const uint8_t* xb = xc + b * kSuper * kPanelLanes;
    const int8_t* wb = w + b * kSuper;
    __m512i sum[kPanelRows];
    #pragma GCC unroll 16
    for (int r = 0; r < kPanelRows; ++r) sum[r] = _mm512_set1_epi32(mb[r].start);
    for (int u = 0; u < T::kUnits; ++u) {
      __m512i dot[kPanelRows];
      #pragma GCC unroll 16
      for (int r = 0; r < kPanelRows; ++r) dot[r] = _mm512_setzero_si512();
      #pragma GCC unroll 8
      for (int s = 0; s < kSteps; ++s) {
        const int i = u * kSteps + s;
        const __m512i xv = _mm512_load_si512(xb + i * 4 * kPanelLanes);
        #pragma GCC unroll 16
        for (int r = 0; r < kPanelRows; ++r) {
          int32_t word;
          __builtin_memcpy(&word, wb + r * k + i * 4, 4);
          dot[r] = _mm512_dpbusd_epi32(dot[r], xv, _mm512_set1_epi32(word));
        }
      }
      #pragma GCC unroll 16
      for (int r = 0; r < kPanelRows; ++r)
        sum[r] = _mm512_add_epi32(sum[r], _mm512_mullo_epi32(dot[r], _mm512_set1_epi32(mb[r].scale[u])));
    }
    const __m512 dx = _mm512_load_ps(xdx + b * kPanelLanes);
    #pragma GCC unroll 16
    for (int r = 0; r < kPanelRows; ++r)
      acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum[r]), _mm512_mul_ps(dx, _mm512_set1_ps(mb[r].d)), acc[r]);
    if constexpr (T::kMins) {
      constexpr int kPairs = T::kUnits / 2;
      const int16_t* sb = xs + b * kPairs * kPanelLanes * 2;
      #pragma GCC unroll 16
      for (int r = 0; r < kPanelRows; ++r) {
        __m512i mins = _mm512_setzero_si512();
        #pragma GCC unroll 8
        for (int p = 0; p < kPairs; ++p)
          mins = _mm512_dpwssd_epi32(mins, _mm512_load_si512(sb + p * kPanelLanes * 2), _mm512_set1_epi32(mb[r].mins[p]));
        acc[r] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(mins), _mm512_mul_ps(dx, _mm512_set1_ps(mb[r].dmin)), acc[r]);
      }
    }
  }
  #pragma GCC unroll 16
  for (int r = 0; r < kPanelRows; ++r) out[r] = acc[r];
}

template <class T>
void k_panel_range(void* user, int64_t begin, int64_t end, int thread) {
  const KPanelJob& pj = *static_cast<const KPanelJob*>(user);
  const MatMulJob& j = *pj.job;
  const PackedK& a = pj.act;
  std::byte* mine = pj.scratch + static_cast<uint64_t>(thread) * pj.scratch_per_thread;
  int8_t* w = reinterpret_cast<int8_t*>(mine);
  RowMeta* meta = reinterpret_cast<RowMeta*>(w + kPanelRows * j.k);
  for (int64_t t = begin; t < end; ++t) {
    const PanelTask p = panel_task(j, pj.row_groups, t);
    for (int r = 0; r < kPanelRows; ++r) {
      if (r < p.rows) {
        decode_panel_row<T>(p.w0 + static_cast<uint64_t>(r) * j.w_nb1, a.blocks, w + r * j.k, meta + r);
      } else {  // padding rows: computed, never stored
        __builtin_memset(w + r * j.k, 0, static_cast<size_t>(j.k));
        for (int64_t b = 0; b < a.blocks; ++b) meta[b * kPanelRows + r] = RowMeta{};
      }
    }
    for (int64_t g = 0; g < a.groups; ++g) {
      const uint64_t group = static_cast<uint64_t>(p.batch * a.groups + g);
      __m512 out[kPanelRows];
      k_panel_tile<T>(w, j.k, meta, a.codes + group * a.group_codes(), a.dx + group * a.group_dx(),
                      pj.mins ? a.sums + group * a.group_sums() : nullptr, a.blocks, out);
      store_panel(j, p, g, out);
    }
  }
}

template <class T>
void run_k_panel(const MatMulJob& j, ThreadPool& pool) {
  KPanelJob pj{};
  pj.job = &j;
  pj.order = T::kOrder;
  pj.mins = T::kMins;
  pj.act.pairs = T::kUnits / 2;
  pj.row_groups = (j.m + kPanelRows - 1) / kPanelRows;
  const int64_t batches = j.c2 * j.c3;
  pj.act.blocks = j.k / kSuper;
  pj.act.groups = (j.n + kPanelLanes - 1) / kPanelLanes;
  const uint64_t groups = static_cast<uint64_t>(batches * pj.act.groups);
  const uint64_t code_bytes = groups * pj.act.group_codes();
  const uint64_t dx_bytes = groups * pj.act.group_dx() * sizeof(float);
  const uint64_t sum_bytes = T::kMins ? groups * pj.act.group_sums() * sizeof(int16_t) : 0;
  pj.scratch_per_thread = (static_cast<uint64_t>(kPanelRows) * static_cast<uint64_t>(j.k) +
                           static_cast<uint64_t>(pj.act.blocks) * kPanelRows * sizeof(RowMeta) + 63) /
                          64 * 64;
  // One allocation: codes, scales, sums, per-thread panels (64-byte aligned
  // parts). Padding columns read code 128 (x = 0) with scale and sums 0.
  const uint64_t bytes = code_bytes + dx_bytes + sum_bytes + pj.scratch_per_thread * static_cast<uint64_t>(pool.size());
  std::byte* mem = static_cast<std::byte*>(::operator new(bytes, std::align_val_t{64}));
  pj.act.codes = reinterpret_cast<uint8_t*>(mem);
  pj.act.dx = reinterpret_cast<float*>(mem + code_bytes);
  pj.act.sums = reinterpret_cast<int16_t*>(mem + code_bytes + dx_bytes);
  pj.scratch = mem + code_bytes + dx_bytes + sum_bytes;
  if (j.n % kPanelLanes != 0) {
    __builtin_memset(pj.act.codes, 0x80, code_bytes);
    __builtin_memset(pj.act.dx, 0, dx_bytes + sum_bytes);
  }
  pool.parallel_for(batches * j.n, pack_k_range, &pj);
  pool.parallel_for(pj.row_groups * batches, k_panel_range<T>, &pj);
  ::operator delete(mem, std::align_val_t{64});
}

template <class T>
void run_kquant_int8(const MatMulJob& j, ThreadPool& pool) {
  if (j.n > kFusedMaxN) {
    run_k_panel<T>(j, pool);
    return;
  }
  KJob jb{};
  jb.job = &j;
  jb.geo = geometry_of(j);
  const int64_t tasks = jb.geo.row_groups * j.c2 * j.c3;
  if (tasks == 0 || j.n == 0) return;
  jb.act.blocks = j.k / kSuper;  // K-quant rows are whole blocks
  jb.act.columns = j.n * j.c2 * j.c3;
  jb.act.order = T::kOrder;
  const size_t blocks = static_cast<size_t>(jb.act.blocks * jb.act.columns);
  // One allocation: codes, scales, sums (raw operator new: no library
  // template is instantiated in this AVX-512 unit).
  const size_t bytes = blocks * (kSuper + sizeof(float) + 24 * sizeof(int16_t));
  void* mem = ::operator new(bytes, std::align_val_t{64});
  jb.act.q = static_cast<int8_t*>(mem);
  jb.act.d = reinterpret_cast<float*>(jb.act.q + blocks * kSuper);
  jb.act.sum16 = reinterpret_cast<int16_t*>(jb.act.d + blocks);
  jb.act.sum32 = jb.act.sum16 + blocks * 16;
  pool.parallel_for(jb.act.columns, quantize_range, &jb);
  pool.parallel_for(tasks, int_range<KRows<T>>, &jb);
  ::operator delete(mem, std::align_val_t{64});
}

}  // namespace

MatMulFn kquant_vnni_kernel(int32_t dtype) {
  switch (dtype) {
    case TESSERA_DTYPE_Q2_K: return run_kquant_int8<IntQ2_K>;
    case TESSERA_DTYPE_Q3_K: return run_kquant_int8<IntQ3_K>;
    case TESSERA_DTYPE_Q4_K: return run_kquant_int8<IntQ4_K>;
    case TESSERA_DTYPE_Q5_K: return run_kquant_int8<IntQ5_K>;
    case TESSERA_DTYPE_Q6_K: return run_kquant_int8<IntQ6_K>;
    case TESSERA_DTYPE_IQ4_XS: return run_kquant_int8<IntIQ4_XS>;
    default: return nullptr;
  }
}

}  // namespace tessera::cpu::avx512
