// `kernels: vnni`: mat-vec (N <= 4 columns) for the 32-value block types
// (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL) as integer dot products. The
// activation columns are quantized once per call to blocks of 32 int8 with
// one float scale (see quantize_block), then each
// weight block's dot product with them is one vpdpbusd (AVX512_VNNI, 256-bit)
// and the float sum gets d_w * d_x * int_dot per block: fewer instructions
// per block than expanding the weights to floats. Q4_0 and IQ4_NL (the same
// 18-byte block) take 8 blocks per step (NibbleGroup): 4 vpdpbusd and one
// float FMA. N > 4 (prefill) runs int8
// panels (see "prefill" below). Results differ from the float kernels by the
// activation rounding (~0.4% of the output's term scale), as llama.cpp's
// dot products for these types do (q8_0 activations; q8_1 for Q4_1 / Q5_1).
//
// Q4_1 and Q5_1 (weights w = d_w * code + m_w) add m_w * d_x * sum(x codes)
// per block, the sum kept per activation block as llama.cpp's q8_1 keeps it
// (here in float, from the f16-rounded d_x; q8_1 rounds it to f16).
//
// Activation quantization (the test reimplements this from the same words):
// per block of 32 values x, amax = max |x|, d = amax / 127 (float),
// id = d != 0 ? 1 / d : 0, q = round-half-away-from-zero(x * id) as int8,
// and the block's value is f16(d) * q: a Q8_0 block, as llama.cpp makes.
#include "avx512_intrin.hpp"

#include "avx512_kernels.hpp"
#include "avx512_matmul.hpp"
#include "int8_matvec.hpp"
#include "tessera/quant/blocks.hpp"
#include "tessera/types.h"

namespace tessera::cpu::avx512 {
namespace {

using namespace tessera::quant;

constexpr int64_t kBlock = 32;
// Software prefetch distance along the weights, in blocks (may point past
// the row's end: prefetches never fault). Decode from DRAM is bound by the
// misses one core keeps in flight, not by arithmetic. Each weight stream of
// a thread (see int_streams) reads consecutive rows, so a long distance runs
// on into the next rows; prefetching into L2 (T1) keeps the L1 fill buffers
// for the loads. Measured on a 2-core Sapphire Rapids VM
// (bench_cpu_matmul, 11008 x 4096): 256 blocks (4.6 KB of Q4_0, 8.7 KB of
// Q8_0) into L2 read 21-26 GB/s at 2 threads, against 15-18 for 32 blocks into
// L1 with 4 rows at a time; 128 and 512 blocks were within noise of 256.
constexpr int64_t kPrefetchBlocks = 256;

// One quantized activation column: per block 32 codes and the scale. Q4_0
// and IQ4_NL also get the column laid out for groups of 8 blocks
// (NibbleGroup): per group 4 x 64 codes, the k-th 64 being codes 8k..8k+7 of
// each of the 8 blocks; 16 correction lanes (lane 2i: -offset * the sum of
// block i's codes, lane 2i + 1: 0); 16 scales (lanes 2i and 2i + 1: block
// i's); and for the blocks after the last whole group (dot) the lane sums of
// -offset * codes (8 lanes of 4 codes, vpdpbusd's grouping). The weights
// enter vpdpbusd as unsigned bytes w + offset (Q4_0: its codes 0..15, offset
// 8; IQ4_NL: its code book values + 128), so the corrections give
// sum(w * x) in one step. Q8_0 needs none of it.
struct QuantColumn {
  const int8_t* q;
  const float* d;
  const float* s;       // per block d * sum(codes), set for Q4_1 / Q5_1
  const int32_t* corr;  // [blocks][8], set for blocks >= groups * 8
  const int8_t* q8;     // [groups][256]
  const int32_t* corr8; // [groups][16]
  const float* d8;      // [groups][16]
};

constexpr int64_t kGroupBlocks = 8;

struct Activations {
  int8_t* q;
  float* d;
  float* s;  // nullptr unless the weights have a min (Q4_1, Q5_1)
  int32_t* corr;
  int8_t* q8;
  int32_t* corr8;
  float* d8;
  int32_t offset;   // of the unsigned weight bytes, for corr / corr8
  int64_t blocks;   // per column
  int64_t columns;  // n * c2 * c3
  int64_t groups() const { return blocks / kGroupBlocks; }
  QuantColumn column(int64_t i) const {
    QuantColumn c{q + i * blocks * kBlock, d + i * blocks, s != nullptr ? s + i * blocks : nullptr,
                  nullptr, nullptr, nullptr, nullptr};
    if (q8 != nullptr) {  // Q4_0, IQ4_NL
      const int64_t g = groups();
      c.corr = corr + i * blocks * 8;
      c.q8 = q8 + i * g * kGroupBlocks * kBlock;
      c.corr8 = corr8 + i * g * 16;
      c.d8 = d8 + i * g * 16;
    }
    return c;
  }
};

// roundf (half away from zero) of 16 values known to lie in [-127, 127], as
// bytes. The fraction v - trunc(v) is exact, so ties are found exactly.
inline __m128i round_to_i8(__m512 v) {
  const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m512 frac = _mm512_abs_ps(_mm512_sub_ps(v, t));
  const __mmask16 away = _mm512_cmp_ps_mask(frac, _mm512_set1_ps(0.5f), _CMP_GE_OQ);
  const __m512 one = _mm512_or_ps(_mm512_set1_ps(1.0f), _mm512_and_ps(v, _mm512_set1_ps(-0.0f)));  // copysign(1, v)
  return _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(_mm512_mask_add_ps(t, away, t, one)));
}

void quantize_block(const float* x, int8_t* q, float* d_out) {
  const __m512 a0 = _mm512_abs_ps(_mm512_loadu_ps(x)), a1 = _mm512_abs_ps(_mm512_loadu_ps(x + 16));
  const float amax = _mm512_reduce_max_ps(_mm512_max_ps(a0, a1));
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  const __m512 vid = _mm512_set1_ps(id);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(q), round_to_i8(_mm512_mul_ps(_mm512_loadu_ps(x), vid)));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 16), round_to_i8(_mm512_mul_ps(_mm512_loadu_ps(x + 16), vid)));
  // The scale is kept as F16, as in a Q8_0 block: the activations are then
  // exactly llama.cpp's q8_0 rows (measured: the stories Q4_0 model's
  // logits move 0.19 -> 0.14 at most from llama.cpp's with it).
  *d_out = _cvtsh_ss(_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT));
}

// The sum of a block's 32 signed codes.
inline int32_t block_sum(const int8_t* q) {
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q));
  // sum of signed bytes: vpdpbusd with all-ones unsigned operand
  const __m256i s = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(1), v);
  const __m128i h = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
  const __m128i h2 = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4E));
  return _mm_cvtsi128_si32(_mm_add_epi32(h2, _mm_shuffle_epi32(h2, 0xB1)));
}

// A block's correction lanes: per lane of 4 codes, -offset * their sum.
void correction_lanes(const int8_t* q, int32_t offset, int32_t* corr) {
  const __m256i codes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q));
  const __m256i sums = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(1), codes);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(corr), _mm256_mullo_epi32(sums, _mm256_set1_epi32(-offset)));
}

// Column u's group layout (QuantColumn::q8, corr8, d8) from its blocks.
void group_layout(const Activations& a, int64_t u) {
  const int64_t groups = a.groups();
  const int8_t* q = a.q + u * a.blocks * kBlock;
  const float* d = a.d + u * a.blocks;
  int8_t* q8 = a.q8 + u * groups * kGroupBlocks * kBlock;
  int32_t* corr8 = a.corr8 + u * groups * 16;
  float* d8 = a.d8 + u * groups * 16;
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t i = 0; i < kGroupBlocks; ++i) {
      const int8_t* block = q + (g * kGroupBlocks + i) * kBlock;
      int32_t sum = 0;
      for (int e = 0; e < kBlock; ++e) sum += block[e];
      for (int k = 0; k < 4; ++k) __builtin_memcpy(q8 + (g * 4 + k) * 64 + i * 8, block + 8 * k, 8);
      corr8[g * 16 + 2 * i] = -a.offset * sum;
      corr8[g * 16 + 2 * i + 1] = 0;
      d8[g * 16 + 2 * i] = d8[g * 16 + 2 * i + 1] = d[g * kGroupBlocks + i];
    }
}

using Job = Int8MatVec<Activations>;

// One activation column per unit: unit = (c3 * c2 + c2 index) * n + column.
void quantize_range(void* user, int64_t begin, int64_t end, int) {
  const Job& jb = *static_cast<const Job*>(user);
  const MatMulJob& j = *jb.job;
  for (int64_t u = begin; u < end; ++u) {
    const float* x = activation_column(j, u);
    int8_t* q = jb.act.q + u * jb.act.blocks * kBlock;
    float* d = jb.act.d + u * jb.act.blocks;
    for (int64_t b = 0; b < jb.act.blocks; ++b) quantize_block(x + b * kBlock, q + b * kBlock, d + b);
    if (jb.act.s != nullptr) {  // Q4_1 / Q5_1
      float* s = jb.act.s + u * jb.act.blocks;
      for (int64_t b = 0; b < jb.act.blocks; ++b) s[b] = d[b] * static_cast<float>(block_sum(q + b * kBlock));
    }
    if (jb.act.q8 == nullptr) continue;  // no group layout
    group_layout(jb.act, u);
    int32_t* corr = jb.act.corr + u * jb.act.blocks * 8;
    for (int64_t b = jb.act.groups() * kGroupBlocks; b < jb.act.blocks; ++b)
      correction_lanes(q + b * kBlock, jb.act.offset, corr + b * 8);
  }
}

// A block's 32 four-bit codes (0..15) in value order: the low nibbles of
// qs are values 0..15, the high nibbles 16..31.
inline __m256i nibble_codes(const uint8_t* qs) {
  const __m128i raw = load128(qs), mask = _mm_set1_epi8(0x0F);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(raw, 4), mask), _mm_and_si128(raw, mask));
}

// Five-bit codes (0..31) of Q5_0 / Q5_1: bit j of qh is bit 4 of value j.
inline __m256i five_bit_codes(const uint8_t* qs, const uint8_t* qh) {
  uint32_t bits;
  __builtin_memcpy(&bits, qh, sizeof bits);
  return _mm256_or_si256(nibble_codes(qs), _mm256_maskz_mov_epi8(bits, _mm256_set1_epi8(16)));
}

// IQ4_NL's code book + 128 (1..241): the unsigned weight bytes of its mat-vec.
struct Iq4nlBiasedBook {
  alignas(16) uint8_t value[16];
  constexpr Iq4nlBiasedBook() : value{} {
    for (int i = 0; i < 16; ++i) value[i] = static_cast<uint8_t>(kIq4nlValues[i] + 128);
  }
};
constexpr Iq4nlBiasedBook kIq4nlBiased{};

// IQ4_NL's code book values (-127..113) of a block's codes, by byte shuffle.
inline __m256i iq4nl_values(const uint8_t* qs) {
  const __m256i book = _mm256_broadcastsi128_si256(load128(kIq4nlValues));
  return _mm256_shuffle_epi8(book, nibble_codes(qs));
}

// Signed weights w times signed activations x through the unsigned-by-signed
// vpdpbusd: |w| times x with w's sign (|w| <= 128 reads as unsigned; x is
// never -128, so negating it cannot overflow).
inline __m256i signed_dot(__m256i w, __m256i x) {
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(w), _mm256_sign_epi8(x, w));
}

inline __m256i load_codes(const QuantColumn& x, int64_t b) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.q + b * kBlock));
}

// Eight 18-byte blocks of 32 nibbles and an f16 scale (Q4_0, IQ4_NL; 144
// bytes at p) at once: their 256 codes as four vectors c[k] = codes
// 8k..8k+7 of each block (2 int lanes per block, block i in lanes 2i and
// 2i + 1), and the 8 scales d_w in the same lanes. One int sum and one float
// FMA then serve 8 blocks. The bytes are gathered by 16-bit permutes (qs and
// d start at even offsets) of 64-byte loads at p, p + 8 (codes 8..15 lie 8
// bytes after codes 0..7) and 72 bytes on.
struct NibbleGroup {
  __m512i c[4];
  __m512 dw;

  static NibbleGroup gather(const std::byte* p) {
    // Word w of a gathered vector: block i = w / 4, its word w % 4 of the
    // 8 code bytes, at byte 18 i + 2 + 2 (w % 4) of the group; blocks 4..7
    // come from the second source (72 bytes on: word 32 + ...).
    alignas(64) static constexpr uint16_t kCodeWords[32] = {
        1,  2,  3,  4,  10, 11, 12, 13, 19, 20, 21, 22, 28, 29, 30, 31,
        33, 34, 35, 36, 42, 43, 44, 45, 51, 52, 53, 54, 60, 61, 62, 63};
    alignas(64) static constexpr uint16_t kScaleWords[32] = {0,  0,  9,  9,  18, 18, 27, 27,
                                                             32, 32, 41, 41, 50, 50, 59, 59};
    const __m512i idx = _mm512_load_si512(kCodeWords);
    const __m512i a0 = _mm512_loadu_si512(p), b0 = _mm512_loadu_si512(p + 72);
    const __m512i a1 = _mm512_loadu_si512(p + 8), b1 = _mm512_loadu_si512(p + 80);
    const __m512i r0 = _mm512_permutex2var_epi16(a0, idx, b0);  // code bytes 0..7: codes 0..7 and 16..23
    const __m512i r1 = _mm512_permutex2var_epi16(a1, idx, b1);  // code bytes 8..15: codes 8..15 and 24..31
    const __m512i mask = _mm512_set1_epi8(0x0F);
    const __m256i d = _mm512_castsi512_si256(_mm512_permutex2var_epi16(a0, _mm512_load_si512(kScaleWords), b0));
    return {{_mm512_and_si512(r0, mask), _mm512_and_si512(r1, mask), _mm512_and_si512(_mm512_srli_epi16(r0, 4), mask),
             _mm512_and_si512(_mm512_srli_epi16(r1, 4), mask)},
            _mm512_cvtph_ps(d)};
  }
  // The group's 16 int lanes (2 per block) with activation column x.
  __m512i dot(const QuantColumn& x, int64_t g) const {
    const int8_t* q = x.q8 + g * kGroupBlocks * kBlock;
    __m512i sum = _mm512_loadu_si512(x.corr8 + g * 16);
    #pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) sum = _mm512_dpbusd_epi32(sum, c[k], _mm512_loadu_si512(q + 64 * k));
    return sum;
  }
};

// One block's 8 int lanes with activation block b for an offset type: its
// unsigned weight bytes w from the correction lanes on.
inline __m256i offset_dot(__m256i w, const QuantColumn& x, int64_t b) {
  const __m256i init = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.corr + b * 8));
  return _mm256_dpbusd_epi32(init, w, load_codes(x, b));
}

// Q4_0: codes 0..15 (offset 8), low nibbles are values 0..15, high nibbles 16..31.
struct IntQ4_0 {
  static constexpr int kBytes = sizeof(BlockQ4_0);
  static constexpr int32_t kOffset = 8;
  static float scale(const std::byte* p) { return half_to_float(reinterpret_cast<const BlockQ4_0*>(p)->d); }
  static __m256i dot(const std::byte* p, const QuantColumn& x, int64_t b) {
    return offset_dot(nibble_codes(reinterpret_cast<const BlockQ4_0*>(p)->qs), x, b);
  }
  static NibbleGroup group(const std::byte* p) { return NibbleGroup::gather(p); }
};

// The other types give their block's 32 weight bytes in value order
// (weights(p)): unsigned codes (kSigned false: straight into vpdpbusd) or
// signed values (kSigned: signed_dot). The prefill panels take the same
// bytes (RowOf below).
template <class Block>
inline float block_scale(const std::byte* p) {
  return half_to_float(reinterpret_cast<const Block*>(p)->d);
}

// One block's 8 int lanes with activation block b: Q4_0's own dot, or the
// weights() bytes of the other types.
template <class D>
inline __m256i block_dot(const std::byte* p, const QuantColumn& x, int64_t b) {
  if constexpr (requires { D::dot(p, x, b); }) return D::dot(p, x, b);
  else if constexpr (D::kSigned) return signed_dot(D::weights(p), load_codes(x, b));
  else return _mm256_dpbusd_epi32(_mm256_setzero_si256(), D::weights(p), load_codes(x, b));
}

// Q8_0: signed codes as stored.
struct IntQ8_0 {
  static constexpr int kBytes = sizeof(BlockQ8_0);
  static constexpr bool kSigned = true;
  static float scale(const std::byte* p) { return block_scale<BlockQ8_0>(p); }
  static __m256i weights(const std::byte* p) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(reinterpret_cast<const BlockQ8_0*>(p)->qs));
  }
};

// Q4_1: unsigned codes 0..15; the min m is added per block as
// m * d_x * sum(x codes) (int_rows).
struct IntQ4_1 {
  static constexpr int kBytes = sizeof(BlockQ4_1);
  static constexpr bool kSigned = false;
  static float scale(const std::byte* p) { return block_scale<BlockQ4_1>(p); }
  static float min(const std::byte* p) { return half_to_float(reinterpret_cast<const BlockQ4_1*>(p)->m); }
  static __m256i weights(const std::byte* p) { return nibble_codes(reinterpret_cast<const BlockQ4_1*>(p)->qs); }
};

// Q5_0: codes - 16 (-16..15), signed.
struct IntQ5_0 {
  static constexpr int kBytes = sizeof(BlockQ5_0);
  static constexpr bool kSigned = true;
  static float scale(const std::byte* p) { return block_scale<BlockQ5_0>(p); }
  static __m256i weights(const std::byte* p) {
    const auto& blk = *reinterpret_cast<const BlockQ5_0*>(p);
    return _mm256_sub_epi8(five_bit_codes(blk.qs, blk.qh), _mm256_set1_epi8(16));
  }
};

// Q5_1: unsigned codes 0..31 and the min, as Q4_1.
struct IntQ5_1 {
  static constexpr int kBytes = sizeof(BlockQ5_1);
  static constexpr bool kSigned = false;
  static float scale(const std::byte* p) { return block_scale<BlockQ5_1>(p); }
  static float min(const std::byte* p) { return half_to_float(reinterpret_cast<const BlockQ5_1*>(p)->m); }
  static __m256i weights(const std::byte* p) {
    const auto& blk = *reinterpret_cast<const BlockQ5_1*>(p);
    return five_bit_codes(blk.qs, blk.qh);
  }
};

// IQ4_NL: the code book's signed values (the prefill panels' weights()); the
// mat-vec takes them + 128 as unsigned bytes (offset 128), in Q4_0's groups.
struct IntIQ4_NL {
  static constexpr int kBytes = sizeof(BlockIQ4_NL);
  static constexpr bool kSigned = true;
  static constexpr int32_t kOffset = 128;
  static float scale(const std::byte* p) { return block_scale<BlockIQ4_NL>(p); }
  static __m256i weights(const std::byte* p) { return iq4nl_values(reinterpret_cast<const BlockIQ4_NL*>(p)->qs); }
  static __m256i dot(const std::byte* p, const QuantColumn& x, int64_t b) {
    const __m256i book = _mm256_broadcastsi128_si256(load128(kIq4nlBiased.value));
    return offset_dot(_mm256_shuffle_epi8(book, nibble_codes(reinterpret_cast<const BlockIQ4_NL*>(p)->qs)), x, b);
  }
  static NibbleGroup group(const std::byte* p) {
    NibbleGroup g = NibbleGroup::gather(p);
    const __m512i book = _mm512_broadcast_i32x4(load128(kIq4nlBiased.value));
    #pragma GCC unroll 4
    for (auto& c : g.c) c = _mm512_shuffle_epi8(book, c);
    return g;
  }
};

// RR rows x RN columns; per (row, column) a float vector of 8 lanes gets
// cvt(int lanes) * (d_w * d_x) per block, summed at the end.
template <class D, int RN, int RR>
inline void int_rows(const std::byte* const* w, const QuantColumn* x, int64_t blocks, float (&out)[RR][RN]) {
  __m256 acc[RR][RN];
  #pragma GCC unroll 16
  for (int r = 0; r < RR; ++r)
    #pragma GCC unroll 16
    for (int c = 0; c < RN; ++c) acc[r][c] = _mm256_setzero_ps();
  int64_t b = 0;
  if constexpr (requires { D::group(w[0]); }) {
    // Groups of 8 blocks in 512-bit registers; three prefetches per row and group.
    __m512 accg[RR][RN];
    #pragma GCC unroll 16
    for (int r = 0; r < RR; ++r)
      #pragma GCC unroll 16
      for (int c = 0; c < RN; ++c) accg[r][c] = _mm512_setzero_ps();
    const int64_t groups = blocks / kGroupBlocks;
    for (int64_t g = 0; g < groups; ++g) {
      #pragma GCC unroll 16
      for (int r = 0; r < RR; ++r) {
        const std::byte* p = w[r] + static_cast<uint64_t>(g * kGroupBlocks) * D::kBytes;
        // three lines per 144 bytes: every line of the stream is covered
        const char* ahead = reinterpret_cast<const char*>(p) + kPrefetchBlocks * D::kBytes;
        _mm_prefetch(ahead, _MM_HINT_T1);
        _mm_prefetch(ahead + 64, _MM_HINT_T1);
        _mm_prefetch(ahead + 128, _MM_HINT_T1);
        const auto wg = D::group(p);
        #pragma GCC unroll 16
        for (int c = 0; c < RN; ++c)
          accg[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(wg.dot(x[c], g)),
                                       _mm512_mul_ps(wg.dw, _mm512_loadu_ps(x[c].d8 + g * 16)), accg[r][c]);
      }
    }
    b = groups * kGroupBlocks;
    #pragma GCC unroll 16
    for (int r = 0; r < RR; ++r)
      #pragma GCC unroll 16
      for (int c = 0; c < RN; ++c)
        acc[r][c] = _mm256_add_ps(_mm512_castps512_ps256(accg[r][c]), _mm512_extractf32x8_ps(accg[r][c], 1));
  }
  constexpr bool kMin = requires { D::min(w[0]); };
  [[maybe_unused]] float mins[RR][RN] = {};  // Q4_1 / Q5_1: sum over blocks of m * d_x * sum(x codes)
  for (; b < blocks; ++b) {
    #pragma GCC unroll 16
    for (int r = 0; r < RR; ++r) {
      const std::byte* p = w[r] + static_cast<uint64_t>(b) * D::kBytes;
      _mm_prefetch(reinterpret_cast<const char*>(p) + kPrefetchBlocks * D::kBytes, _MM_HINT_T1);
      const float dw = D::scale(p);
      #pragma GCC unroll 16
      for (int c = 0; c < RN; ++c) {
        const __m256 dot = _mm256_cvtepi32_ps(block_dot<D>(p, x[c], b));
        acc[r][c] = _mm256_fmadd_ps(dot, _mm256_set1_ps(dw * x[c].d[b]), acc[r][c]);
      }
      if constexpr (kMin) {
        // An explicit FMA: left to contraction, instantiations could round
        // differently, and the result must not depend on RR (the thread split).
        const float m = D::min(p);
        #pragma GCC unroll 16
        for (int c = 0; c < RN; ++c) mins[r][c] = __builtin_fmaf(m, x[c].s[b], mins[r][c]);
      }
    }
  }
  #pragma GCC unroll 16
  for (int r = 0; r < RR; ++r)
    #pragma GCC unroll 16
    for (int c = 0; c < RN; ++c) {
      const __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc[r][c]), _mm256_extractf128_ps(acc[r][c], 1));
      const __m128 s2 = _mm_add_ps(s, _mm_movehl_ps(s, s));
      out[r][c] = _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)));
      if constexpr (kMin) out[r][c] += mins[r][c];
    }
}

// The 32-value block types for the shared mat-vec driver (int8_matvec.hpp).
template <class D>
struct IntRows {
  using Activations = avx512::Activations;
  using Column = QuantColumn;
  template <int RN, int RR>
  static void rows(const std::byte* const* w, const QuantColumn* x, int64_t blocks, float (&out)[RR][RN]) {
    int_rows<D, RN, RR>(w, x, blocks, out);
  }
};

// ---- prefill (N > 4): int8 panels, 16 activation columns per vector ------
// Each zmm lane is one activation column: the activations are packed once
// per call as [K / 4][16 columns][4 bytes] (unsigned: code + 128), so one
// vpdpbusd multiplies 4 consecutive k of 16 columns by 4 weight codes of one
// row broadcast from memory. The weights need no transposition, only
// decoding to signed bytes: each task decodes its kPanelRows rows once into
// a per-thread panel and runs them against every column group. Per block
// and row, the +128 of the activations is removed by starting the integer
// sum at -128 * sum(w) of the block; then one cvt and one FMA by
// d_w * d_x[16 columns] add the block to the float sums. (kPanelRows,
// kPanelLanes, the task split and the stores: int8_matvec.hpp.)

struct PackedActivations {
  uint8_t* codes;   // [batch][group][K / 4][16][4], unsigned (x8 + 128)
  float* scales;    // [batch][group][blocks][16], 0 for padding columns
  float* sums;      // as scales: d_x * sum(codes) per block (Q4_1 / Q5_1), else nullptr
  int64_t groups;   // column groups per batch
  int64_t blocks;   // blocks of 32 per column
  uint64_t group_codes() const { return static_cast<uint64_t>(blocks) * kBlock * kPanelLanes; }
  uint64_t group_scales() const { return static_cast<uint64_t>(blocks) * kPanelLanes; }
};

struct PanelJob {
  const MatMulJob* job;
  PackedActivations act;
  int64_t row_groups;
  // Per thread: kPanelRows rows of signed codes [K], and per block and row
  // (block-major) the start value -128 * sum(codes), the scale d_w and the
  // min m_w (Q4_1 / Q5_1).
  std::byte* scratch;
  uint64_t scratch_per_thread;
};

// One activation column -> its lane of the packed group.
void pack_range(void* user, int64_t begin, int64_t end, int) {
  const PanelJob& pj = *static_cast<const PanelJob*>(user);
  const MatMulJob& j = *pj.job;
  const PackedActivations& a = pj.act;
  alignas(64) int8_t q[kBlock];
  for (int64_t u = begin; u < end; ++u) {
    const float* x = activation_column(j, u);
    const PanelSlot slot = panel_slot(j, a.groups, u);
    uint8_t* codes = a.codes + slot.group * a.group_codes() + slot.lane * 4;
    float* scales = a.scales + slot.group * a.group_scales() + slot.lane;
    for (int64_t b = 0; b < a.blocks; ++b) {
      quantize_block(x + b * kBlock, q, scales + b * kPanelLanes);
      store_panel_codes(q, kBlock, codes + b * kBlock * kPanelLanes);
      if (a.sums != nullptr)
        a.sums[slot.group * a.group_scales() + slot.lane + b * kPanelLanes] =
            scales[b * kPanelLanes] * static_cast<float>(block_sum(q));
    }
  }
}

// Weight rows as signed bytes: Q4_0 codes - 8 (the other types: RowOf below).
struct RowQ4_0 {
  static constexpr int kBytes = sizeof(BlockQ4_0);
  static float decode(const std::byte* p, int8_t* out) {
    const auto& b = *reinterpret_cast<const BlockQ4_0*>(p);
    const __m256i codes = nibble_codes(b.qs);
    // One 256-bit store: block_sum reads the block straight back, and a
    // load spanning two smaller stores cannot be store-forwarded (that stall
    // was a third of this panel's time).
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm256_sub_epi8(codes, _mm256_set1_epi8(8)));
    return half_to_float(b.d);
  }
};

// A panel row's bytes from the mat-vec trait D's weights(): unsigned codes
// (Q4_1 / Q5_1: <= 31, so also valid signed bytes) or signed values (Q8_0,
// Q5_0 codes - 16, IQ4_NL's code book); min() gives Q4_1 / Q5_1's m for the
// panel's m_w * d_x * sum(x codes) term.
template <class D>
struct RowOf {
  static constexpr int kBytes = D::kBytes;
  static float decode(const std::byte* p, int8_t* out) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), D::weights(p));
    return D::scale(p);
  }
  static float min(const std::byte* p)
    requires requires { D::min(p); }
  {
    return D::min(p);
  }
};

// RR panel rows x 16 columns of one group: out[r] holds the 16 columns.
// kMin (Q4_1 / Q5_1): per block and row also m_w (mw) times the columns'
// d_x * sum(x codes) (xs).
template <int RR, bool kMin>
inline void int8_panel_tile(const int8_t* w, int64_t k, const int32_t* start, const float* dw, const float* mw,
                            const uint8_t* xc, const float* xd, const float* xs, int64_t blocks, __m512 (&out)[RR]) {
  __m512 acc[RR];
  #pragma GCC unroll 16
  for (int r = 0; r < RR; ++r) acc[r] = _mm512_setzero_ps();
  for (int64_t b = 0; b < blocks; ++b) {
    __m512i dot[RR];
    #pragma GCC unroll 16
    for (int r = 0; r < RR; ++r) dot[r] = _mm512_set1_epi32(start[b * RR + r]);
    const uint8_t* xb = xc + b * kBlock * kPanelLanes;
    #pragma GCC unroll 8
    for (int i = 0; i < kBlock / 4; ++i) {
      const __m512i xv = _mm512_load_si512(xb + i * 4 * kPanelLanes);
      #pragma GCC unroll 16
      for (int r = 0; r < RR; ++r) {
        int32_t word;
        __builtin_memcpy(&word, w + r * k + b * kBlock + i * 4, 4);
        dot[r] = _mm512_dpbusd_epi32(dot[r], xv, _mm512_set1_epi32(word));
      }
    }
    const __m512 dx = _mm512_load_ps(xd + b * kPanelLanes);
    #pragma GCC unroll 16
    for (int r = 0; r < RR; ++r)
      acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[r]), _mm512_mul_ps(dx, _mm512_set1_ps(dw[b * RR + r])), acc[r]);
    if constexpr (kMin) {
      const __m512 sx = _mm512_load_ps(xs + b * kPanelLanes);
      #pragma GCC unroll 16
      for (int r = 0; r < RR; ++r) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(mw[b * RR + r]), sx, acc[r]);
    }
  }
  #pragma GCC unroll 16
  for (int r = 0; r < RR; ++r) out[r] = acc[r];
}

template <class D>
void int8_panel_range(void* user, int64_t begin, int64_t end, int thread) {
  const PanelJob& pj = *static_cast<const PanelJob*>(user);
  const MatMulJob& j = *pj.job;
  const PackedActivations& a = pj.act;
  const int64_t blocks = a.blocks;
  std::byte* mine = pj.scratch + static_cast<uint64_t>(thread) * pj.scratch_per_thread;
  int8_t* w = reinterpret_cast<int8_t*>(mine);
  int32_t* start = reinterpret_cast<int32_t*>(w + kPanelRows * j.k);
  float* dw = reinterpret_cast<float*>(start + blocks * kPanelRows);
  float* mw = dw + blocks * kPanelRows;
  constexpr bool kMin = requires(const std::byte* q) { D::min(q); };
  for (int64_t t = begin; t < end; ++t) {
    const PanelTask p = panel_task(j, pj.row_groups, t);
    const int64_t rows = p.rows, batch = p.batch;
    const std::byte* w0 = p.w0;
    for (int r = 0; r < kPanelRows; ++r)
      for (int64_t b = 0; b < blocks; ++b) {
        int8_t* row = w + r * j.k + b * kBlock;
        if (r < rows) {
          const std::byte* block = w0 + static_cast<uint64_t>(r) * j.w_nb1 + b * D::kBytes;
          dw[b * kPanelRows + r] = D::decode(block, row);
          start[b * kPanelRows + r] = -128 * block_sum(row);
          if constexpr (kMin) mw[b * kPanelRows + r] = D::min(block);
        } else {  // padding rows: computed, never stored
          __builtin_memset(row, 0, kBlock);
          dw[b * kPanelRows + r] = 0.0f;
          start[b * kPanelRows + r] = 0;
          if constexpr (kMin) mw[b * kPanelRows + r] = 0.0f;
        }
      }
    for (int64_t g = 0; g < a.groups; ++g) {
      const uint64_t group = static_cast<uint64_t>(batch * a.groups + g);
      __m512 out[kPanelRows];
      const uint64_t scales = group * a.group_scales();
      int8_panel_tile<kPanelRows, kMin>(w, j.k, start, dw, mw, a.codes + group * a.group_codes(), a.scales + scales,
                                        kMin ? a.sums + scales : nullptr, blocks, out);
      store_panel(j, p, g, out);
    }
  }
}

template <class Row>
void run_panel(const MatMulJob& j, ThreadPool& pool) {
  PanelJob pj{};
  pj.job = &j;
  pj.row_groups = (j.m + kPanelRows - 1) / kPanelRows;
  const int64_t batches = j.c2 * j.c3;
  pj.act.blocks = j.k / kBlock;
  pj.act.groups = (j.n + kPanelLanes - 1) / kPanelLanes;
  const uint64_t groups = static_cast<uint64_t>(batches * pj.act.groups);
  const uint64_t code_bytes = groups * pj.act.group_codes();
  const uint64_t scale_bytes = groups * pj.act.group_scales() * sizeof(float);
  constexpr bool kMin = requires(const std::byte* q) { Row::min(q); };
  const uint64_t sum_bytes = kMin ? scale_bytes : 0;
  pj.scratch_per_thread = (static_cast<uint64_t>(kPanelRows) * static_cast<uint64_t>(j.k) +
                           static_cast<uint64_t>(pj.act.blocks) * kPanelRows * (sizeof(int32_t) + 2 * sizeof(float)) + 63) /
                          64 * 64;
  const uint64_t bytes = code_bytes + scale_bytes + sum_bytes + pj.scratch_per_thread * static_cast<uint64_t>(pool.size());
  // One allocation: codes, scales, sums, per-thread panels (64-byte aligned
  // parts). Padding columns read code 128 (x = 0) with scale and sum 0.
  std::byte* mem = static_cast<std::byte*>(::operator new(bytes, std::align_val_t{64}));
  pj.act.codes = reinterpret_cast<uint8_t*>(mem);
  pj.act.scales = reinterpret_cast<float*>(mem + code_bytes);
  pj.act.sums = kMin ? reinterpret_cast<float*>(mem + code_bytes + scale_bytes) : nullptr;
  pj.scratch = mem + code_bytes + scale_bytes + sum_bytes;
  if (j.n % kPanelLanes != 0) {
    __builtin_memset(pj.act.codes, 0x80, code_bytes);
    __builtin_memset(pj.act.scales, 0, scale_bytes + sum_bytes);
  }
  pool.parallel_for(batches * j.n, pack_range, &pj);
  pool.parallel_for(pj.row_groups * batches, int8_panel_range<Row>, &pj);
  ::operator delete(mem, std::align_val_t{64});
}

template <class D, class Row>
void run_int8(const MatMulJob& j, ThreadPool& pool) {
  if (j.n > kFusedMaxN) {  // prefill: int8 panels
    run_panel<Row>(j, pool);
    return;
  }
  Job jb{};
  jb.job = &j;
  jb.geo = geometry_of(j);
  const int64_t tasks = jb.geo.row_groups * j.c2 * j.c3;
  if (tasks == 0 || j.n == 0) return;
  jb.act.blocks = j.k / kBlock;  // rows are whole blocks
  jb.act.columns = j.n * j.c2 * j.c3;
  // One allocation per call: codes, scales, the code sums of Q4_1 / Q5_1,
  // and for Q4_0 / IQ4_NL the group layout and correction lanes. Raw
  // operator new: no library template is instantiated in this AVX-512 unit.
  constexpr bool q4 = requires { D::group(nullptr); };
  constexpr bool with_min = requires(const std::byte* q) { D::min(q); };
  const size_t values = static_cast<size_t>(jb.act.blocks * jb.act.columns);
  const size_t lanes = q4 ? values * 8 : 0;
  const size_t sums = with_min ? values : 0;
  const size_t grouped = q4 ? static_cast<size_t>(jb.act.groups() * jb.act.columns) : 0;
  const size_t bytes = values * (kBlock + sizeof(float)) + sums * sizeof(float) + lanes * sizeof(int32_t) +
                       grouped * 16 * (sizeof(int32_t) + sizeof(float)) + grouped * kGroupBlocks * kBlock;
  void* mem = ::operator new(bytes, std::align_val_t{64});
  jb.act.corr = static_cast<int32_t*>(mem);
  jb.act.corr8 = jb.act.corr + lanes;
  jb.act.d8 = reinterpret_cast<float*>(jb.act.corr8 + grouped * 16);
  jb.act.d = jb.act.d8 + grouped * 16;
  jb.act.s = with_min ? jb.act.d + values : nullptr;
  jb.act.q = reinterpret_cast<int8_t*>(jb.act.d + values + sums);
  jb.act.q8 = q4 ? jb.act.q + values * kBlock : nullptr;
  if constexpr (q4) jb.act.offset = D::kOffset;
  pool.parallel_for(jb.act.columns, quantize_range, &jb);
  pool.parallel_for(tasks, int_range<IntRows<D>>, &jb);
  ::operator delete(mem, std::align_val_t{64});
}

}  // namespace

MatMulFn vnni_kernel(int32_t dtype) {
  switch (dtype) {
    case TESSERA_DTYPE_Q4_0: return run_int8<IntQ4_0, RowQ4_0>;
    case TESSERA_DTYPE_Q8_0: return run_int8<IntQ8_0, RowOf<IntQ8_0>>;
    case TESSERA_DTYPE_Q4_1: return run_int8<IntQ4_1, RowOf<IntQ4_1>>;
    case TESSERA_DTYPE_Q5_0: return run_int8<IntQ5_0, RowOf<IntQ5_0>>;
    case TESSERA_DTYPE_Q5_1: return run_int8<IntQ5_1, RowOf<IntQ5_1>>;
    case TESSERA_DTYPE_IQ4_NL: return run_int8<IntIQ4_NL, RowOf<IntIQ4_NL>>;
    default: return nullptr;
  }
}

}  // namespace tessera::cpu::avx512
